"""The generated raw views read a table's files without union_by_name when every file has the
table's full schema (issue 15: a fixed-window read must not open every file's footer to bind), and
keep union_by_name for a lake written before a migration added a column. Either way a view returns
exactly what the view before this change returned: the oracle here is that view's SQL, written out
plainly over the same Parquet files (union_by_name, visible loads, superseded scopes)."""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

import duckdb
import polars as pl

from metrics.lake import LOADS_COMPACT_AFTER_FILES, Load, compact_partition
from metrics.store import Store

T = datetime(2026, 9, 1, tzinfo=timezone.utc)


def _samples(values: list[float], service: str = "svc-a", start: datetime = T) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame({
        "sampled_at": [start + timedelta(seconds=15 * i) for i in range(n)],
        "metric": ["inference_requests_total"] * n,
        "labels": ['{"service":"%s"}' % service] * n,
        "labels_hash": ["h-" + service] * n,
        "service": [service] * n, "model_version": ["v1"] * n,
        "value": values, "metric_type": ["counter"] * n, "series_start": [False] * n,
    })


def _old_view(store: Store, table: str, as_of: datetime | None = None) -> str:
    """The raw view as it was before this change, as plain SQL over the files (the oracle)."""
    lake = store.lake
    cut = f"TIMESTAMPTZ '{as_of.isoformat()}'" if as_of else "'infinity'::TIMESTAMPTZ"
    return f"""
WITH loads AS (SELECT * FROM read_parquet('{lake}/_onepane_loads/**/*.parquet', union_by_name = true)
               WHERE status = 'ok' AND finished_at <= {cut}),
     sup AS (SELECT DISTINCT s.load_id, s.scope FROM (SELECT unnest(supersedes) AS s FROM loads))
SELECT r.* FROM read_parquet('{lake}/{table}/**/*.parquet', union_by_name = true, hive_partitioning = false) r
WHERE r._load_id IN (SELECT load_id FROM loads)
  AND NOT EXISTS (SELECT 1 FROM sup WHERE sup.load_id = r._load_id AND sup.scope = r._scope)"""


def _rows(con, sql: str, cols: str) -> list[tuple]:
    return sorted(con.execute(f"SELECT {cols} FROM ({sql})").fetchall(), key=repr)


def _view_sql(store: Store, name: str) -> str:
    con = store.connect()
    try:
        return con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()[0]
    finally:
        con.close()


def _narrow(path, drop: tuple[str, ...]) -> None:
    """Rewrite one published file without some columns: a file written before they were added."""
    tmp = path.with_name(".narrow.tmp")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * EXCLUDE ({', '.join(drop)}) FROM read_parquet('{path}', hive_partitioning = false)) TO '{tmp}' (FORMAT parquet)")
    con.close()
    os.replace(tmp, path)


COLS = "sampled_at, metric, labels_hash, service, value, metric_type, series_start, _load_id, _scope"


def test_fresh_store_reads_without_union_by_name_and_answers_as_before(store):
    with Load(store, "raw_telemetry", collector="t") as load:
        load.write(_samples([1.0, 2.0, 3.0]), scope="a")
    mid = datetime.now(timezone.utc)
    time.sleep(0.01)
    with Load(store, "raw_telemetry", collector="t") as load:       # a restatement of scope a
        load.write(_samples([1.0, 2.5]), scope="a")
        load.supersede_scopes()
    with Load(store, "raw_telemetry", collector="t") as load:
        load.write(_samples([7.0], service="svc-b"), scope="b")
    store.migrate()                             # views decided over this lake: every file full width
    assert "union_by_name" not in _view_sql(store, "raw_telemetry")
    assert "union_by_name" not in _view_sql(store, "_onepane_loads")
    assert "union_by_name" in _view_sql(store, "raw_focus")          # billing writes sparse files
    con = store.connect()
    try:
        got = _rows(con, "SELECT * FROM raw_telemetry", COLS)
        assert got == _rows(con, _old_view(store, "raw_telemetry"), COLS)
        # by hand: the restatement's 2 rows of svc-a and svc-b's one; the first load is superseded
        assert sorted((r[3], r[4]) for r in got) == [("svc-a", 1.0), ("svc-a", 2.5), ("svc-b", 7.0)]
    finally:
        con.close()
    con = store.connect(as_of=mid)
    try:
        got = _rows(con, "SELECT * FROM raw_telemetry", COLS)
        assert got == _rows(con, _old_view(store, "raw_telemetry", as_of=mid), COLS)
        assert sorted(r[4] for r in got) == [1.0, 2.0, 3.0]
    finally:
        con.close()
    # an empty table keeps its types (from the template) and reads no rows
    con = store.connect()
    try:
        assert con.execute("SELECT count(*) FROM raw_kpis").fetchone()[0] == 0
        assert (con.execute("DESCRIBE SELECT * EXCLUDE (_load_id, _loaded_at, _scope) FROM raw_kpis").fetchall()
                == con.execute("DESCRIBE SELECT * EXCLUDE (_load_id, _loaded_at, _scope) FROM _schema_raw_kpis").fetchall())
    finally:
        con.close()


