"""Offline telemetry: OpenMetrics import, request logs and the telemetry summary on the real capture.

Expected values are computed here from requests.csv / gpu_nvml.csv with plain Python, never from
the code under test.
"""
from __future__ import annotations

import csv
import json
import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from metrics.errors import InputError

SERVICE = "assistant-api"
PRICE = Decimal("2.50")


# ---- facts computed independently ---------------------------------------------------------
def request_facts(shared: Path) -> dict:
    by: dict[str, list[float]] = {}
    with open(shared / "gpu-serving-capture" / "requests.csv") as fh:
        for row in csv.DictReader(fh):
            by.setdefault(row["model_version"], []).append(float(row["finished_at"]) - float(row["arrived_at"]))
    return {v: {"requests": len(x), "median": statistics.median(x)} for v, x in by.items()}


def nvml_facts(shared: Path) -> dict:
    with open(shared / "gpu-serving-capture" / "gpu_nvml.csv") as fh:
        rows = [(float(r["ts"]), float(r["gpu_util_pct"]), float(r["energy_j"])) for r in csv.DictReader(fh)]
    busy = sum(u / 100 * (t - rows[i - 1][0]) for i, (t, u, _) in enumerate(rows) if i)
    observed = rows[-1][0] - rows[0][0]
    with open(shared / "gpu-serving-capture" / "requests.csv") as fh:
        last_request = max(float(r["finished_at"]) for r in csv.DictReader(fh))
    last_busy = max(t for t, u, _ in rows if u > 0)
    tail_start = max(last_request, last_busy)
    return {"busy": busy, "observed": observed, "energy_j": rows[-1][2] - rows[0][2],
            "start": rows[0][0], "end": rows[-1][0], "tail_start": tail_start}


def bucket_bounds(shared: Path) -> list[float]:
    text = (shared / "gpu-serving-capture" / "telemetry.om").read_text()
    les = set()
    for line in text.splitlines():
        if line.startswith("inference_request_duration_seconds_bucket"):
            les.add(line.split('le="')[1].split('"')[0])
    return sorted(float(x) for x in les)


def same_bucket(a: float, b: float, bounds: list[float]) -> bool:
    idx = lambda x: next(i for i, le in enumerate(bounds) if x <= le)  # noqa: E731
    return idx(a) == idx(b)


@pytest.fixture(scope="module")
def capture_store(tmp_path_factory, shared):
    from metrics.store import Store
    from collectors.openmetrics import ingest_openmetrics

    store = Store(tmp_path_factory.mktemp("capture") / "t.duckdb").ensure()
    ingest_openmetrics(store, shared / "gpu-serving-capture" / "telemetry.om")
    return store


def config(**extra):
    from metrics.config import parse_settings

    return parse_settings({"pricing": {"gpu_hour": str(PRICE)}, **extra})


def test_capture_summary_matches_request_log_facts(capture_store, shared):
    from metrics.telemetry import telemetry_summary

    facts = request_facts(shared)
    bounds = bucket_bounds(shared)
    s = telemetry_summary(capture_store, config(), SERVICE)
    v = {x["model_version"]: x for x in s["versions"]}
    assert set(v) == {"ranker-v41", "ranker-v42"}
    for name in v:
        assert v[name]["requests"] == facts[name]["requests"]
        assert v[name]["error_rate"] == 0.0
        assert same_bucket(v[name]["latency_p50_s"], facts[name]["median"], bounds)
    assert facts["ranker-v41"]["requests"] == 4225 and facts["ranker-v42"]["requests"] == 1528
    assert v["ranker-v42"]["latency_p50_s"] > v["ranker-v41"]["latency_p50_s"]
    assert v["ranker-v42"]["latency_p95_s"] > v["ranker-v41"]["latency_p95_s"]
    assert v["ranker-v42"]["gpu_seconds_per_request"] > v["ranker-v41"]["gpu_seconds_per_request"]
    assert v["ranker-v42"]["energy_j_per_request"] > v["ranker-v41"]["energy_j_per_request"]


