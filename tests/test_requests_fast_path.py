"""Request logs read by DuckDB in one pass (collectors/requests._csv_fast, issue 15): the rows are
the polars reader's (`read_requests`), every refusal is its typed error naming file, line and
column, and nothing is written when a row deep in a big file is bad."""
from __future__ import annotations

import csv
import math
from datetime import datetime, timezone

import polars as pl
import pytest

import collectors.requests as requests_mod
from collectors.requests import ingest_requests, read_requests
from metrics.errors import InputError

COLS = ["request_id", "arrived_at", "finished_at", "service", "model_version", "status", "prompt_tokens",
        "completion_tokens", "fallback", "abstained", "latency_s", "source"]


def _no_polars(monkeypatch):
    """Fail if the polars reader is used (the file must take the fast path)."""
    def boom(*a, **k):
        raise AssertionError("the polars reader was used")
    monkeypatch.setattr(requests_mod, "read_requests", boom)


def _stored(store) -> list[tuple]:
    return store.query(f"SELECT {', '.join(COLS)} FROM raw_requests ORDER BY request_id").rows()


def _stored_and_polars(store, path) -> tuple[list, list]:
    """The stored requests and the polars reader's rows of `path` (id, time, latency, fallback)."""
    got = store.query("SELECT request_id, arrived_at, round(latency_s, 9), fallback FROM stg_requests "
                      "ORDER BY request_id").rows()
    ref = (read_requests(path).select("request_id", "arrived_at", pl.col("latency_s").round(9), "fallback")
           .sort("request_id").rows())
    return got, ref


def _written(path) -> list:
    """The table's data files (not its typed, empty templates `_schema.parquet`, `~schema.parquet`)."""
    return sorted(p for p in path.rglob("*.parquet")
                  if "raw_requests" in p.parts and p.name not in ("_schema.parquet", "~schema.parquet"))


def test_fast_path_gives_the_polars_readers_rows(store, tmp_path, monkeypatch):
    path = tmp_path / "req.csv"
    path.write_text(
        "Request_ID,timestamp,ended_at,service,version,code,input_tokens,output_tokens,used_fallback,abstain,duration_ms\n"
        "a,2026-09-01T10:00:00Z,2026-09-01T10:00:00.250Z,chat,v1,200,12,30,yes,0,250\n"
        "b,2026-09-01 10:00:01.5+02:00,,chat,v2,500,,,,F,1e3\n"
        '"",2026-09-01T23:59:59.999999,,"chat",v1,"",0,-3,TRUE,,\n'
        "d,2026-09-01,2026-09-01T00:00:01+00:00,chat,,429,7,8,n,true,0.5\n")
    _no_polars(monkeypatch)
    out = ingest_requests(store, path)
    monkeypatch.undo()
    assert out["rows"] == 4
    ref = read_requests(path, source="req.csv").with_columns(pl.col("latency_s").round(9))
    got = _stored(store)
    want = ref.select(COLS).sort("request_id").rows()
    assert [tuple(round(x, 9) if isinstance(x, float) else x for x in r) for r in got] == want
    # by hand: latency from duration_ms; the +02:00 arrival is 08:00:01.5 UTC; quoted "" stays ""
    by_id = {r[0]: r for r in got}
    assert by_id["a"][10] == 0.25 and by_id["b"][10] == 1.0 and by_id[""][10] is None
    assert by_id["b"][1] == datetime(2026, 9, 1, 8, 0, 1, 500000, tzinfo=timezone.utc)
    assert by_id[""][5] == "" and by_id["d"][4] is None
    assert [by_id[k][8] for k in ("a", "b", "", "d")] == [True, None, True, False]
    assert [by_id[k][9] for k in ("a", "b", "", "d")] == [False, False, None, True]


def test_path_column_and_latency_from_finished(store, tmp_path, monkeypatch):
    path = tmp_path / "req.csv"
    path.write_text("id,arrived_at,finished_at,route\n"
                    "1,2026-09-01T10:00:00Z,2026-09-01T10:00:02Z,Fallback-model\n"
                    "2,2026-09-01T10:00:00Z,2026-09-01T10:00:00.125Z,abstain\n"
                    "3,2026-09-01T10:00:00Z,,\n")
    _no_polars(monkeypatch)
    ingest_requests(store, path, service="svc")
    got = store.query("SELECT request_id, service, latency_s, fallback, abstained FROM raw_requests "
                      "ORDER BY request_id").rows()
    assert got == [("1", "svc", 2.0, True, False), ("2", "svc", 0.125, False, True),
                   ("3", "svc", None, False, False)]


