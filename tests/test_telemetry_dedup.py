"""De-duplication at write (metrics/lake_dedup.py): the staged views without a window return exactly
what the old windowed views returned, and a page-shaped filter reaches the Parquet scan.

The old views' SQL is kept here (OLD_*), run on the same connection as the new views, for the real
H100 capture, the demo company, overlapping re-ingests, restated loads, a load that started first
but committed last, a removal, within-load duplicates, and every `--as-of` between those loads.
"""
from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.foundation_helpers import demo_store  # noqa: F401 - a fixture

OLD_STG_TELEMETRY = """
SELECT t.sampled_at, t.metric, t.labels, t.labels_hash, t.service, t.model_version,
       s.team, t.value, t.metric_type, t.series_start, t.source, t._load_id
FROM raw_telemetry t
LEFT JOIN stg_services s ON s.service = t.service
QUALIFY row_number() OVER (PARTITION BY t.metric, t.labels_hash, t.sampled_at
                           ORDER BY t._loaded_at DESC, t._load_id DESC) = 1"""

OLD_STG_REQUESTS = """
SELECT r.* EXCLUDE (_scope, _loaded_at), s.team
FROM raw_requests r
LEFT JOIN stg_services s ON s.service = r.service
WHERE r.request_id IS NULL
UNION ALL
SELECT r.* EXCLUDE (_scope, _loaded_at), s.team
FROM raw_requests r
LEFT JOIN stg_services s ON s.service = r.service
WHERE r.request_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY r.service, r.request_id
                           ORDER BY r._loaded_at DESC, r._load_id DESC) = 1"""

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)


def _old_delta_sql() -> str:
    """stg_telemetry_delta's own text over the old stg_telemetry."""
    from metrics.store import SQL_DIR
    text = (SQL_DIR / "staged" / "stg_telemetry_delta.sql").read_text(encoding="utf-8")
    body = text[text.index("WITH s AS"):].rstrip().rstrip(";")
    return body.replace("FROM stg_telemetry t", f"FROM ({OLD_STG_TELEMETRY}) t")


def _frame(con, sql: str) -> pl.DataFrame:
    df = con.sql(sql).pl()
    return df.sort(df.columns, nulls_last=True)


def assert_same_as_old(store, as_of=None) -> dict:
    """Every new view equals its old SQL as of `as_of`; returns the row counts."""
    con = store.connect(as_of)
    try:
        pairs = {"stg_telemetry": OLD_STG_TELEMETRY, "stg_requests": OLD_STG_REQUESTS,
                 "stg_telemetry_delta": _old_delta_sql()}
        n = {}
        for view, old in pairs.items():
            new_df, old_df = _frame(con, f"SELECT * FROM {view}"), _frame(con, old)
            assert_frame_equal(new_df, old_df, check_exact=True)
            n[view] = new_df.height
        return n
    finally:
        con.close()


def _telemetry_frame(rows: list[tuple]) -> pl.DataFrame:
    """(minute offset, service, value) -> raw_telemetry rows of one counter series per service."""
    out = []
    for minute, service, value in rows:
        labels = json.dumps({"service": service})
        out.append({"sampled_at": T0 + timedelta(minutes=minute), "metric": "inference_requests_total",
                    "labels": labels, "labels_hash": f"h-{service}", "service": service,
                    "model_version": "v1", "value": float(value), "metric_type": "counter",
                    "series_start": None, "source": "test"})
    return pl.DataFrame(out)


def _load(store, rows, scope="s", restate=False, start=True):
    from metrics.lake import Load
    load = Load(store, "raw_telemetry", collector="test", source="test")
    load.write(_telemetry_frame(rows), scope=scope)
    if restate:
        load.supersede_scopes()
    if start:
        load.commit()
    return load


