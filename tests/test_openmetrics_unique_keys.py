"""`ingest openmetrics` writes each (metric, labels, time) once itself (the later line wins), so the
commit skips lake_dedup's own within-load scan (`load.keys_unique`, issue 15): the stored rows must
be exactly one per sample, with the later line's value, on both of the stream reader's writes."""
from __future__ import annotations

from datetime import datetime, timezone

from collectors.openmetrics import ingest_openmetrics

NOW = datetime(2026, 10, 1, tzinfo=timezone.utc)
T = 1788220800          # 2026-09-01T00:00:00Z


def _file(path, lines):
    path.write_text("# TYPE req counter\n" + "".join(lines) + "# EOF\n")
    return path


def test_a_sample_written_twice_is_stored_once_with_the_later_value(store, tmp_path):
    lines = [f'req_total{{service="a"}} {i * 10} {T + i * 15}\n' for i in range(6)]
    lines.insert(4, f'req_total{{service="a"}} 999 {T + 15}\n')     # t+15 again, later in the file
    out = ingest_openmetrics(store, _file(tmp_path / "dup.om", lines), now=NOW)
    assert out["rows"] == 6 and out["duplicate_samples"] == 1
    got = store.query("SELECT epoch(sampled_at)::BIGINT t, value FROM raw_telemetry ORDER BY 1").rows()
    assert got == [(T, 0.0), (T + 15, 999.0)] + [(T + i * 15, i * 10.0) for i in range(2, 6)]
    assert store.query("SELECT count(*) n FROM stg_telemetry")["n"][0] == 6


def test_distinct_samples_in_order_are_all_stored(store, tmp_path):
    lines = [f'req_total{{service="{s}"}} {i} {T + i * 15}\n' for i in range(50) for s in ("a", "b")]
    out = ingest_openmetrics(store, _file(tmp_path / "ok.om", lines), now=NOW)
    assert out["rows"] == 100 and out["duplicate_samples"] == 0
    got = store.query("SELECT service, count(*) n, sum(value) v FROM raw_telemetry GROUP BY 1 ORDER BY 1").rows()
    assert got == [("a", 50, float(sum(range(50)))), ("b", 50, float(sum(range(50))))]
