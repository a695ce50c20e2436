"""Counter increases whose readers cost the question, not the store (issue 15): the rewritten
stg_telemetry_delta (service in the window's partition, so a service filter passes it) and the
filter-first requests_daily (its own lag over the window, plus each series' carried last value)
return exactly what the SQL before them returned.

The oracles are the old SQL texts (tests/oracles/*_before_issue15.sql), run on the same connection,
on: the real H100 capture, the demo company, overlapping re-ingests, a restated load, a load that
started first but committed last, a removed load, a late back-filled load between existing samples
(with a counter reset and a NaN), compaction, and every `--as-of` between those loads.
"""
from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.foundation_helpers import demo_store  # noqa: F401 - a fixture
from tests.test_telemetry_dedup import T0, _load, _scan_filters, _telemetry_frame, history  # noqa: F401

ORACLES = Path(__file__).parent / "oracles"


def _oracle(name: str) -> str:
    return (ORACLES / f"{name}_before_issue15.sql").read_text(encoding="utf-8")


def _old_delta() -> str:
    text = _oracle("stg_telemetry_delta")
    return "(" + text[text.index("WITH s AS"):].rstrip().rstrip(";") + ")"


def _old_requests_daily() -> str:
    return _oracle("requests_daily").replace("FROM stg_telemetry_delta", f"FROM {_old_delta()}")


def _frame(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(df.columns, nulls_last=True)


def _run(store, text: str, params: dict, as_of):
    from metrics.queries import _drop_unused
    sql = _drop_unused(text, params)
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    used = set(re.findall(r"\$([a-z_0-9]+)", code))
    return store.query(sql, {k: v for k, v in params.items() if k in used}, as_of=as_of)


def _windows(store) -> list[tuple]:
    """Whole range, and windows that start and end inside series (so the carry matters)."""
    hi = store.query("SELECT max(sampled_at) AS hi FROM raw_telemetry")["hi"][0]
    cap = store.query("SELECT min(sampled_at) AS lo FROM raw_telemetry WHERE service = 'assistant-api'")["lo"][0]
    out = [(None, None), (T0 + timedelta(minutes=37), T0 + timedelta(minutes=1000)),
           (T0 + timedelta(hours=20, minutes=7), T0 + timedelta(days=2)), (T0 + timedelta(days=1), None),
           (T0 + timedelta(hours=45), None)]      # b's value before it is over a day old: `far`
    if hi is not None:
        out.append((hi - timedelta(hours=1), hi + timedelta(seconds=1)))
    if cap is not None:
        out.append((cap + timedelta(minutes=3, seconds=7), cap + timedelta(hours=2)))
    return out


def assert_readers_equal_old(store, as_of=None, windows: int | None = None,
                             service_sets=([], ["a"], ["a", "b", "assistant-api"])) -> dict:
    """The view and requests_daily equal their oracles as of `as_of` (requests_daily over the first
    `windows` of `_windows`, all by default, for each of `service_sets`); returns row counts."""
    from metrics.queries import _window, sql_text

    con = store.connect(as_of)
    try:
        new = _frame(con.sql("SELECT * FROM stg_telemetry_delta").pl())
        old = _frame(con.sql(f"SELECT * FROM {_old_delta()}").pl())
    finally:
        con.close()
    assert_frame_equal(new, old, check_exact=True)
    n = {"stg_telemetry_delta": new.height, "requests_daily": 0}
    for start, end in _windows(store)[:windows]:
        for services in service_sets:
            params = {**_window(start, end), "services": services}
            got = _frame(_run(store, sql_text("requests_daily"), params, as_of))
            want = _frame(_run(store, _old_requests_daily(), params, as_of))
            assert_frame_equal(got, want, check_exact=True)
            n["requests_daily"] += got.height
    return n


@pytest.fixture(scope="module")
def backfilled(history):
    """history + a late load back-filling samples between existing ones of service a (7 min after
    each of run2's, lower values: resets) with a NaN and a NULL among them; then one sample of b
    after more than a day of silence."""
    from metrics.lake import Load

    store, times, loads = history
    frame = _telemetry_frame([(m + 7, "a", m * 3 - 1) for m in range(900, 1200, 15)])
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(float("nan"))
                               .when(pl.int_range(pl.len()) == 5).then(None)
                               .otherwise(pl.col("value")).alias("value"))
    with Load(store, "raw_telemetry", collector="test", source="test") as late:   # noqa: F841
        late.write(frame, scope="backfill")
    # b silent for more than a day (its last sample is at minute 465), then one more sample
    _load(store, [(3000, "b", 3000)], scope="silent")
    times = store.query("SELECT finished_at FROM _onepane_loads WHERE status = 'ok' ORDER BY 1")["finished_at"].to_list()
    return store, times, {**loads, "backfill": late}


def test_readers_equal_the_old_sql_now(backfilled):
    store, _, _ = backfilled
    n = assert_readers_equal_old(store)
    assert n["stg_telemetry_delta"] > 15632 and n["requests_daily"] > 20