def test_capture_gpu_time_energy_and_idle_cost_add_up(capture_store, shared):
    from metrics.telemetry import telemetry_summary

    nv = nvml_facts(shared)
    s = telemetry_summary(capture_store, config(), SERVICE)
    busy = sum(x["gpu_seconds"] for x in s["versions"]) + s["unattributed_gpu_seconds"]
    assert busy == pytest.approx(nv["busy"], rel=0.005)
    assert s["observed_gpu_seconds"] == pytest.approx(nv["observed"], rel=0.005)
    assert s["idle_gpu_seconds"] == pytest.approx(nv["observed"] - nv["busy"], rel=0.005)
    energy = sum(x["energy_j"] for x in s["versions"]) + s["idle_energy_j"]
    assert energy == pytest.approx(nv["energy_j"], rel=0.001)
    # money: exact Decimal from the config price; versions + idle = everything paid for
    assert float(s["idle_cost"]) == pytest.approx(float(PRICE) * s["idle_gpu_seconds"] / 3600, rel=1e-9)
    paid = sum(x["cost"] for x in s["versions"]) + s["idle_cost"] + s["unattributed_cost"]
    assert float(paid) == pytest.approx(float(PRICE) * s["observed_gpu_seconds"] / 3600, rel=1e-9)
    assert isinstance(s["idle_cost"], Decimal)


def test_idle_tail_is_reported_as_idle_cost(capture_store, shared):
    from datetime import datetime, timezone
    from metrics.telemetry import telemetry_summary

    nv = nvml_facts(shared)
    assert nv["end"] - nv["tail_start"] > 30          # the capture does end with an idle tail
    start = datetime.fromtimestamp(nv["tail_start"] + 1, tz=timezone.utc)   # after the last request
    s = telemetry_summary(capture_store, config(), SERVICE, start=start)
    assert all(x["requests"] == 0 for x in s["versions"])
    assert all((x["gpu_seconds"] or 0) == pytest.approx(0, abs=1e-9) for x in s["versions"])
    assert s["idle_energy_j"] > 0
    tail = nv["end"] - (nv["tail_start"] + 1)
    assert s["idle_gpu_seconds"] == pytest.approx(tail, abs=1.5)
    assert s["idle_cost"] > 0
    assert float(s["idle_cost"]) == pytest.approx(float(PRICE) * s["idle_gpu_seconds"] / 3600)


def test_cli_ingest_and_summary_json(run_cli, tmp_path, shared):
    (tmp_path / "onepane.toml").write_text(f'[pricing]\ngpu_hour = "{PRICE}"\n')
    om = shared / "gpu-serving-capture" / "telemetry.om"
    r = run_cli("ingest", "openmetrics", om, check=True)
    assert "15632 samples loaded" in r.stdout
    r2 = run_cli("ingest", "openmetrics", om, check=True)
    assert "already loaded" in r2.stdout
    out = run_cli("telemetry", "summary", "--service", SERVICE, "--format", "json", check=True)
    data = json.loads(out.stdout)
    assert data["service"] == SERVICE
    assert {v["model_version"]: v["requests"] for v in data["versions"]} == {"ranker-v41": 4225, "ranker-v42": 1528}
    for v in data["versions"]:
        for key in ("requests", "error_rate", "latency_p50_s", "latency_p95_s", "gpu_seconds",
                    "gpu_seconds_per_request", "energy_j_per_request", "fallback_rate", "cost",
                    "cost_per_request"):
            assert key in v
    assert data["idle_gpu_seconds"] > 0 and Decimal(data["idle_cost"]) > 0
    table = run_cli("telemetry", "summary", "--service", SERVICE, check=True).stdout
    assert "ranker-v42" in table and "(idle, paid)" in table


# ---- parser: real exposition files ------------------------------------------------------------
def test_dcgm_readme_sentinel_becomes_null_and_spaces_after_commas(store, shared):
    from collectors.openmetrics import ingest_openmetrics

    r = ingest_openmetrics(store, shared / "dcgm" / "readme_metrics_excerpt.prom", default_time=1795527966)
    assert r["rows"] == 3 and r["dcgm_blank_values"] == 1
    rows = {m: (v, json.loads(lb)) for m, v, lb in store.query(
        "SELECT metric, value, labels FROM raw_telemetry").rows()}
    assert rows["DCGM_FI_DEV_MEMORY_TEMP"][0] is None
    assert rows["DCGM_FI_DEV_SM_CLOCK"][0] == 139.0
    assert rows["DCGM_FI_DEV_SM_CLOCK"][1] == {"gpu": "0", "UUID": "GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52"}


