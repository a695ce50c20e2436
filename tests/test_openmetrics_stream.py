"""The streamed, vectorised OpenMetrics reader (issue 15) stores exactly what the line parser did.

Oracle: the line parser `parse()` plus `to_frame()` - the ingest path before issue 15, kept in
collectors/ - run on the same text. The stream is run with tiny chunks so that one file mixes
vectorised chunks, line-parsed chunks (exemplars, `_created`, odd spacing) and TYPE lines inside
chunks; bad input must raise the very error (message, line, column) the line parser raises.
"""
from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

import collectors.openmetrics_stream as oms
from collectors.openmetrics import ingest_openmetrics, is_openmetrics, parse, to_frame
from metrics.errors import InputError
from tests.conftest import SHARED

COLS = ["sampled_at", "metric", "metric_type", "labels", "labels_hash", "service", "model_version", "value",
        "series_start", "source"]
AT = 1_790_000_000.0


def oracle(path: Path, default_time=None) -> tuple[pl.DataFrame, dict]:
    text = path.read_text(encoding="utf-8")
    p = parse(text, str(path), is_openmetrics(path, text[:4096] + text[-64:]), default_time)
    stats: dict = {}
    frame = to_frame(p, path.name, None, "svc", stats, None)
    return frame, {"samples": frame.height, "exemplars_dropped": p.exemplars, "dcgm_blank_values": p.sentinels,
                   "created_series": len(p.created), "unattributed_rows": int(frame["service"].null_count()),
                   "non_finite_values": stats["non_finite_values"], "duplicate_samples": stats["duplicate_samples"],
                   "conflicting_duplicates": stats["conflicting_duplicates"]}


def stored(store) -> pl.DataFrame:
    df = store.query(f"SELECT {', '.join(COLS)} FROM raw_telemetry")
    return df.sort(["metric", "labels_hash", "sampled_at"])


def same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    a = a.select(COLS).with_columns(pl.col(c).cast(pl.String) for c in COLS[1:7] + ["source"])
    a = a.sort(["metric", "labels_hash", "sampled_at"])
    assert a.height == b.height
    assert a.drop("value").equals(b.drop("value"))
    for x, y in zip(a["value"].to_list(), b["value"].to_list()):
        assert x == y or (x is None and y is None) or (math.isnan(x) and math.isnan(y)), (x, y)


def ingest_and_compare(store, path: Path, default_time=None) -> tuple[dict, dict]:
    """Ingest `path` through the streamed reader and check it stored exactly what the line parser
    gives (rows and load details); returns (ingest result, the line parser's details)."""
    frame, details = oracle(path, default_time)
    out = ingest_openmetrics(store, path, default_time=default_time, service="svc")
    same(frame, stored(store))
    assert {k: out[k] for k in details} == details
    return out, details


@pytest.fixture(params=[100, 1 << 20])
def chunk(request, monkeypatch):
    monkeypatch.setattr(oms, "CHUNK_BYTES", request.param)
    return request.param


MIXED = """# HELP req Requests.
# TYPE req counter
req_total{service="a",code="200"} 1 1790000000
req_total{service="a",code="200"} 3 1790000015
req_total{ code="200", service="a" } 4 1790000015
lat_bucket{service="a",le="+Inf"} 2 1790000015
# TYPE lat histogram
lat_bucket{service="a",le="+Inf"} 5 1790000030
lat_bucket{service="a",le="0.5"} 1 1790000030 # {trace_id="x"} 0.2 1790000029
req_created{service="a",code="200"} 1789999990 1790000030
g{service="a",s="q\\"uote}"} NaN 1790000030
g{service="a",s="q\\"uote}"} +Inf 1790000045
g{service="a",s="q\\"uote}"} 1e400 1790000060
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1"} 9223372036854775794 1790000030
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1"} 40 1790000045
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1"} 2147483632 1790000060
late_total{service="a"} 2 1790000060
late_total{service="a"}  3   1790000075
req_total{service="a",code="200"} 9 1790000090
req_total{service="a",code="200"} 8 1790000090
plain 1.5 1790000090
# EOF
"""


def test_mixed_features_store_what_the_line_parser_stores(store, tmp_path, chunk):
    path = tmp_path / "mixed.om"
    path.write_text(MIXED)
    _, details = ingest_and_compare(store, path)
    assert details["duplicate_samples"] == 2 and details["conflicting_duplicates"] == 2


def test_classic_format_crlf_and_scrape_time(store, tmp_path, chunk):
    path = tmp_path / "scrape.prom"
    path.write_bytes(b"# TYPE x counter\r\nx_total{service=\"a\"} 5\r\nx_total{service=\"b\"} 7\r\n"
                     b"y{service=\"a\"} -2\r\n")
    ingest_and_compare(store, path, AT)


@pytest.mark.parametrize("name", ["gpu-serving-capture/telemetry.om", "prometheus/model-servers/vllm_metrics.txt",
                                  "prometheus/model-servers/triton_metrics.txt",
                                  "prometheus/model-servers/torchserve_metrics_api_example.prom",
                                  "prometheus/exposition/alltypes.5mfs.om.txt",
                                  "prometheus/exposition/alltypes.237mfs.prom.txt"])