def test_readers_equal_the_old_sql_as_of_every_load(backfilled):
    store, times, _ = backfilled
    asked = [times[0] - timedelta(seconds=1)] + times
    # the whole view at every as-of; requests_daily over the whole range and one window inside the
    # series, all services and one (every window and service set is checked at now, above)
    counts = [assert_readers_equal_old(store, t, windows=2, service_sets=([], ["a"]))["requests_daily"]
              for t in asked]
    assert counts[0] == 0 and len(set(counts)) > 3


def test_the_back_fill_changes_the_days_count_as_by_hand(backfilled):
    """Independent arithmetic: run2 (newest over the overlap) has a at m*3 every 15 min from minute 900;
    the back-fill puts m*3-1 at m+7 (m = 900..1185). Day 2 of T0 starts at minute 1440, so take the
    window [minute 915, 1200): every back-filled value is a reset (below the previous run2 value)
    except where NaN/NULL; a sample after a NaN has no usable previous (0), after a NULL the one
    before it counts."""
    from metrics.queries import requests_daily

    store, _, _ = backfilled
    start, end = T0 + timedelta(minutes=915), T0 + timedelta(minutes=1200)
    got = requests_daily(store, start, end, ["a"])
    samples = []                      # (minute, value) as stg_telemetry shows them in the window
    for m in range(900, 1200, 15):
        samples.append((m, m * 3.0))
        k = (m - 900) // 15
        samples.append((m + 7, float("nan") if k == 3 else None if k == 5 else m * 3.0 - 1))
    # the samples of the removed load `gone` (1200..1300) are outside the window
    total, prev = 0.0, None
    for minute, v in samples:
        if minute >= 915 and v is not None and v == v:
            if prev is None or prev != prev:
                inc = 0.0
            elif v < prev:
                inc = v
            else:
                inc = v - prev
            total += inc
        if v is not None:
            prev = v
    assert got["requests"].to_list() == [pytest.approx(total)] and total > 0


def test_a_series_silent_for_over_a_day_counts_from_its_last_value(backfilled):
    """b's last sample before minute 3000 is the restated run1's 570 * 5 = 2850 at minute 570 (the
    original run1 is superseded): the increase is 3000 - 2850, as lag() over the whole history gave."""
    from metrics.queries import requests_daily

    store, _, _ = backfilled
    got = requests_daily(store, T0 + timedelta(hours=45), None, ["b"])
    assert got["requests"].to_list() == [150.0]


def test_equal_after_compaction(backfilled, tmp_path):
    from metrics.lake import compact_partition
    from metrics.store import Store

    store, times, _ = backfilled
    shutil.copytree(store.lake, tmp_path / "t.lake")
    shutil.copy(store.db_path, tmp_path / "t.duckdb")
    copy = Store(tmp_path / "t.duckdb").ensure()
    for table in ("raw_telemetry", "_dedup_raw_telemetry"):
        for d in sorted((copy.lake / table).glob("*=*")):
            compact_partition(copy, table, d)
    assert len(list((copy.lake / "raw_telemetry").glob("day=2026-11-20/*.parquet"))) == 1
    assert_readers_equal_old(copy)
    assert_readers_equal_old(copy, times[len(times) // 2])


def test_demo_company_readers_equal_the_old_sql(demo_store):
    from metrics.store import Store

    out, _ = demo_store
    store = Store(out / "onepane.duckdb").ensure()
    assert assert_readers_equal_old(store)["stg_telemetry_delta"] > 0
    first = store.query("SELECT finished_at FROM _onepane_loads WHERE status = 'ok' "
                        "AND target_table = 'raw_telemetry' ORDER BY 1")["finished_at"].to_list()
    assert_readers_equal_old(store, first[len(first) // 2])


def test_service_filters_pass_the_window_and_time_filters_reach_the_scan(backfilled):
    """stg_technical_minute over one service: the service filter reaches the scan (it used to stop
    at the window); requests_daily over one service and day: service and time filters do."""
    from metrics.queries import _window, sql_text, _drop_unused

    store, _, _ = backfilled
    con = store.connect()
    try:
        filters = _scan_filters(con, "SELECT * FROM stg_technical_minute WHERE service = 'a'")
        assert filters and all("service = 'a'" in f for f in filters), filters
        old = _scan_filters(con, f"SELECT * FROM {_old_delta()} WHERE service = 'a'")
        assert old and not any("service = 'a'" in f for f in old), old        # the oracle could not
        params = {**_window(T0 + timedelta(hours=6), T0 + timedelta(hours=30)), "services": ["a"]}
        sql = _drop_unused(sql_text("requests_daily"), params)
        for k, v in params.items():
            sql = sql.replace(f"${k}::VARCHAR[]", "['a']::VARCHAR[]").replace(f"${k}", f"TIMESTAMPTZ '{v}'")
        filters = _scan_filters(con, sql)
        window = [f for f in filters if "sampled_at >=" in f]
        assert window and all("'a'" in f and "sampled_at <" in f for f in window), filters
    finally:
        con.close()