def _big(path, n, bad_at=None, column=None, value=None):
    """n rows over one day; row `bad_at` (0-based) gets `value` in `column`."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["request_id", "service", "arrived_at", "latency_ms", "fallback"])
        for i in range(n):
            row = {"request_id": f"r{i}", "service": "s",
                   "arrived_at": f"2026-09-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
                   "latency_ms": str(i % 97), "fallback": "false"}
            if i == bad_at:
                row[column] = value
            w.writerow(list(row.values()))


@pytest.mark.parametrize("column,value,message", [
    ("latency_ms", "-4", "not a finite, non-negative number"),
    ("latency_ms", "NaN", "not a finite, non-negative number"),
    ("latency_ms", "12ms", "not a number"),
    ("arrived_at", "2026-02-30T00:00:00Z", "not a time"),
    ("arrived_at", "1999-12-31T00:00:00Z", "outside the accepted range"),
    ("fallback", "maybe", "not a boolean"),
])
def test_bad_row_deep_in_a_big_file_is_named_and_nothing_is_written(store, tmp_path, column, value, message):
    path = tmp_path / "big.csv"
    n, bad = 120_000, 104_321
    _big(path, n, bad, column, value)
    with pytest.raises(InputError) as e:
        ingest_requests(store, path)
    assert e.value.line == bad + 2 and e.value.column == column and e.value.file == str(path)
    assert message in str(e.value)
    assert store.query("SELECT count(*) n FROM raw_requests")["n"][0] == 0
    assert _written(store.lake) == []
    assert not list((store.lake / "_staging").glob("*/*/*.parquet")) if (store.lake / "_staging").exists() else True


def test_values_the_fast_path_is_unsure_of_go_to_the_polars_reader(store, tmp_path):
    # " 5": DuckDB would read 5, polars refuses it: the error is the polars reader's
    path = tmp_path / "req.csv"
    path.write_text("request_id,service,arrived_at,latency_ms\nr1,s,2026-09-01T00:00:00Z,5\n"
                    "r2,s,2026-09-01T00:00:01Z, 5\n")
    with pytest.raises(InputError) as e:
        ingest_requests(store, path)
    with pytest.raises(InputError) as ref:
        read_requests(path)
    assert str(e.value) == str(ref.value) and e.value.line == 3 and e.value.column == "latency_ms"
    # unix seconds (not ISO): the polars reader reads it, rows as it gives them
    unix = tmp_path / "unix.csv"
    unix.write_text("request_id,service,arrived_at,latency_ms\nr1,s,1788220800,5\n")
    assert ingest_requests(store, unix)["rows"] == 1
    assert store.query("SELECT arrived_at FROM raw_requests")["arrived_at"][0] == datetime(2026, 9, 1, tzinfo=timezone.utc)


def test_multi_day_log_and_a_rerun(store, tmp_path, monkeypatch):
    path = tmp_path / "days.csv"
    path.write_text("request_id,service,arrived_at,latency_ms\n"
                    "a,s,2026-09-02T00:00:00Z,1\nb,s,2026-09-01T23:59:59.999Z,2\nc,s,2026-09-03T12:00:00Z,3\n")
    _no_polars(monkeypatch)
    assert ingest_requests(store, path)["rows"] == 3
    assert ingest_requests(store, path)["skipped"]
    per_day = store.query("SELECT strftime(arrived_at, '%Y-%m-%d') d, count(*) n, sum(latency_s) l "
                          "FROM raw_requests GROUP BY 1 ORDER BY 1").rows()
    assert per_day == [("2026-09-01", 1, 0.002), ("2026-09-02", 1, 0.001), ("2026-09-03", 1, 0.003)]
    assert sorted(p.name for p in (store.lake / "raw_requests").iterdir() if p.is_dir()) == [
        "day=2026-09-01", "day=2026-09-02", "day=2026-09-03"]


def test_duplicate_ids_in_one_log_keep_the_last_row(store, tmp_path, monkeypatch):
    path = tmp_path / "dup.csv"
    path.write_text("request_id,service,arrived_at,latency_ms\n"
                    "a,s,2026-09-01T00:00:00Z,1\nb,s,2026-09-01T00:00:01Z,2\na,s,2026-09-01T00:00:02Z,3\n")
    _no_polars(monkeypatch)
    ingest_requests(store, path)
    got = store.query("SELECT request_id, latency_s FROM stg_requests ORDER BY request_id").rows()
    assert got == [("a", 0.003), ("b", 0.002)]


def test_capture_request_log_loads_as_the_polars_reader_reads_it(store, shared):
    path = shared / "gpu-serving-capture" / "requests.csv"
    ingest_requests(store, path, service="ranker")
    ref = read_requests(path, service="ranker")
    got = store.query("SELECT count(*) n, sum(latency_s) l, min(arrived_at) a FROM raw_requests").row(0)
    assert got[0] == ref.height
    assert math.isclose(got[1], ref["latency_s"].sum(), rel_tol=1e-12)
    assert got[2] == ref["arrived_at"].min()


def test_boolean_spellings_on_the_fast_path(store, tmp_path, monkeypatch):
    # every word of the polars reader's sets, in any case, read in DuckDB (one CASE, no IN join);
    # a quoted "" is false, an empty field NULL (as the polars reader gives them)
    words = ["yes", "Y", "T", "true", "1", "NO", "n", "f", "False", "0", '""', ""]
    want = [True, True, True, True, True, False, False, False, False, False, False, None]
    path = tmp_path / "req.csv"
    path.write_text("request_id,service,arrived_at,fallback\n" + "".join(
        f"r{i:02d},s,2026-09-01T00:00:{i:02d}Z,{w}\n" for i, w in enumerate(words)))
    _no_polars(monkeypatch)
    assert ingest_requests(store, path)["rows"] == len(words)
    got = store.query("SELECT fallback FROM raw_requests ORDER BY request_id")["fallback"].to_list()
    assert got == want
    assert store.query("SELECT details FROM _onepane_loads")["details"][0] == \
        '{"requests": 12, "fallbacks": 5, "abstained": 0}'


NOT_FINITE = "not a finite, non-negative number"


@pytest.mark.parametrize("value,message", [
    ("1_000", "not a number"), ("5\t", "not a number"), ("\t5", "not a number"), ("5\x0b", "not a number"),
    # in a file without tabs, vertical tabs or form feeds the check looks for " " and "_" only
    ("5 ", "not a number"), ("1_5", "not a number"), ("\x0c5", "not a number"),
    # checked on the milliseconds before dividing, as the polars reader does (-5e-324 / 1000 is -0.0)
    ("nan", NOT_FINITE), ("inf", NOT_FINITE), ("-inf", NOT_FINITE), ("-5e-324", NOT_FINITE), ("1e309", NOT_FINITE),
])
def test_numbers_the_fast_path_cannot_take_get_the_polars_readers_error(store, tmp_path, value, message):
    # DuckDB would read the first seven as numbers, polars refuses them; the others are numbers no
    # latency may be: either way the error is the polars reader's
    path = tmp_path / "req.csv"
    path.write_text(f"request_id,service,arrived_at,latency_ms\nr1,s,2026-09-01T00:00:00Z,5\n"
                    f"r2,s,2026-09-01T00:00:01Z,7\nr3,s,2026-09-01T00:00:02Z,{value}\n")
    with pytest.raises(InputError) as e:
        ingest_requests(store, path)
    with pytest.raises(InputError) as ref:
        read_requests(path)
    assert str(e.value) == str(ref.value) and e.value.line == 4 and e.value.column == "latency_ms"
    assert message in str(e.value)
    assert _written(store.lake) == []


@pytest.mark.parametrize("column,value,quoted", [
    ("latency_s", "-0.5", False), ("latency_s", "inf", False), ("latency_s", "NaN", True),
    ("finished_at", "2999-01-01T00:00:00Z", False),       # after the accepted range
    ("finished_at", "2026-09-01T23:00:00Z", True),        # before the arrival: a negative latency
                                                          # (a log without latencies: derived)
    ("arrived_at", "1999-12-31T23:59:59Z", True),
])
def test_bounds_checked_on_the_files_statistics_refuse_any_row(store, tmp_path, column, value, quoted):
    # times out of range and latencies below 0, infinite or NaN are tested on the statistics of
    # the files the query wrote, not row by row: a middle row of a log over two days (cut by day,
    # or with quotes written partitioned by DuckDB) still gets the polars reader's error, and no
    # file is left
    rows = [["a", "s", "2026-09-01T23:59:00Z", "2026-09-01T23:59:01Z", "1"],
            ["b", "s", "2026-09-02T00:00:00Z", "2026-09-02T00:00:02Z", "2"],
            ["c", "s", "2026-09-02T00:00:05Z", "2026-09-02T00:00:05.5Z", "0.5"]]
    header = ["request_id", "service", "arrived_at", "finished_at", "latency_s"]
    rows[1][header.index(column)] = value
    if column == "finished_at":
        header, rows = header[:-1], [r[:-1] for r in rows]
    path = tmp_path / "req.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL).writerows([header, *rows])
    with pytest.raises(InputError) as e:
        ingest_requests(store, path)
    with pytest.raises(InputError) as ref:
        read_requests(path)
    assert str(e.value) == str(ref.value) and e.value.line == 3
    assert store.query("SELECT count(*) n FROM raw_requests")["n"][0] == 0 and _written(store.lake) == []


def test_statistics_that_cannot_be_read_refuse_the_write():
    # the bounds test trusts only statistics it understands: anything else sends the log to the
    # polars reader (slower, never wrong); a piece's rows off its day send it to the partitioned write
    from collectors.dates import Bounds

    bounds = Bounds.at(datetime(2026, 12, 1, tzinfo=timezone.utc))
    ok = {"null_count": "0", "min": "2026-09-01 00:00:00+00", "max": "2026-09-01 10:00:00.5+00"}
    requests_mod._check_stats([{'"arrived_at"': ok}], bounds, "2026-09-01")
    with pytest.raises(requests_mod._OtherDay):
        requests_mod._check_stats([{'"arrived_at"': ok}], bounds, "2026-09-02")
    for odd in ({**ok, "min": "not a time"}, {k: v for k, v in ok.items() if k != "null_count"},
                {**ok, "min": "2026-09-01 00:00:00", "max": "2026-09-01 10:00:00"},    # no offset
                {**ok, "null_count": "1"}, {"null_count": "0"}):
        with pytest.raises(requests_mod._Stop):
            requests_mod._check_stats([{'"arrived_at"': odd}], bounds, "2026-09-01")
    with pytest.raises(requests_mod._Stop):
        requests_mod._check_stats([{'"arrived_at"': ok, '"latency_s"': {"min": "0.5", "max": "x"}}], bounds, None)


def test_columns_the_log_lacks_are_written_as_null_and_read_as_null(store, tmp_path, monkeypatch):
    """raw_requests is read without union_by_name (metrics.store), so a lean log's file still holds
    every column of the table, the missing ones NULL."""
    path = tmp_path / "req.csv"
    path.write_text("request_id,service,arrived_at,latency_ms\nr1,s,2026-09-01T00:00:00Z,5\n")
    full = tmp_path / "full.csv"
    full.write_text("request_id,service,arrived_at,finished_at,latency_s,prompt_tokens,completion_tokens,"
                    "abstained\nr2,s,2026-09-01T00:00:01Z,2026-09-01T00:00:03Z,2,10,20,true\n")
    _no_polars(monkeypatch)
    ingest_requests(store, path)
    ingest_requests(store, full)
    files = _written(store.lake)
    assert len(files) == 2
    import duckdb
    def names(f):
        return [r[0] for r in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{f}', hive_partitioning = false)").fetchall()]
    cols, table = [names(f) for f in files], names(store.lake / "raw_requests" / "_schema.parquet")
    assert cols == [table, table] and {"prompt_tokens", "completion_tokens", "abstained"} <= set(table)
    got = store.query("SELECT request_id, finished_at, prompt_tokens, completion_tokens, abstained, latency_s "
                      "FROM stg_requests ORDER BY request_id").rows()
    assert got == [("r1", None, None, None, None, 0.005),
                   ("r2", datetime(2026, 9, 1, 0, 0, 3, tzinfo=timezone.utc), 10, 20, True, 2.0)]
    # compaction merges a lean file with a full one, values kept
    from metrics.lake import compact_partition
    folder = store.lake / "raw_requests" / "day=2026-09-01"
    assert compact_partition(store, "raw_requests", folder) == 2
    assert store.query("SELECT request_id, finished_at, prompt_tokens, completion_tokens, abstained, latency_s "
                       "FROM stg_requests ORDER BY request_id").rows() == got


def test_a_middle_row_on_another_day_still_lands_in_its_day(store, tmp_path, monkeypatch):
    # first and last row on 2026-09-01 (so the one-file write is tried), a middle row on 09-02
    path = tmp_path / "req.csv"
    path.write_text("request_id,service,arrived_at,latency_ms\n"
                    "a,s,2026-09-01T08:00:00Z,1\nb,s,2026-09-02T00:00:00+00:00,2\n"
                    "c,s,2026-09-02T01:00:00+02:00,3\nd,s,2026-09-01T23:59:59.999999Z,4\n")
    _no_polars(monkeypatch)
    assert ingest_requests(store, path)["rows"] == 4
    by_folder = {p.parent.name: sorted(duckdb_ids(p)) for p in _written(store.lake)}
    assert by_folder == {"day=2026-09-01": ["a", "c", "d"], "day=2026-09-02": ["b"]}


def duckdb_ids(path) -> list[str]:
    import duckdb
    return [r[0] for r in duckdb.sql(f"SELECT request_id FROM '{path}'").fetchall()]


def test_a_clean_log_is_written_in_any_order_and_its_ids_checked_once(store, tmp_path, monkeypatch):
    # the fast path writes the rows unordered, checks the ids itself and says so (keys_unique):
    # the commit's own check (lake_dedup._within) never runs; the rows are the polars reader's
    import metrics.lake_dedup as dedup
    path = tmp_path / "req.csv"
    _big(path, 5000)
    calls = []
    real = dedup._within
    monkeypatch.setattr(dedup, "_within", lambda con, load, *a: calls.append(load.keys_unique) or real(con, load, *a))
    _no_polars(monkeypatch)
    assert ingest_requests(store, path)["rows"] == 5000
    monkeypatch.undo()
    assert calls == [True]
    got, ref = _stored_and_polars(store, path)
    assert len(got) == 5000 and got == ref


def test_a_multi_day_log_with_an_id_twice_keeps_the_later_line(store, tmp_path):
    # cut by day, and written again in line order (one file per day, in file order)
    path = tmp_path / "req.csv"
    path.write_text("request_id,service,arrived_at,latency_ms\n"
                    "a,s,2026-09-01T10:00:00Z,1\nb,s,2026-09-01T11:00:00Z,2\na,s,2026-09-02T10:00:00Z,3\n")
    ingest_requests(store, path)
    got = store.query("SELECT request_id, arrived_at, latency_s FROM stg_requests ORDER BY request_id").rows()
    assert got == [("a", datetime(2026, 9, 2, 10, tzinfo=timezone.utc), 0.003),
                   ("b", datetime(2026, 9, 1, 11, tzinfo=timezone.utc), 0.002)]


def _days_log(path, days: int, per_day: int, extra: str = "") -> None:
    """A log in time order over `days` UTC days (times with offsets near midnight), `\\n` lines."""
    lines = ["request_id,service,arrived_at,latency_ms,fallback"]
    for d in range(days):
        for i in range(per_day):
            # the day's last rows are written at +02:00, so their local date is the next day's
            t = (f"2026-09-{d + 1:02d}T{i * 23 // per_day:02d}:{i % 60:02d}:00Z" if i < per_day - 2 else
                 f"2026-09-{d + 2:02d}T01:{i % 60:02d}:00.5+02:00")
            lines.append(f"r{d}-{i},s{i % 3},{t},{(i * 7) % 101},{'true' if i % 5 == 0 else 'false'}")
    path.write_text("\n".join(lines) + "\n" + extra)


def _partitions_written(monkeypatch) -> list:
    """The `partition` of every write the load makes (None: written partitioned by DuckDB)."""
    import metrics.lake as lake

    parts = []
    real = lake.Load.write_query
    monkeypatch.setattr(lake.Load, "write_query",
                        lambda self, con, sql, cols, *a, **k: parts.append(k.get("partition")) or
                        real(self, con, sql, cols, *a, **k))
    return parts


def test_a_multi_day_log_in_time_order_is_written_one_file_per_day(store, tmp_path, monkeypatch):
    path = tmp_path / "days.csv"
    _days_log(path, 3, 700)
    parts = _partitions_written(monkeypatch)
    _no_polars(monkeypatch)
    assert ingest_requests(store, path)["rows"] == 2100
    monkeypatch.undo()
    assert parts == ["2026-09-01", "2026-09-02", "2026-09-03"]      # no partitioned write
    by_folder = {p.parent.name: duckdb_ids(p) for p in _written(store.lake)}
    assert {k: len(v) for k, v in by_folder.items()} == {f"day=2026-09-0{d}": 700 for d in (1, 2, 3)}
    assert "r0-699" in by_folder["day=2026-09-01"] and "r1-0" in by_folder["day=2026-09-02"]
    got = store.query("SELECT request_id, service, arrived_at, round(latency_s, 9), fallback FROM stg_requests "
                      "ORDER BY request_id").rows()
    ref = (read_requests(path).select("request_id", "service", "arrived_at", pl.col("latency_s").round(9),
                                      "fallback").sort("request_id").rows())
    assert got == ref
    assert store.query("SELECT details FROM _onepane_loads")["details"][0] == \
        '{"requests": 2100, "fallbacks": 420, "abstained": 0}'
    # the piece files are gone with the staging folder
    assert not (store.lake / "_staging").exists() or not list((store.lake / "_staging").rglob("*.csv"))


@pytest.mark.parametrize("extra,tried", [
    ('r9,s1,2026-09-03T23:00:00Z,5,"true"\nr10,s1,2026-09-03T23:30:00Z,5,true\n', []),  # a quote: not cut
    ("r9,s1,2026-09-01T23:00:00Z,5,true\nr10,s1,2026-09-03T23:30:00Z,5,true\n",       # out of order: the
     ["2026-09-01", "2026-09-02", "2026-09-03"]),                                     # last day's piece stops
])
def test_a_multi_day_log_not_cut_by_day_gives_the_same_rows(store, tmp_path, monkeypatch, extra, tried):
    path = tmp_path / "days.csv"
    _days_log(path, 3, 300, extra)
    parts = _partitions_written(monkeypatch)
    _no_polars(monkeypatch)
    assert ingest_requests(store, path)["rows"] == 900 + extra.count("\n")
    monkeypatch.undo()
    assert parts == tried + [None]                    # then written partitioned by DuckDB
    got, ref = _stored_and_polars(store, path)
    assert got == ref
    import duckdb
    for p in _written(store.lake):             # every file holds the rows of its folder's UTC day only
        day = p.parent.name.removeprefix("day=")
        assert duckdb.sql(f"SELECT count(*) FROM '{p}' WHERE strftime(arrived_at AT TIME ZONE 'UTC', '%Y-%m-%d') "
                          f"<> '{day}'").fetchall() == [(0,)]


def test_a_multi_day_log_whose_pieces_cannot_be_copied_is_written_partitioned(store, tmp_path, monkeypatch):
    # copy_file_range refused (as across some file systems): the pieces are not cut, the log is
    # written partitioned by DuckDB (not handed to the polars reader), and no piece is left behind
    import errno

    path = tmp_path / "days.csv"
    _days_log(path, 3, 300)

    def no_copy(*a, **k):
        raise OSError(errno.EXDEV, "Invalid cross-device link")
    monkeypatch.setattr(requests_mod.os, "copy_file_range", no_copy)
    parts = _partitions_written(monkeypatch)
    _no_polars(monkeypatch)
    assert ingest_requests(store, path)["rows"] == 900
    monkeypatch.undo()
    assert parts == [None]
    got, ref = _stored_and_polars(store, path)
    assert got == ref
    assert not list(store.lake.rglob(".piece-*"))


def test_an_id_twice_across_the_days_of_a_log_in_time_order_keeps_the_later_line(store, tmp_path, monkeypatch):
    path = tmp_path / "days.csv"
    _days_log(path, 2, 50)
    text = path.read_text().replace("r1-9,s0,", "r0-3,s0,")     # (s0, r0-3) again, on the second day
    path.write_text(text)
    _no_polars(monkeypatch)
    assert ingest_requests(store, path)["rows"] == 100
    monkeypatch.undo()
    got = store.query("SELECT arrived_at, latency_s FROM stg_requests WHERE request_id = 'r0-3'").rows()
    ref = read_requests(path).filter(pl.col("request_id") == "r0-3").tail(1)
    assert got == [(ref["arrived_at"][0], ref["latency_s"][0])]
    assert got[0][0].day == 2 and store.query("SELECT count(*) n FROM stg_requests")["n"][0] == 99



def test_the_same_log_committed_meanwhile_is_not_loaded_twice(store, tmp_path, monkeypatch):
    """The commit looks for the same content only in the run-log files written after the start's
    look-up (metrics.lake.loaded_since): here, while the log is being written, other loads commit
    seven logs and then the same log, the ninth record of the run log's month folder, which is
    then compacted (the file the start saw and the new record merged into a new file); the first
    load then publishes nothing."""
    path = tmp_path / "req.csv"
    path.write_text("request_id,service,arrived_at,latency_ms\nr1,s,2026-09-01T00:00:00Z,5\n"
                    "r2,s,2026-09-01T00:00:01Z,7\n")
    others = []
    for i in range(8):
        other = tmp_path / f"other{i}.csv"
        other.write_text(f"request_id,service,arrived_at,latency_ms\no{i},s,2026-09-02T00:00:00Z,{i}\n")
        others.append(other)
    first = ingest_requests(store, others[0])            # a run-log file listed by the start
    real, meanwhile = requests_mod._write_fast, []

    def write_fast(*a, **k):
        out = real(*a, **k)
        if not meanwhile:
            meanwhile.append(None)                          # the loads below run the real one
            meanwhile[0] = [ingest_requests(store, f) for f in [*others[1:], path]]
        return out
    monkeypatch.setattr(requests_mod, "_write_fast", write_fast)
    out = ingest_requests(store, path)
    monkeypatch.undo()
    same = meanwhile[0][-1]
    assert not same["skipped"] and same["rows"] == 2
    assert out == {"load_id": same["load_id"], "rows": 0, "skipped": True}
    assert [p.name[0] for p in (store.lake / "_onepane_loads").glob("month=*/*.parquet")] == ["c"]
    got = store.query("SELECT request_id, count(*) n FROM raw_requests GROUP BY 1 ORDER BY 1").rows()
    assert got == [(f"o{i}", 1) for i in range(8)] + [("r1", 1), ("r2", 1)]
    assert first["rows"] == 1
    assert ingest_requests(store, path)["skipped"]


def test_request_id_check_answers_alike_whichever_way_the_hashes_are_fetched(tmp_path):
    """metrics.lake_dedup.keys_distinct: numpy up to 2M rows, a polars frame when the caller says
    more (`rows`); the (service, request_id) pairs decide, NULL ids left out."""
    import duckdb

    from metrics.lake import scratch
    from metrics.lake_dedup import keys_distinct

    files = []
    for name, rows in (("unique", "('a', 's'), ('a', 't'), ('b', 's'), (NULL, 's'), (NULL, 's')"),
                       ("twice", "('a', 's'), ('b', 's'), ('a', 's')")):
        f = tmp_path / f"{name}.parquet"
        duckdb.execute(f"COPY (SELECT * FROM (VALUES {rows}) v(request_id, service)) TO '{f}' (FORMAT parquet)")
        files.append(f)
    con = scratch()
    try:
        got = [[keys_distinct(con, "raw_requests", [f], rows=n) for f in files] for n in (None, 3, 3_000_000)]
    finally:
        con.close()
    assert got == [[True, False]] * 3
