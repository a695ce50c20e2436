"""Telemetry at scale (issue 15): every rewritten read returns exactly what the old view returned.

The oracle is the old read, kept here as text: `stg_telemetry_delta` (window functions over the
whole store) filtered by service and time afterwards. The rewritten `_window` (filter-first on the
Parquet scan) must give the same rows on the demo company, the real capture, overlapping
re-ingests, restated loads, a counter silent for longer than the look-back, and as of a past time.
Not timed: benchmarks/telemetry_scale.py measures.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

OLD_WINDOW = """
SELECT sampled_at, metric, labels_hash, model_version, value, increase, dt_s, status,
       CASE WHEN metric LIKE '%\\_bucket' ESCAPE '\\' THEN json_extract_string(labels, '$.le') END AS le
FROM stg_telemetry_delta
WHERE service = $service AND sampled_at >= $start AND sampled_at < $end
  -- the series the summary reads (the window skips the rest: a GPU exporter's temperatures, clocks, ...)
  AND metric IN ('inference_requests_total', 'inference_request_duration_seconds_count',
                 'inference_request_duration_seconds_sum', 'inference_request_duration_seconds_bucket',
                 'inference_fallback_total', 'inference_abstain_total', 'inference_tokens_total',
                 'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_POWER_USAGE',
                 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total')
"""
COLS = ["sampled_at", "metric", "labels_hash", "model_version", "value", "increase", "dt_s", "status", "le"]
T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def old_and_new(store, service, start, end, as_of=None):
    from metrics.telemetry import ALL_START, ALL_END, _window

    params = {"service": service, "start": start or ALL_START, "end": end or ALL_END}
    con = store.connect(as_of)
    try:
        old = store.query(OLD_WINDOW, params, con=con)
        _window(con, params, start, store)        # as the summary reads it: day partitions pruned
        new = store.query("SELECT * EXCLUDE (no_prev) FROM _window", con=con)
        assert not con.execute("SELECT * FROM duckdb_views() WHERE database_name = 'temp'").fetchall()   # unscoped
    finally:
        con.close()
    key = ["metric", "labels_hash", "sampled_at"]
    return old.select(COLS).sort(key), new.select(COLS).sort(key)


def assert_same(old: pl.DataFrame, new: pl.DataFrame):
    assert old.height == new.height
    assert old.select(COLS[:4] + ["status", "le"]).equals(new.select(COLS[:4] + ["status", "le"]))
    for c in ("value", "increase", "dt_s"):
        for a, b in zip(old[c].to_list(), new[c].to_list()):
            assert (a is None and b is None) or (a is not None and b is not None and
                                                 (a == b or (math.isnan(a) and math.isnan(b))
                                                  or a == pytest.approx(b, rel=1e-12))), (c, a, b)


OLD_TECHNICAL = (Path(__file__).parent / "oracles" / "service_technical_before_issue15.sql").read_text()


def assert_same_technical(store, service, start, end, as_of=None, gpus=()):
    """The Service page query (metrics/sql/queries/service_technical.sql) against the old one."""
    from metrics import queries

    for bucket, split in (("hour", True), ("day", False)):
        new = queries.service_technical(store, service, start, end, bucket=bucket, gpus=list(gpus),
                                        split=split, as_of=as_of)
        params = {"start": start or datetime(1970, 1, 1, tzinfo=timezone.utc),
                  "end": end or datetime(9999, 1, 1, tzinfo=timezone.utc),
                  "service": service, "bucket": bucket, "split": split, "gpus": list(gpus)}
        old = store.query(OLD_TECHNICAL, params, as_of=as_of)
        key = ["bucket_at", "metric", "model_version"]
        old, new = old.sort(key, nulls_last=True), new.sort(key, nulls_last=True)
        assert old.select(key).equals(new.select(key)), (service, start, end, bucket)
        for a, b in zip(old["value"].to_list(), new["value"].to_list()):
            assert (a is None and b is None) or a == pytest.approx(b, rel=1e-9, abs=1e-12)


def windows(lo: datetime, hi: datetime):
    span = hi - lo
    yield None, None
    yield lo + span / 3, lo + span / 2
    yield hi - timedelta(hours=1), hi
    yield lo - timedelta(days=1), lo + timedelta(minutes=7)


def test_capture(store, shared):
    from collectors.openmetrics import ingest_openmetrics

    ingest_openmetrics(store, shared / "gpu-serving-capture" / "telemetry.om")
    rng = store.query("SELECT min(sampled_at) lo, max(sampled_at) hi FROM raw_telemetry").row(0)
    services = store.query("SELECT DISTINCT service FROM raw_telemetry WHERE service IS NOT NULL")["service"]
    for svc in services:
        for a, b in windows(*rng):
            old, new = old_and_new(store, svc, a, b)
            assert old.height > 0 or a is not None
            assert_same(old, new)
            assert_same_technical(store, svc, a, b)


def om(rows, path):
    lines = ["# TYPE inference_requests counter", "# TYPE DCGM_FI_DEV_GPU_UTIL gauge"]
    names = {"req_total": "inference_requests_total", "util": "DCGM_FI_DEV_GPU_UTIL"}
    lines += [f'{names[name]}{{service="svc",model_version="{v}",status="200"}} {val} {t.timestamp()}'
              for name, v, val, t in rows]
    path.write_text("\n".join(lines) + "\n# EOF\n")
    return path


def test_overlapping_reingests_restatements_long_silence_and_as_of(store, tmp_path):
    from collectors.openmetrics import ingest_openmetrics

    minute = timedelta(minutes=1)
    a = [("req_total", "v1", 10 * i, T0 + i * minute) for i in range(120)]
    a += [("util", "v1", float(i % 7), T0 + i * minute) for i in range(120)]
    a += [("req_total", "v2", 5 * i, T0 + i * minute) for i in range(0, 20)]   # v2 falls silent ...
    # v3 scraped every 25 minutes: its previous sample is older than the 10-minute look-back
    a += [("req_total", "v3", 7 * i, T0 + 25 * i * minute) for i in range(8)]
    ingest_openmetrics(store, om(a, tmp_path / "a.om"))
    as_of = datetime.now(timezone.utc)
    # an overlapping re-delivery that restates part of v1 (other values) and adds later samples
    b = [("req_total", "v1", 10 * i + (3 if i >= 100 else 0), T0 + i * minute) for i in range(90, 200)]
    b += [("req_total", "v2", 500 + i, T0 + i * minute) for i in range(180, 200)]  # ... for 160 min
    b += [("util", "v1", float("nan"), T0 + i * minute) for i in range(150, 160)]
    ingest_openmetrics(store, om(b, tmp_path / "b.om"))
    lo, hi = T0, T0 + 200 * minute
    cases = list(windows(lo, hi)) + [(T0 + 185 * minute, T0 + 195 * minute),   # v2 back after silence
                                     (T0 + 95 * minute, T0 + 105 * minute)]     # across the restatement
    for s, e in cases:
        assert_same(*old_and_new(store, "svc", s, e))
        assert_same(*old_and_new(store, "svc", s, e, as_of=as_of))
        assert_same_technical(store, "svc", s, e)
        assert_same_technical(store, "svc", s, e, as_of=as_of)
    old, new = old_and_new(store, "svc", T0 + 185 * minute, T0 + 195 * minute)
    v2 = new.filter(pl.col("model_version") == "v2")["increase"].to_list()
    assert v2[0] == 500 + 185 - (500 + 184)                          # counted from the sample before


def test_demo_company(tmp_path_factory):
    from metrics.config import load_settings
    from metrics.store import Store
    from tests.conftest import ingested_demo

    out = ingested_demo(tmp_path_factory, "demo", seed=7, days=30, end="2026-11-01T00:00:00Z")
    config = load_settings(out / "onepane.toml")
    store = Store(out / "onepane.duckdb")
    lo, hi = store.query("SELECT min(sampled_at) lo, max(sampled_at) hi FROM raw_telemetry").row(0)
    for svc in store.query("SELECT DISTINCT service FROM raw_telemetry WHERE service IS NOT NULL")["service"]:
        for a, b in [(None, None), (hi - timedelta(days=1), hi), (lo + timedelta(days=9), lo + timedelta(days=10))]:
            assert_same(*old_and_new(store, svc, a, b))
            svc_gpus = next((x.gpus for x in config.services if x.name == svc), [])
            assert_same_technical(store, svc, a, b, gpus=svc_gpus)


def test_page_query_filters_reach_the_parquet_scan(store, tmp_path):
    """EXPLAIN ANALYZE of the summary's window read over one service and day: the service and
    time filters are in the Parquet scan (not above a window function over the whole store)."""
    from collectors.openmetrics import ingest_openmetrics
    from metrics.telemetry import sql

    hour = timedelta(hours=1)
    for svc in ("a", "b"):
        rows = [("req_total", "v1", i, T0 + i * hour) for i in range(72)]
        (tmp_path / f"{svc}.om").write_text(om(rows, tmp_path / "x.om").read_text().replace('"svc"', f'"{svc}"'))
        ingest_openmetrics(store, tmp_path / f"{svc}.om")
    start = T0 + timedelta(days=1)
    con = store.connect()
    try:
        plan = "\n".join(r[1] for r in con.execute(
            "EXPLAIN ANALYZE " + sql("telemetry_window"),
            {"service": "b", "start": start, "end": start + timedelta(days=1), "from": start - hour}).fetchall())
    finally:
        con.close()
    scan = plan[plan.index("READ_PARQUET"):]
    filters = scan[scan.index("Filters:"):].replace(" ", "")
    assert "service='b'" in filters and "sampled_at>=" in filters and "sampled_at<" in filters


def test_service_page_query_filters_reach_the_parquet_scan(store, tmp_path):
    """EXPLAIN ANALYZE of the Service page's technical query (as the page runs it: no GPUs named)
    over one service and one day of a two-service, three-day store: every scan of raw_telemetry
    carries the service filter, the window's scan carries both time bounds, and it hands on only
    that service's rows of that day and the 10 minutes before."""
    import json

    from collectors.openmetrics import ingest_openmetrics
    from metrics.queries import _drop_unused
    from metrics.telemetry import sql

    hour = timedelta(hours=1)
    for svc in ("a", "b"):
        rows = [("req_total", "v1", i, T0 + i * hour) for i in range(72)]
        (tmp_path / f"{svc}.om").write_text(om(rows, tmp_path / "x.om").read_text().replace('"svc"', f'"{svc}"'))
        ingest_openmetrics(store, tmp_path / f"{svc}.om")
    start = T0 + timedelta(days=1)
    params = {"service": "b", "start": start, "end": start + timedelta(days=1), "bucket": "hour", "split": True}
    query = _drop_unused(sql("service_technical"), {**params, "gpus": []})
    assert "list_contains" not in query            # the GPU-without-service branch is left out
    out = tmp_path / "profile.json"
    con = store.connect()
    try:
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{out}'")
        got = con.execute(query, params).fetchall()
        con.execute("PRAGMA disable_profiling")
    finally:
        con.close()
    assert sorted(r[3] for r in got if r[2] == "requests") == [1.0] * 24     # +1 per hour, 24 hours
    profile = json.loads(out.read_text())
    scans, todo = [], list(profile.get("operator", profile.get("children", [])))
    while todo:
        node = todo.pop()
        todo += node.get("children", [])
        info = node.get("extra_info", {})
        cols = info.get("Projections", [])
        if "READ_PARQUET" in (node.get("name", ""), info.get("Function", "")) and "labels_hash" in cols \
                and "_loser" not in cols:
            scans.append((str(info.get("Filters", "")).replace(" ", ""),
                          node.get("intermediate_rows", node.get("operator_cardinality"))))
    assert scans and all("service='b'" in f for f, _ in scans), scans
    window = [(f, n) for f, n in scans if "sampled_at>=" in f and "sampled_at<" in f]
    assert window, scans
    assert all(n <= 25 for _, n in window), window     # b's samples in [start - 10 min, end): 24 of 144


def test_summary_window_opens_only_the_days_it_reads(store, tmp_path):
    """The summary's window read (metrics.store.scope_days) opens the Parquet files of the days of
    [start - look-back, end) only, by folder name, and returns what the whole store's view does;
    the connection's views are the store's own again afterwards."""
    import json

    from collectors.openmetrics import ingest_openmetrics
    from metrics.store import scope_days, unscope

    hour = timedelta(hours=1)
    for day in range(3):                       # one load per day: three day folders of raw_telemetry
        rows = [("req_total", "v1", i, T0 + i * hour) for i in range(24 * day, 24 * day + 24)]
        ingest_openmetrics(store, om(rows, tmp_path / f"{day}.om"))
    q = ("SELECT count(*), sum(value) FROM stg_telemetry WHERE service = 'svc' "
         "AND sampled_at >= $a AND sampled_at < $b")
    a, b = T0 + timedelta(days=1, hours=5), T0 + timedelta(days=1, hours=9)
    out = tmp_path / "profile.json"
    con = store.connect()
    try:
        whole = con.execute(q, {"a": a, "b": b}).fetchall()
        scoped = scope_days(store, con, ("raw_telemetry", "_dedup_raw_telemetry"), a, b)
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{out}'")
        got = con.execute(q, {"a": a, "b": b}).fetchall()
        con.execute("PRAGMA disable_profiling")
        unscope(con, scoped)
        after = con.execute("SELECT count(*) FROM raw_telemetry").fetchall()
    finally:
        con.close()
    assert scoped == ["raw_telemetry"]         # no de-duplication files: that view is left alone
    assert got == whole == [(4, sum(range(29, 33)))]      # hours 5..8 of day 2: values 29..32
    assert after == [(72,)]
    todo, files = list(json.loads(out.read_text())["operator"]), []
    while todo:
        node = todo.pop()
        todo += node.get("children", [])
        info = node.get("extra_info", {})
        if "/raw_telemetry/" in str(info.get("Filename(s)", "")):
            files.append(int(info["Total Files Read"]))
    assert files == [1], files                 # the day folder of day 2 alone (of 3)
    # a store migrated before `union_by_name` was recorded: the scoped view asks the store's view
    con = store._open(read_only=False)
    try:
        assert con.execute("SELECT value FROM _onepane_meta WHERE key = 'union_by_name'").fetchall() == [("raw_focus",)]
        con.execute("DELETE FROM _onepane_meta WHERE key = 'union_by_name'")
    finally:
        con.close()
    con = store.connect()
    try:
        assert scope_days(store, con, ("raw_telemetry",), a, b) == ["raw_telemetry"]
        assert con.execute(q, {"a": a, "b": b}).fetchall() == whole
    finally:
        con.close()


def test_service_page_reads_its_days_first_and_older_history_only_when_a_series_needs_it(store, tmp_path):
    """The Service page's query (metrics.queries.service_technical) reads the window's day folders
    first; a counter whose previous sample is two days before the window (outside those folders)
    is still counted from it, because that first read reports the series and the query runs again
    over the whole store. Expected increases are worked out from the samples written here."""
    from collectors.openmetrics import ingest_openmetrics
    from metrics import queries

    day0 = T0.replace(hour=0, minute=0, second=0, microsecond=0)
    minute = timedelta(minutes=1)
    for d in range(3):                          # one load per day: three day folders
        base = day0 + timedelta(days=d)
        rows = [("req_total", "v1", 10 * (d * 1440 + i), base + i * minute) for i in range(0, 1440, 5)]
        if d == 0:
            rows.append(("req_total", "v2", 100, base + timedelta(hours=22)))
        if d == 2:
            rows += [("req_total", "v2", 130, base + timedelta(minutes=30)),
                     ("req_total", "v2", 160, base + timedelta(minutes=90))]
        ingest_openmetrics(store, om(rows, tmp_path / f"{d}.om"))
    start, end = day0 + timedelta(days=2), day0 + timedelta(days=3)
    df = queries.service_technical(store, "svc", start, end, bucket="hour", split=True)
    got = {(r["bucket_at"].hour, r["model_version"]): r["value"]
           for r in df.filter(pl.col("metric") == "requests").iter_rows(named=True)}
    assert got[(0, "v2")] == 130 - 100          # from the sample of day 0, 22:00
    assert got[(1, "v2")] == 160 - 130
    assert got[(0, "v1")] == 10 * 60            # every 5 minutes, +50 each: 600 an hour
    assert "series_without_previous" not in df["metric"].to_list()
    assert_same_technical(store, "svc", start, end)
    # with every series found in the look-back, one read (of the day folders) answers
    assert_same_technical(store, "svc", start + timedelta(hours=2), end)


def test_service_page_looks_for_older_samples_only_where_the_lake_can_hold_them(store, tmp_path, monkeypatch):
    """The Service page's first read reports series without a previous sample in the look-back;
    the look for older samples (service_technical_older) is skipped when no day folder of raw
    telemetry lies on or before the look-back's first day (the window starts with the store), and
    made when one does, even the window's own first day (a sample earlier that day). Expected
    increases are worked out from the samples written here."""
    from collectors.openmetrics import ingest_openmetrics
    from metrics import queries

    day = T0.replace(hour=0, minute=0, second=0, microsecond=0)
    minute = timedelta(minutes=1)
    rows = [("req_total", "v1", 10 * i, day + i * minute) for i in range(0, 1440, 5)]
    rows += [("req_total", "v2", 100, day + timedelta(hours=1)),     # v2: 01:00, then 13:00 and 14:00
             ("req_total", "v2", 130, day + timedelta(hours=13)),
             ("req_total", "v2", 170, day + timedelta(hours=14))]
    ingest_openmetrics(store, om(rows, tmp_path / "day.om"))          # one load: one day folder
    looked = []
    prepared = queries._prepared
    monkeypatch.setattr(queries, "_prepared", lambda name, params: (looked.append(name), prepared(name, params))[1])

    def requests(start, end):
        looked.clear()
        df = queries.service_technical(store, "svc", start, end, bucket="hour", split=True)
        assert "series_without_previous" not in df["metric"].to_list()
        return {(r["bucket_at"].hour, r["model_version"]): r["value"]
                for r in df.filter(pl.col("metric") == "requests").iter_rows(named=True)}

    # the window starts with the store: every series lacks a previous sample, nothing older exists
    got = requests(day, day + timedelta(days=1))
    assert "service_technical_older" not in looked and looked.count("service_technical") == 1
    assert got[(1, "v2")] == 100                # started after the file's first sample: from zero
    assert got[(13, "v2")] == 30 and got[(14, "v2")] == 40
    assert got[(0, "v1")] == 50 * 11            # 12 samples in hour 0 (0, 50, ..., 550)
    assert_same_technical(store, "svc", day, day + timedelta(days=1))
    # from 12:00: v2's previous sample (01:00) lies in the look-back's first day folder
    got = requests(day + timedelta(hours=12), day + timedelta(days=1))
    assert "service_technical_older" in looked and looked.count("service_technical") == 2
    assert got[(13, "v2")] == 130 - 100 and got[(14, "v2")] == 170 - 130
    assert got[(12, "v1")] == 10 * 60
    assert_same_technical(store, "svc", day + timedelta(hours=12), day + timedelta(days=1))