def test_real_files(store, name, monkeypatch):
    monkeypatch.setattr(oms, "CHUNK_BYTES", 4096)
    path = SHARED / name
    ingest_and_compare(store, path, AT)


def test_generated_file_takes_the_vectorised_path(store, tmp_path, monkeypatch):
    monkeypatch.setattr(oms, "CHUNK_BYTES", 2000)
    lines = ["# TYPE inference_requests_total counter"]
    for i in range(300):
        for v in ("v1", "v2"):
            lines.append(f'inference_requests_total{{service="s",model_version="{v}",status="200"}} {i * 3} '
                         f"{1790000000 + 15 * i}")
        lines.append(f'inference_queue_depth{{service="s"}} {i % 7}.25 {1790000000 + 15 * i}')
    path = tmp_path / "gen.om"
    path.write_text("\n".join(lines) + "\n# EOF\n")
    seen = []
    real = oms.StreamReader._slow
    monkeypatch.setattr(oms.StreamReader, "_slow", lambda self, ls, first: (seen.append(first), real(self, ls, first)))
    ingest_and_compare(store, path)
    assert seen == []                                  # no chunk needed the line parser


BAD = [
    ("late garbage", MIXED.replace("plain 1.5 1790000090", "plain 1.5 17900x0090")),
    ("negative counter", MIXED.replace("} 9 1790000090", "} -9 1790000090")),
    ("bad type", MIXED.replace("# TYPE lat histogram", "# TYPE lat histo")),
    ("content after eof", MIXED + "x 1 2\n"),
    ("truncated", MIXED.replace("# EOF\n", "")),
    ("bad labels", MIXED.replace('late_total{service="a"} 2', 'late_total{service=a} 2')),
    ("time out of range", MIXED.replace("1790000075", "99999999999999")),
]


@pytest.mark.parametrize("case", [b[0] for b in BAD])
def test_errors_are_the_line_parsers(store, tmp_path, chunk, case):
    text = dict(BAD)[case]
    path = tmp_path / "bad.om"
    path.write_text(text)
    with pytest.raises(InputError) as want:
        parse(text, str(path), True)
    with pytest.raises(InputError) as got:
        ingest_openmetrics(store, path, service="svc")
    assert str(got.value) == str(want.value)
    assert store.query("SELECT count(*) n FROM raw_telemetry")["n"][0] == 0


def test_bad_utf8_after_a_bad_line_is_reported_first(store, tmp_path, monkeypatch):
    monkeypatch.setattr(oms, "CHUNK_BYTES", 100)
    head = MIXED.replace("plain 1.5 1790000090", "plain x 1790000090").encode()
    path = tmp_path / "bad.om"
    path.write_bytes(head + b"z 1 1790000090\n" * 10 + b"\xff\n# EOF\n")
    with pytest.raises(InputError, match=rf"not UTF-8 text \(byte {len(head) + 150}\)"):
        ingest_openmetrics(store, path, service="svc")


def test_type_lines_inside_a_chunk_split_it_where_the_line_parser_changes_its_mind(store, tmp_path, monkeypatch):
    # `lat_bucket` first seen untyped (its own family), then typed: a new series seen after the TYPE
    # line belongs to family `lat`; `q_total` is a gauge at first (may be negative), then a counter
    text = ('lat_bucket{service="a",le="1"} 1 1790000000\n'
            'q_total{service="a"} -1 1790000000\n'
            "# TYPE lat histogram\n# HELP lat Latency.\n"
            'lat_bucket{service="a",le="1"} 2 1790000015\n'
            'lat_bucket{service="a",le="+Inf"} 3 1790000015\n'
            "# TYPE q gauge\n"
            'q_total{service="a"} -2 1790000015\n'
            "# TYPE q counter\n"
            'q_total{service="a"} 2 1790000030\n# EOF\n')
    path = tmp_path / "types.om"
    path.write_text(text)
    seen = []
    real = oms.StreamReader._slow
    monkeypatch.setattr(oms.StreamReader, "_slow", lambda self, ls, first: (seen.append(first), real(self, ls, first)))
    ingest_and_compare(store, path)
    assert seen == []
    types = dict(store.query("SELECT labels, any_value(metric_type) t FROM raw_telemetry "
                             "WHERE metric = 'lat_bucket' GROUP BY 1").iter_rows())
    assert types == {'{"le":"1","service":"a"}': "unknown", '{"le":"+Inf","service":"a"}': "histogram"}
    # a series first seen after `# TYPE q counter` is a counter: negative is refused (the first
    # q_total series kept the family it had when first seen, so its -1 and -2 were fine)
    bad = text.replace('q_total{service="a"} 2 1790000030', 'q_total{service="b"} -2 1790000030')
    path.write_text(bad)
    with pytest.raises(InputError) as want:
        parse(bad, str(path), True)
    with pytest.raises(InputError) as got:
        ingest_openmetrics(store, path, service="svc")
    assert str(got.value) == str(want.value) and "line 10" in str(got.value)