def test_lake_written_before_a_column_was_added_reads_nulls_then_full_width_after_compaction(store):
    with Load(store, "raw_telemetry", collector="t") as load:
        load.write(_samples([1.0, 2.0]), scope="old")
    day = store.lake / "raw_telemetry" / "day=2026-09-01"
    (old_file,) = list(day.glob("*.parquet"))
    _narrow(old_file, ("metric_type", "series_start"))     # as written before migration 0020
    with Load(store, "raw_telemetry", collector="t") as load:
        load.write(_samples([5.0], service="svc-b"), scope="new")
    store.migrate()                                       # what `onepane init` does after an upgrade
    assert "union_by_name" in _view_sql(store, "raw_telemetry")
    con = store.connect()
    try:
        got = _rows(con, "SELECT * FROM stg_telemetry", "service, value, metric_type, series_start")
        assert got == [("svc-a", 1.0, None, None), ("svc-a", 2.0, None, None), ("svc-b", 5.0, "counter", False)]
        assert _rows(con, "SELECT * FROM raw_telemetry", COLS) == _rows(con, _old_view(store, "raw_telemetry"), COLS)
    finally:
        con.close()
    # a compaction writes the partition at full width; the next migration reads it without union_by_name
    assert compact_partition(store, "raw_telemetry", day) == 2
    store.migrate()
    assert "union_by_name" not in _view_sql(store, "raw_telemetry")
    con = store.connect()
    try:
        assert _rows(con, "SELECT * FROM stg_telemetry", "service, value, metric_type, series_start") == got
    finally:
        con.close()


def test_day_scoped_read_of_a_lake_older_than_a_column_has_that_column_as_nulls(store):
    """A read scoped to some days (metrics.store.scope_days: the summary's window, what changed)
    of a table read with union_by_name whose files all predate a column still has that column,
    NULL, as the whole store's view has: it comes from the table's template, not from a file."""
    from metrics.store import scope_days, unscope

    with Load(store, "raw_telemetry", collector="t") as load:
        load.write(_samples([1.0, 2.0]), scope="old")
    with Load(store, "raw_telemetry", collector="t") as load:
        load.write(_samples([4.0], start=T + timedelta(days=1)), scope="day2")
    for f in (store.lake / "raw_telemetry").glob("day=*/*.parquet"):
        _narrow(f, ("metric_type", "series_start"))    # every file as written before migration 0020
    store.migrate()
    assert "union_by_name" in _view_sql(store, "raw_telemetry")
    q = "SELECT service, value, metric_type, series_start FROM stg_telemetry WHERE sampled_at < $b"
    b = T + timedelta(hours=1)
    con = store.connect()
    try:
        whole = sorted(con.execute(q, {"b": b}).fetchall())
        assert scope_days(store, con, ("raw_telemetry",), T, b) == ["raw_telemetry"]
        scoped = sorted(con.execute(q, {"b": b}).fetchall())
        unscope(con, ["raw_telemetry"])
    finally:
        con.close()
    assert whole == scoped == [("svc-a", 1.0, None, None), ("svc-a", 2.0, None, None)]


def test_run_log_stays_a_few_files_and_every_load_reads(store):
    n = 3 * LOADS_COMPACT_AFTER_FILES
    for i in range(n):
        with Load(store, "raw_telemetry", collector="t") as load:
            load.write(_samples([float(i)], start=T + timedelta(minutes=i)), scope=f"s{i}")
    files = list((store.lake / "_onepane_loads").glob("month=*/*.parquet"))
    assert len(files) <= LOADS_COMPACT_AFTER_FILES + 1
    assert store.query("SELECT count(*) AS n FROM _onepane_visible_loads")["n"][0] == n
    assert store.query("SELECT sum(value) AS s FROM stg_telemetry")["s"][0] == sum(range(n))