def _count_samples(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.startswith("#"))


def test_datadog_dcgm_fixture(shared):
    from collectors.openmetrics import parse

    text = (shared / "dcgm" / "datadog_dcgm_metrics.txt").read_text()
    p = parse(text, "datadog", default_time=0.0)
    assert len(p.metric) == _count_samples(text) == 38
    last = p.labels[-1]
    assert last["pod"] == "ray-1111111" and last["namespace"] == "ray-llm"
    energy = [v for m, v in zip(p.metric, p.value) if m == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"]
    assert energy[0] == 128996013.0


def test_openmetrics_alltypes_exemplars_created_negative_buckets(shared):
    from collectors.openmetrics import parse

    text = (shared / "prometheus" / "exposition" / "alltypes.5mfs.om.txt").read_text()
    p = parse(text, "om", default_time=0.0)
    created = sum(1 for line in text.splitlines() if line.split("{")[0].split(" ")[0].endswith("_created"))
    exemplars = sum(1 for line in text.splitlines() if not line.startswith("#") and " # {" in line)
    assert created > 0 and exemplars > 0
    assert len(p.metric) == _count_samples(text) - created
    assert p.exemplars == exemplars
    assert not any(m.endswith("_created") for m in p.metric)
    assert any(lb.get("le") == "-0.00099" for lb in p.labels)
    assert p.labels[p.metric.index("go_build_info")] == {"checksum": "", "path": "", "version": ""}


@pytest.mark.parametrize("path", ["prometheus/exposition/alltypes.237mfs.prom.txt",
                                  "prometheus/model-servers/vllm_metrics.txt",
                                  "prometheus/model-servers/triton_metrics.txt",
                                  "prometheus/model-servers/torchserve_metrics_api_example.prom"])
def test_real_scrapes_parse_every_sample(shared, path):
    from collectors.openmetrics import parse

    text = (shared / path).read_text()
    p = parse(text, path, default_time=0.0)
    assert len(p.metric) == _count_samples(text)
    if "vllm" in path:
        assert "vllm:e2e_request_latency_seconds_bucket" in p.metric
    if "torchserve" in path:
        assert any(lb.get("model_name") == "resnet18" for lb in p.labels)


def test_label_escapes_nan_inf_and_ms_timestamps():
    from collectors.openmetrics import parse

    text = ('m{a="x\\"y", b="c\\\\d",c="l1\\nl2",} NaN 1700000000000\n'
            'm{a="2"} +Inf 1700000001000\nm{a="3"} -Inf 1700000002000\n'
            'big 9223372036854775792 1700000003000\n\n'
            'plain_total 3 1700000004000 # {trace_id="x # y"} 1 1700000004.5\n')
    p = parse(text, "t", openmetrics=False)
    assert p.labels[0] == {"a": 'x"y', "b": "c\\d", "c": "l1\nl2"}
    assert p.value[0] != p.value[0] and p.value[1] == float("inf") and p.value[2] == float("-inf")
    assert p.sampled_at[:3] == [1700000000.0, 1700000001.0, 1700000002.0]
    assert p.value[3] is None and p.sentinels == 1
    assert p.metric[4] == "plain_total" and p.value[4] == 3.0 and p.exemplars == 1


# ---- bad input: clear error, nothing written ---------------------------------------------------
def test_truncated_capture_is_rejected_and_nothing_is_written(store, shared, tmp_path):
    from collectors.openmetrics import ingest_openmetrics

    data = (shared / "gpu-serving-capture" / "telemetry.om").read_bytes()
    cut = tmp_path / "cut.om"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as e:
        ingest_openmetrics(store, cut)
    assert "cut.om" in str(e.value) and e.value.line is not None
    assert store.query("SELECT count(*) n FROM raw_telemetry")["n"][0] == 0
    runs = store.query("SELECT status, error FROM _onepane_loads WHERE target_table = 'raw_telemetry'")
    assert runs["status"].to_list() == ["failed"] and "cut.om" in runs["error"][0]


def test_garbled_line_names_file_line_and_column(store, shared, tmp_path, run_cli):
    lines = (shared / "gpu-serving-capture" / "telemetry.om").read_text().splitlines(keepends=True)
    lines[99] = lines[99].replace("} ", "} twelve ", 1)
    bad = tmp_path / "garbled.om"
    bad.write_text("".join(lines))
    r = run_cli("ingest", "openmetrics", bad, "--db", tmp_path / "x.duckdb")
    assert r.returncode == 1
    assert "garbled.om, line 100" in r.stderr and "value" in r.stderr
    n = run_cli("sql", "select count(*) as n from raw_telemetry", "--format", "json",
                "--db", tmp_path / "x.duckdb", check=True)
    assert json.loads(n.stdout) == [{"n": 0}]


# ---- GPU attribution ---------------------------------------------------------------------------
TWO_SERVICES = """# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{UUID="GPU-a",Hostname="h1",gpu="0"} 50 100.0
DCGM_FI_DEV_GPU_UTIL{UUID="GPU-b",Hostname="h2",gpu="0"} 20 100.0
DCGM_FI_DEV_GPU_UTIL{UUID="GPU-a",Hostname="h1",gpu="0"} 50 110.0
DCGM_FI_DEV_GPU_UTIL{UUID="GPU-b",Hostname="h2",gpu="0"} 20 110.0
# TYPE inference_requests counter
inference_requests_total{service="a",model_version="1",status="200"} 0 100.0
inference_requests_total{service="b",model_version="1",status="200"} 0 100.0
inference_requests_total{service="a",model_version="1",status="200"} 10 110.0
inference_requests_total{service="b",model_version="1",status="500"} 4 110.0
inference_requests_total{service="b",model_version="1",status="200"} 4 110.0
# EOF
"""


def test_gpus_are_attributed_by_config_or_left_unattributed(store, tmp_path):
    from collectors.openmetrics import ingest_openmetrics
    from metrics.telemetry import telemetry_summary

    f = tmp_path / "two.om"
    f.write_text(TWO_SERVICES)
    cfg = config(services=[{"name": "a", "gpus": ["GPU-a"]}, {"name": "b", "gpus": ["h2"]}])
    ingest_openmetrics(store, f, cfg)
    a = telemetry_summary(store, cfg, "a")
    b = telemetry_summary(store, cfg, "b")
    assert a["versions"][0]["gpu_seconds"] == pytest.approx(0.5 * 10)
    assert b["versions"][0]["gpu_seconds"] == pytest.approx(0.2 * 10)
    assert b["versions"][0]["error_rate"] == pytest.approx(4 / 8)
    # without a mapping two services share the file: the GPUs stay unattributed
    other = tmp_path / "other.om"
    other.write_text(TWO_SERVICES.replace("GPU-", "GPU-x"))
    from metrics.store import Store
    s2 = Store(tmp_path / "s2.duckdb").ensure()
    ingest_openmetrics(s2, other, config())
    owners = s2.query("SELECT DISTINCT service FROM raw_telemetry WHERE metric LIKE 'DCGM%'")
    assert owners["service"].to_list() == [None]


# ---- request logs ------------------------------------------------------------------------------
def test_ingest_capture_request_log(store, shared):
    from collectors.requests import ingest_requests

    facts = request_facts(shared)
    r = ingest_requests(store, shared / "gpu-serving-capture" / "requests.csv", service=SERVICE)
    assert r["rows"] == 5753
    again = ingest_requests(store, shared / "gpu-serving-capture" / "requests.csv", service=SERVICE)
    assert again["skipped"]
    got = store.query("SELECT model_version, count(*) n, median(latency_s) med FROM stg_requests GROUP BY 1")
    for mv, n, med in got.rows():
        assert n == facts[mv]["requests"]
        assert med == pytest.approx(facts[mv]["median"], abs=1e-6)


def test_request_log_fallback_path_and_bad_time(store, tmp_path):
    from collectors.requests import ingest_requests
    from metrics.telemetry import telemetry_summary

    good = tmp_path / "req.csv"
    good.write_text("timestamp,service,model_version,status,latency_ms,answered_by\n"
                    "2026-01-01T00:00:00Z,svc,v1,200,120,model\n"
                    "2026-01-01T00:00:01Z,svc,v1,200,80,fallback\n"
                    "2026-01-01T00:00:02Z,svc,v1,200,90,abstain\n"
                    "2026-01-01T00:00:03Z,svc,v1,200,100,model\n")
    ingest_requests(store, good)
    fb = store.query("SELECT sum(requests) r, sum(fallbacks) f, sum(abstains) a FROM stg_fallbacks "
                     "WHERE service = 'svc'")
    assert fb.row(0) == (4, 1, 1)
    lat = store.query("SELECT latency_s FROM stg_requests ORDER BY arrived_at")["latency_s"].to_list()
    assert lat == [0.12, 0.08, 0.09, 0.1]
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,service,model_version\n2026-01-01T00:00:00Z,svc,v1\nyesterday,svc,v1\n")
    with pytest.raises(InputError) as e:
        ingest_requests(store, bad)
    assert e.value.line == 3 and e.value.column == "timestamp"
    assert store.query("SELECT count(*) n FROM stg_requests")["n"][0] == 4


FALLBACKS = """# TYPE inference_requests counter
inference_requests_total{service="s",model_version="a",status="200"} 0 60.0
inference_requests_total{service="s",model_version="a",status="200"} 90 120.0
inference_requests_total{service="s",model_version="a",status="503"} 0 60.0
inference_requests_total{service="s",model_version="a",status="503"} 10 120.0
# TYPE inference_fallback counter
inference_fallback_total{service="s",model_version="a"} 0 60.0
inference_fallback_total{service="s",model_version="a"} 25 120.0
# EOF
"""


def test_fallback_rate_and_error_rate_from_counters(store, tmp_path):
    from collectors.openmetrics import ingest_openmetrics
    from metrics.telemetry import telemetry_summary

    f = tmp_path / "fb.om"
    f.write_text(FALLBACKS)
    ingest_openmetrics(store, f)
    v = telemetry_summary(store, config(), "s")["versions"][0]
    assert v["requests"] == 100 and v["error_rate"] == pytest.approx(0.10)
    assert v["fallback_rate"] == pytest.approx(0.25)
    series = store.query("SELECT minute, requests, fallbacks FROM stg_fallbacks WHERE service = 's' "
                         "AND source_kind = 'telemetry' AND requests > 0")
    assert series.rows() == [(series["minute"][0], 100.0, 25.0)]


def test_parquet_request_log_and_configured_sources(tmp_path, run_cli, shared):
    import polars as pl

    pq = tmp_path / "req.parquet"
    pl.DataFrame({"ts": [1795527966.5, 1795527967.5], "service": ["svc", "svc"], "model": ["m1", "m1"],
                  "status_code": [200, 500], "duration_s": [0.25, 0.5], "is_fallback": [False, True]}
                 ).write_parquet(pq)
    (tmp_path / "onepane.toml").write_text(f"""
[[source]]
name = "capture"
type = "openmetrics"
paths = ["{shared / 'gpu-serving-capture' / 'telemetry.om'}"]

[[source]]
name = "logs"
type = "requests"
paths = ["{pq}"]

[[source]]
name = "broken"
type = "openmetrics"
paths = ["{tmp_path / 'missing-*.om'}"]
""")
    r = run_cli("collect")
    assert r.returncode == 1 and "broken" in r.stderr
    out = json.loads(run_cli("sql", "select service, model_version, status, latency_s, fallback from stg_requests "
                             "order by arrived_at", "--format", "json", check=True).stdout)
    assert out == [{"service": "svc", "model_version": "m1", "status": "200", "latency_s": 0.25, "fallback": False},
                   {"service": "svc", "model_version": "m1", "status": "500", "latency_s": 0.5, "fallback": True}]
    s = json.loads(run_cli("telemetry", "summary", "--service", SERVICE, "--format", "json", check=True).stdout)
    assert sum(v["requests"] for v in s["versions"]) == 5753
    loads = json.loads(run_cli("sql", "select source, status from _onepane_loads order by source",
                               "--format", "json", check=True).stdout)
    assert [x for x in loads if x["source"] != "onepane.toml"] == [
        {"source": "broken", "status": "failed"}, {"source": "capture", "status": "ok"},
        {"source": "logs", "status": "ok"}]


def test_dcgm_blank_inside_a_counter_does_not_break_its_increase(store, tmp_path):
    from collectors.openmetrics import ingest_openmetrics

    f = tmp_path / "blank.om"
    f.write_text("# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n"
                 + "".join(f'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total{{UUID="GPU-1"}} {v} {t}.0\n'
                           for v, t in ((1000, 10), (2000, 11), (9223372036854775794, 12), (4000, 13)))
                 + "# EOF\n")
    ingest_openmetrics(store, f)
    inc = store.query("SELECT sampled_at, value, increase FROM stg_telemetry_delta ORDER BY sampled_at")
    assert inc["value"].to_list() == [1000, 2000, None, 4000]
    assert sum(x for x in inc["increase"].to_list() if x is not None) == 3000


def test_minute_views_add_up_to_the_summary(capture_store):
    from metrics.telemetry import telemetry_summary

    s = telemetry_summary(capture_store, config(), SERVICE)
    tech = capture_store.query("SELECT model_version, sum(requests) r FROM stg_technical_minute "
                               "WHERE service = ? GROUP BY 1", [SERVICE])
    assert dict(tech.rows()) == {v["model_version"]: v["requests"] for v in s["versions"]}
    gpu = capture_store.query("SELECT model_version, sum(gpu_seconds) g, sum(idle_gpu_seconds) i "
                              "FROM stg_gpu_minute WHERE service = ? GROUP BY 1", [SERVICE])
    per = {mv: g for mv, g, _ in gpu.rows()}
    for v in s["versions"]:
        assert per[v["model_version"]] == pytest.approx(v["gpu_seconds"], rel=1e-9)
    assert sum(i for _, _, i in gpu.rows()) == pytest.approx(s["idle_gpu_seconds"], rel=1e-9)


def test_energy_from_power_when_no_energy_counter(store, tmp_path, shared):
    """Drop the energy counter from the capture: power x dt gives the same energy within 1%."""
    from collectors.openmetrics import ingest_openmetrics
    from metrics.telemetry import telemetry_summary

    text = (shared / "gpu-serving-capture" / "telemetry.om").read_text()
    f = tmp_path / "no-energy.om"
    f.write_text("\n".join(x for x in text.splitlines() if "TOTAL_ENERGY" not in x) + "\n")
    ingest_openmetrics(store, f)
    s = telemetry_summary(store, config(), SERVICE)
    energy = sum(v["energy_j"] for v in s["versions"]) + s["idle_energy_j"]
    assert energy == pytest.approx(nvml_facts(shared)["energy_j"], rel=0.01)


def test_label_parsing_round_trips():
    from hypothesis import given, settings, strategies as st

    from collectors.openmetrics import parse

    names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True)
    values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=20)

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(names, values, max_size=5), st.floats(allow_nan=False, width=64),
           st.booleans())
    def check(labels, value, spaces):
        esc = lambda v: v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")  # noqa: E731
        sep = ", " if spaces else ","
        line = "m{" + sep.join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}" + f" {value!r} 1.5\n# EOF\n"
        p = parse(line, "h")
        assert p.labels == [labels]
        expected = None if value >= 9.2233720368547e18 and value != float("inf") else value
        assert p.value == [expected] and p.sampled_at == [1.5]

    check()


def test_gpu_price_from_a_billed_gpu_line_when_config_has_none(capture_store, tmp_path):
    """No [pricing] gpu_hour: the billing layer's price from billed GPU hours is used (exact Decimal)."""
    from collectors.billing import ingest_billing
    from metrics.config import parse_settings
    from metrics.telemetry import telemetry_summary
    from tests.billing_helpers import FOCUS_HEADER, focus_row, write_csv

    header = FOCUS_HEADER + ["PricingQuantity", "PricingUnit", "SkuId"]
    ingest_billing(capture_store, [write_csv(tmp_path / "gpu.csv", [focus_row("9.00") + ["3", "Hours", "H100"]], header)])
    s = telemetry_summary(capture_store, parse_settings({}), SERVICE)
    assert s["gpu_hour_price"] == Decimal("3") and s["currency"] == "USD"
    expected = Decimal(repr(s["idle_gpu_seconds"])) * Decimal("3") / 3600
    assert abs(s["idle_cost"] - expected) < Decimal("1e-15")