def _requests_csv(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["request_id", "arrived_at", "finished_at", "model_version", "status"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory, shared):
    """A store with the capture and a history of overlapping, restated and removed loads; the
    finished_at of every load (the as-of times worth asking about)."""
    from collectors.openmetrics import ingest_openmetrics
    from collectors.requests import ingest_requests
    from metrics.housekeeping import remove_load
    from metrics.store import Store

    tmp = tmp_path_factory.mktemp("dedup")
    store = Store(tmp / "t.duckdb").ensure()
    ingest_openmetrics(store, shared / "gpu-serving-capture" / "telemetry.om")
    ingest_requests(store, shared / "gpu-serving-capture" / "requests.csv", service="assistant-api")
    # two services, two days (minute 0 .. 1500), counters
    _load(store, [(m, s, m * 2) for m in range(0, 1500, 15) for s in ("a", "b")], scope="run1")
    # an overlapping re-run with other values for the overlap, and a new tail
    _load(store, [(m, "a", m * 3) for m in range(900, 1800, 15)], scope="run2")
    # a restatement of run1's scope: fewer samples (the gap must come back from run2 / nothing)
    _load(store, [(m, s, m * 5) for m in range(0, 600, 30) for s in ("a", "b")], scope="run1", restate=True)
    # started first, committed last: the other load (newer start) still wins
    early = _load(store, [(m, "b", 7) for m in range(300, 420, 15)], scope="early", start=False)
    late = _load(store, [(m, "b", 11) for m in range(360, 480, 15)], scope="late")
    early.commit()
    # within one load the same sample twice: the later write wins
    from metrics.lake import Load
    with Load(store, "raw_telemetry", collector="test", source="test") as twice:
        twice.write(_telemetry_frame([(2000, "a", 1), (2015, "a", 2)]), scope="twice")
        twice.write(_telemetry_frame([(2000, "a", 9)]), scope="twice")
    # overlapping then removed: the samples it hid come back
    gone = _load(store, [(m, "a", 1e6 + m) for m in range(1200, 1300, 15)], scope="gone")
    remove_load(store, gone.load_id, reason="test")
    # request logs re-delivered with another status, and a request id twice in one file
    _requests_csv(tmp / "r1.csv", [(i, 1795527966 + i, 1795527967 + i, "v1", 200) for i in range(1, 40)])
    ingest_requests(store, tmp / "r1.csv", service="svc")
    _requests_csv(tmp / "r2.csv", [(i, 1795527966 + i, 1795527967 + i, "v1", 500) for i in range(30, 60)]
                  + [(55, 1795528066, 1795528067, "v1", 503)])
    ingest_requests(store, tmp / "r2.csv", service="svc")
    times = store.query("SELECT finished_at FROM _onepane_loads WHERE status = 'ok' ORDER BY 1")
    return store, times["finished_at"].to_list(), {"early": early, "late": late, "twice": twice}


def test_views_equal_the_old_views_now(history):
    store, _, _ = history
    n = assert_same_as_old(store)
    assert n["stg_telemetry"] > 15632 and n["stg_requests"] > 5700


def test_views_equal_the_old_views_as_of_every_load(history):
    store, times, _ = history
    asked = [times[0] - timedelta(seconds=1)] + times
    counts = [assert_same_as_old(store, t)["stg_telemetry"] for t in asked]
    assert counts[0] == 0 and len(set(counts)) > 4          # the history really changes the answer


def test_newest_start_wins_and_later_write_wins(history):
    store, _, loads = history
    got = store.query("SELECT sampled_at, value, _load_id FROM stg_telemetry WHERE service = 'b' "
                      "AND sampled_at >= ? AND sampled_at < ? ORDER BY 1",
                      [T0 + timedelta(minutes=360), T0 + timedelta(minutes=420)])
    assert set(got["_load_id"]) == {loads["late"].load_id} and set(got["value"]) == {11.0}
    twice = store.query("SELECT value FROM stg_telemetry WHERE sampled_at = ? AND service = 'a'",
                        [T0 + timedelta(minutes=2000)])
    assert twice["value"].to_list() == [9.0]
    assert store.query("SELECT count(*) AS n FROM raw_telemetry WHERE _load_id = ?",
                       [loads["twice"].load_id])["n"][0] == 2


def test_equal_after_compaction(history, tmp_path):
    """Compaction merges files (loads' rows keep their _load_id): same answers, now and as of before."""
    import shutil
    from metrics.lake import compact_partition
    from metrics.store import Store

    store, times, _ = history
    shutil.copytree(store.lake, tmp_path / "t.lake")
    shutil.copy(store.db_path, tmp_path / "t.duckdb")
    copy = Store(tmp_path / "t.duckdb").ensure()
    for table in ("raw_telemetry", "_dedup_raw_telemetry", "raw_requests", "_dedup_raw_requests"):
        for d in sorted((copy.lake / table).glob("*=*")):
            compact_partition(copy, table, d)
    assert len(list((copy.lake / "raw_telemetry").glob("day=2026-11-20/*.parquet"))) == 1
    assert_same_as_old(copy)
    assert_same_as_old(copy, times[len(times) // 2])


def test_an_older_lake_is_backfilled_at_migration(history, tmp_path):
    """A lake written before migration 0300: its duplicates across loads are listed once."""
    import shutil
    import duckdb
    from metrics.store import Store

    store, times, _ = history
    shutil.copytree(store.lake, tmp_path / "t.lake")
    shutil.copy(store.db_path, tmp_path / "t.duckdb")
    for table in ("_dedup_raw_telemetry", "_dedup_raw_requests"):
        for d in (tmp_path / "t.lake" / table).glob("*=*"):
            shutil.rmtree(d)
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("DELETE FROM _onepane_migrations WHERE name = '0300_dedup_telemetry.sql'")
    con.execute("DROP TABLE _schema__dedup_raw_telemetry; DROP TABLE _schema__dedup_raw_requests")
    con.execute("DELETE FROM _onepane_tables WHERE table_name LIKE '\\_dedup\\_%' ESCAPE '\\'")
    con.execute("DELETE FROM _onepane_meta WHERE key = 'fingerprint'")
    con.close()
    copy = Store(tmp_path / "t.duckdb").ensure()
    assert list((copy.lake / "_dedup_raw_telemetry").glob("*=*"))
    assert_same_as_old(copy)
    assert_same_as_old(copy, times[-3])


def test_demo_company_views_equal_the_old_views(demo_store):
    from metrics.store import Store

    out, _ = demo_store
    store = Store(out / "onepane.duckdb").ensure()
    n = assert_same_as_old(store)
    assert n["stg_telemetry"] > 0
    first = store.query("SELECT finished_at FROM _onepane_loads WHERE status = 'ok' "
                        "AND target_table = 'raw_telemetry' ORDER BY 1")["finished_at"].to_list()
    assert_same_as_old(store, first[len(first) // 2])


def _scan_filters(con, sql: str, marker: str = "labels_hash") -> list[str]:
    """The Filters of every Parquet scan of the raw table (read with column `marker`) in the plan."""
    plan = json.loads(con.execute("EXPLAIN (FORMAT JSON) " + sql).fetchall()[0][1])
    found, todo = [], list(plan)
    while todo:
        node = todo.pop()
        todo += node.get("children", [])
        info = node.get("extra_info", {})
        cols = info.get("Projections", [])
        if node.get("name") == "READ_PARQUET" and marker in cols and "_loser" not in cols:
            found.append(str(info.get("Filters", "")))
    return found


def test_a_page_query_over_one_service_and_day_filters_in_the_scan(history):
    """Two services over two days, so neither filter is true of every file: both reach the scan."""
    store, _, _ = history
    con = store.connect()
    try:
        sql = ("SELECT metric, model_version, sum(value) FROM stg_telemetry WHERE service = 'a' "
               "AND sampled_at >= TIMESTAMPTZ '2026-11-20 06:00:00+00' "
               "AND sampled_at < TIMESTAMPTZ '2026-11-21 06:00:00+00' GROUP BY ALL")
        filters = _scan_filters(con, sql)
        assert filters and all("service = 'a'" in f and "sampled_at >=" in f and "sampled_at <" in f
                               for f in filters), filters
        filters = _scan_filters(con, "SELECT count(*), sum(latency_s) FROM stg_requests "
                                     "WHERE service = 'svc' AND arrived_at >= TIMESTAMPTZ '2026-11-24 13:46:30+00' "
                                     "AND arrived_at < TIMESTAMPTZ '2026-11-24 13:47:00+00'", marker="request_id")
        assert filters and all("service = 'svc'" in f and "arrived_at >=" in f and "arrived_at <" in f
                               for f in filters), filters
    finally:
        con.close()
