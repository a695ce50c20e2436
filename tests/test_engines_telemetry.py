"""Counter increases and rollups (issue 15's filter-first SQL) on DuckDB and on ClickHouse's engine
(chdb): a small store whose every number is written out by hand below.

Service a: request counters per status (a `status` label and a `code` label), one series whose
first sample was observed starting (`series_start`, so it counts) and one whose was not (0), a
reset, a NaN, a re-collected sample corrected by a newer load, a latency histogram and a GPU
gauge. Service b: a counter silent for more than a day (its previous value is the `far` carry of
requests_daily) and request logs. Every staged view and page query is run by `engines compare`
over the whole range and over a window that starts inside the series (`@inside`).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from metrics import queries
from metrics.engines.clickhouse import ChdbEngine
from metrics.engines.compare import TOLERANCE, compare
from metrics.lake import Load
from metrics.store import Store

T0 = datetime(2026, 9, 1, tzinfo=timezone.utc)
NAN = float("nan")
# (hours after T0, value); day 1 = hours 0-23, day 2 = 24-47, day 3 = 48-71
A200 = [(0, 10), (6, 30), (12, 50), (18, 5), (24, 25), (30, 40), (42, 70)]   # reset at 18
A503 = [(0, 2), (12, 3), (24, 1), (30, NAN), (36, 4), (42, 6)]                # reset at 24, NaN at 30
A200_AGAIN = [(42, 72), (48, 80)]          # a newer load: hour 42 re-collected (corrected), one more
B200 = [(0, 100), (2, 110), (60, 130)]     # silent from hour 2 to hour 60
BUCKETS = {"0.1": [(0, 0), (12, 4), (24, 8), (36, 10)], "0.5": [(0, 0), (12, 8), (24, 12), (36, 16)],
           "+Inf": [(0, 0), (12, 10), (24, 16), (36, 20)]}
GPU = [(0, 50.0), (12, 70.0), (12 + 15 / 3600, 60.0), (24, 20.0), (36, 40.0)]   # 15 s apart once


def _rows(metric, labels, series, service, points, mtype="counter", start=None):
    return [{"sampled_at": T0 + timedelta(hours=h), "metric": metric, "labels": json.dumps(labels),
             "labels_hash": series, "service": service, "model_version": "v1" if service else None,
             "value": float(v), "metric_type": mtype, "series_start": start if i == 0 else None,
             "source": "test"} for i, (h, v) in enumerate(points)]


def _load(store, table, rows, scope):
    with Load(store, table, collector="test", source="test") as load:
        load.write(pl.DataFrame(rows, infer_schema_length=None), scope=scope)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("engtel") / "t.duckdb").ensure()
    rows = (_rows("inference_requests_total", {"status": "200"}, "a200", "a", A200, start=True)
            + _rows("inference_requests_total", {"code": "503"}, "a503", "a", A503)
            + _rows("inference_requests_total", {"status": "200"}, "b200", "b", B200)
            + [r for le, pts in BUCKETS.items()
               for r in _rows("inference_request_duration_seconds_bucket", {"le": le}, f"le{le}", "a", pts)]
            + _rows("DCGM_FI_DEV_GPU_UTIL", {"gpu": "0"}, "gpu0", "a", GPU, mtype="gauge"))
    _load(s, "raw_telemetry", rows, "first")
    _load(s, "raw_telemetry", _rows("inference_requests_total", {"status": "200"}, "a200", "a", A200_AGAIN), "again")
    logs = [{"request_id": f"r{i}", "arrived_at": T0 + timedelta(hours=h), "service": "b", "model_version": "v2",
             "status": status, "latency_s": lat, "source": "test"}
            for i, (h, status, lat) in enumerate([(1, "200", 0.2), (3, "500", 0.4), (5, "200", 0.1),
                                                  (26, "200", 0.3)])]
    _load(s, "raw_requests", logs, "logs")
    return s


def _both(store, engine, name, params):
    sql = queries._drop_unused(queries.sql_text(name), params)
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    used = {k: v for k, v in params.items() if f"${k}" in code}
    return store.query(sql, used), engine.query(sql, used)


def _daily(frame) -> dict:
    return {(r["day"].day, r["service"]): (r["requests"], r["errors"], r["measured_by"])
            for r in frame.iter_rows(named=True)}


@pytest.fixture(scope="module")
def engine(store):
    e = ChdbEngine(store)
    yield e
    e.close()


def test_requests_daily_by_hand_on_both_engines(store, engine):
    """Whole range: a200 day 1 = 10 (series_start) + 20 + 20 + 5 (reset) = 55, day 2 = 20 + 15 +
    32 (hour 42 corrected to 72) = 67, day 3 = 8; a503 day 1 = 0 (first, not series_start) + 1,
    day 2 = 1 (reset) + NULL (NaN) + 0 (after the NaN) + 2 = 3; b200 day 1 = 0 + 10, day 3 = 20.
    From hour 27: a200 day 2 = 15 (carry 25 from hour 24) + 32, a503 day 2 = 2; b200's last value
    before the window is over a day old (110 at hour 2): day 3 = 20."""
    whole = {"start": T0, "end": T0 + timedelta(days=4), "services": []}
    inside = {"start": T0 + timedelta(hours=27), "end": T0 + timedelta(days=4), "services": []}
    want_whole = {(1, "a"): (56, 1, "telemetry"), (2, "a"): (70, 3, "telemetry"), (3, "a"): (8, 0, "telemetry"),
                  (1, "b"): (10, 0, "telemetry"), (3, "b"): (20, 0, "telemetry"),
                  (2, "b"): (1, 0, "request_logs")}          # no counter increase of b that day
    want_inside = {(2, "a"): (49, 2, "telemetry"), (3, "a"): (8, 0, "telemetry"),
                   (3, "b"): (20, 0, "telemetry")}         # b's logged request (hour 26) is before it
    for params, want in ((whole, want_whole), (inside, want_inside)):
        duck, ch = _both(store, engine, "requests_daily", params)
        assert _daily(duck) == want
        assert _daily(ch) == want


def test_service_technical_by_hand_on_both_engines(store, engine):
    """Service a per day: requests and errors as above; p50 of day 1 from the histogram's increases
    (0.1: 4, 0.5: 8, +Inf: 10 by hour 12; the median, the 5th of 10, lies in (0.1, 0.5]: 0.1 + 0.4 *
    (5 - 4) / (8 - 4) = 0.2); GPU utilisation the mean of the day's samples."""
    params = {"start": T0, "end": T0 + timedelta(days=4), "service": "a", "bucket": "day", "split": True,
              "gpus": []}
    for frame in _both(store, engine, "service_technical", params):
        got = {(r["bucket_at"].day, r["metric"]): r["value"] for r in frame.iter_rows(named=True)}
        assert got[(1, "requests")] == 56 and got[(2, "requests")] == 70 and got[(3, "requests")] == 8
        assert got[(1, "error_rate")] == pytest.approx(1 / 56) and got[(2, "error_rate")] == pytest.approx(3 / 70)
        assert got[(1, "p50_s")] == pytest.approx(0.2)
        assert got[(1, "gpu_util_pct")] == pytest.approx(60.0) and got[(2, "gpu_util_pct")] == pytest.approx(30.0)


def test_every_view_and_query_equal_on_both_engines_including_windows_inside_the_series(store, engine):
    rows = compare(store, engine=engine)        # the module's chdb engine: same store, same "now"
    assert [r for r in rows if r["status"] != "ok"] == []
    assert max(r["max_rel_diff"] for r in rows) <= TOLERANCE
    names = {r["query"]: r for r in rows}
    for name in ("stg_telemetry_delta", "stg_technical_minute", "stg_gpu_minute", "stg_requests",
                 "queries/requests_daily", "queries/requests_daily@inside", "queries/service_technical@inside[a]",
                 "analysis/request_increases@inside[a]", "queries/telemetry_window@inside[b]"):
        assert names[name]["duckdb_rows"] > 0, name
