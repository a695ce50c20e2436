"""`onepane compact` merges a partition's files and keeps every row and load id; a query retries once
when a file it listed vanished before it was read (what compaction does to a concurrent reader)."""
from __future__ import annotations

import shutil

import duckdb
import polars as pl
import pytest

from metrics.lake import Load


def _load(store, n: int, tag: str) -> None:
    with Load(store, "raw_events", collector="t", source=tag) as load:
        load.write(pl.DataFrame({"event_id": [f"{tag}-{i}" for i in range(n)], "kind": ["deploy"] * n}),
                   scope=tag)


def _parts(store):
    return {p: sorted(p.glob("*.parquet")) for p in (store.lake / "raw_events").iterdir() if p.is_dir()}


def test_cli_compact_merges_files_and_keeps_rows_and_load_ids(store, run_cli):
    for tag, n in (("a", 3), ("b", 5), ("c", 7)):
        _load(store, n, tag)
    before = store.query("SELECT event_id, _load_id FROM raw_events ORDER BY event_id")
    assert before.height == 15 and before["_load_id"].n_unique() == 3
    assert [len(f) for f in _parts(store).values()] == [3]          # one partition, a file per load
    out = run_cli("compact", "--db", store.db_path, check=True).stdout
    assert "compacted" in out and int(out.split("compacted ")[1].split()[0]) >= 3
    assert [len(f) for f in _parts(store).values()] == [1]
    assert store.query("SELECT event_id, _load_id FROM raw_events ORDER BY event_id").equals(before)
    again = run_cli("compact", "--db", store.db_path, check=True).stdout
    assert "compacted 0 files" in again                             # nothing left to merge
    _load(store, 2, "d")                                            # loads go on after compaction
    assert store.query("SELECT count(*) AS n FROM raw_events")["n"][0] == 17


@pytest.fixture
def two_files(store, tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pl.DataFrame({"x": [1, 2, 3]}).write_parquet(a)
    pl.DataFrame({"x": [4, 5]}).write_parquet(b)
    return a, b


def _reader(store, b, restore: bool, name: str = "flip"):
    """A connection whose first statement moves `b` away on its first call (compaction replaced it
    after the query listed it) and, with `restore`, back on the next (the retry finds it again)."""
    con = store.connect()
    calls = []

    def flip(x):
        calls.append(x)
        if len(calls) == 1:
            shutil.move(b, b.with_suffix(".moved"))
        elif restore and b.with_suffix(".moved").exists():
            shutil.move(b.with_suffix(".moved"), b)
        return x

    con.create_function(name, flip, ["INTEGER"], "INTEGER", side_effects=True)
    return con, calls


def test_query_retries_once_when_a_listed_file_vanished(store, two_files):
    a, b = two_files
    con, calls = _reader(store, b, restore=True)
    sql = f"SELECT flip(1); SELECT count(*) AS n, sum(x)::BIGINT AS s FROM read_parquet(['{a}', '{b}'])"
    df = store.query(sql, con=con)
    assert (df["n"][0], df["s"][0]) == (5, 1 + 2 + 3 + 4 + 5)
    assert len(calls) == 2                                      # one failed attempt, one retry


def test_query_gives_up_after_one_retry_and_never_retries_other_errors(store, two_files):
    a, b = two_files
    con, calls = _reader(store, b, restore=False)
    with pytest.raises(duckdb.IOException):
        store.query(f"SELECT flip(1); SELECT count(*) FROM read_parquet(['{a}', '{b}'])", con=con)
    assert len(calls) == 2                                      # the retry, then the error
    con2, calls2 = _reader(store, a, restore=True, name="flip2")
    with pytest.raises(duckdb.Error) as e:
        store.query("SELECT flip2(1); SELECT no_such_column FROM raw_events", con=con2)
    assert not isinstance(e.value, duckdb.IOException) and len(calls2) == 1


def test_a_run_log_record_is_kept_when_its_month_is_compacted_as_it_is_published(store, monkeypatch):
    """A load's commit publishes its run-log record (a temporary file in the month folder, renamed
    under the run log's shared lock); another process's compaction of that month (exclusive) swaps
    the folder for one holding only Parquet files. Here that compaction runs just before the
    commit takes the lock, as in `ingest billing` racing `onepane compact` (a soak run: the commit
    failed on the rename, its temporary file gone): the load still commits and every row counts."""
    import contextlib

    import metrics.lake as lake

    for tag, n in (("a", 1), ("b", 2), ("c", 3)):
        _load(store, n, tag)
    real, raced = lake.table_lock, []

    @contextlib.contextmanager
    def table_lock(s, table, exclusive):
        if table == "_onepane_loads" and not exclusive and not raced:
            raced.append(next((s.lake / table).glob("month=*")))
            assert lake.compact_partition(s, table, raced[0]) == 3        # the three records merged
        with real(s, table, exclusive):
            yield

    monkeypatch.setattr(lake, "table_lock", table_lock)
    _load(store, 4, "d")
    monkeypatch.undo()
    assert raced
    got = store.query("SELECT _load_id, count(*) AS n FROM raw_events GROUP BY 1 ORDER BY n")["n"].to_list()
    assert got == [1, 2, 3, 4]
    assert store.query("SELECT count(*) AS n FROM _onepane_loads WHERE status = 'ok'")["n"][0] == 4
    assert not list(raced[0].glob(".*.tmp"))
