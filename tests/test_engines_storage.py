"""ClickHouse storage settings: the lake on object storage (s3()), `--as-of` views in a database of
their own (what a server reader uses), and de-duplicated telemetry on chdb.

The s3() loader is run for real against the lake's files served over 127.0.0.1 by Python's plain
file server (ClickHouse's s3() reads public objects with HTTP HEAD/GET; named files need no bucket
listing). That proves the statements and the URL layout, not an object store: no S3 (nor S3's
listing, signature checks or errors) runs on this machine.
"""
from __future__ import annotations

import functools
import http.server
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from metrics import queries
from metrics.config import parse_settings
from metrics.engines.clickhouse import ChdbEngine
from metrics.engines.compare import TOLERANCE, compare
from metrics.engines.ddl import ChdbExecutor, S3Lake, ddl, load
from metrics.errors import ConfigError, OnepaneError
from metrics.store import Store
from tests.test_engines import PARAMS, RESTATED, ROWS_SEP, daily, edge_store, expected_daily  # noqa: F401


def _config_error(clickhouse: dict) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        parse_settings({"storage": {"engine": "clickhouse", "clickhouse": clickhouse}})
    return e.value


def test_lake_url_and_credential_variables_are_validated_naming_the_key():
    ok = parse_settings({"storage": {"clickhouse": {
        "lake_url": "https://acme-lake.s3.eu-west-1.amazonaws.com/onepane/lake/",
        "access_key_id_env": "LAKE_KEY_ID", "secret_access_key_env": "LAKE_SECRET"}}}).storage.clickhouse
    assert ok.lake_url == "https://acme-lake.s3.eu-west-1.amazonaws.com/onepane/lake"
    assert _config_error({"lake_url": "s3://acme-lake/onepane"}).key == "storage.clickhouse.lake_url"
    assert _config_error({"lake_url": "https://h/lake/*.parquet"}).key == "storage.clickhouse.lake_url"
    assert _config_error({"lake_url": "https://h/x", "access_key_id_env": "K"}).key == \
        "storage.clickhouse.secret_access_key_env"
    e = _config_error({"lake_url": "https://h/x", "secret_access_key_env": "S"})
    assert e.key == "storage.clickhouse.secret_access_key_env" and "access_key_id_env" in str(e)
    # a key itself in the file is refused: only the names of environment variables go there
    assert _config_error({"lake_url": "https://h/x", "secret_access_key": "abc"}).key == \
        "storage.clickhouse.secret_access_key"


def test_s3_statement_names_each_file_under_the_lake_url(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    files = [lake / "raw_focus" / "month=2026-09" / n for n in ("a 1.parquet", "b.parquet")]
    src = S3Lake(None, lake, "https://bkt.s3.amazonaws.com/p/lake/")
    assert src.source(files, "`x` Nullable(Int64)") == (
        "s3('https://bkt.s3.amazonaws.com/p/lake/raw_focus/month%3D2026-09/{a%201.parquet,b.parquet}', "
        "'Parquet', '`x` Nullable(Int64)')")
    signed = S3Lake(None, lake, "https://bkt.s3.amazonaws.com/p/lake", "AKID", "se'cret")
    assert signed.source(files[1:], "`x` Nullable(Int64)") == (
        "s3('https://bkt.s3.amazonaws.com/p/lake/raw_focus/month%3D2026-09/b.parquet', "
        "'AKID', 'se\\'cret', 'Parquet', '`x` Nullable(Int64)')")
    ch = parse_settings({"storage": {"clickhouse": {"lake_url": "https://h/lake", "access_key_id_env": "T_KEY_ID",
                                                    "secret_access_key_env": "T_SECRET"}}}).storage.clickhouse
    store = Store(tmp_path / "s.duckdb")
    monkeypatch.setenv("T_KEY_ID", "AKID")
    monkeypatch.delenv("T_SECRET", raising=False)
    with pytest.raises(ConfigError) as e:
        S3Lake.from_settings(None, store, ch)
    assert e.value.key == "storage.clickhouse.secret_access_key_env" and "T_SECRET" in str(e.value)
    monkeypatch.setenv("T_SECRET", "shh")
    assert S3Lake.from_settings(None, store, ch)._keys == ("AKID", "shh")


class _Files(http.server.SimpleHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []

    def do_HEAD(self):
        self.seen.append(("HEAD", self.path, self.headers.get("Authorization") or ""))
        super().do_HEAD()

    def do_GET(self):
        self.seen.append(("GET", self.path, self.headers.get("Authorization") or ""))
        super().do_GET()

    def log_message(self, *a):
        pass


@pytest.fixture()
def lake_over_http(edge_store):
    store, _ = edge_store
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(_Files, directory=str(store.lake.parent)))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    _Files.seen.clear()
    yield f"http://127.0.0.1:{srv.server_address[1]}/{store.lake.name}"
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("signed", [False, True])
def test_loader_reads_the_lake_with_s3_and_gives_the_hand_computed_costs(edge_store, lake_over_http, signed):
    """`onepane engines load` with lake_url: every month through s3() into MergeTree (twice: never
    doubled); the cost read there, now and as of before the restatement, is the hand-written one."""
    from chdb import session

    store, cut = edge_store
    keys = ("AKIDLOCALTEST", "not-a-real-secret") if signed else (None, None)
    s = session.Session()
    try:
        ex = S3Lake(ChdbExecutor(s), store.lake, lake_over_http, *keys)
        for stmt in ddl(store, "viaS3"):
            ex.execute(stmt)
        first = load(ex, store, "viaS3")
        assert load(ex, store, "viaS3") == first
        want_rows = store.query("SELECT target_table, sum(rows) AS n FROM _onepane_loads WHERE status = 'ok' "
                                "GROUP BY 1")
        assert first["raw_focus"] == dict(want_rows.iter_rows())["raw_focus"] == len(ROWS_SEP) + len(RESTATED)
        got = [p for m, p, _ in _Files.seen if m == "GET"]
        assert any("/raw_focus/month%3D2026-09/" in p or "/raw_focus/month=2026-09/" in p for p in got), got
        auth = {a for _, _, a in _Files.seen}
        if signed:          # every request signed with the key id (the server itself checks nothing)
            assert all(a.startswith("AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/") for a in auth), auth
        else:
            assert auth == {""}
        # an object the local lake names but the bucket lacks fails the read (a month's load then
        # stops before its REPLACE PARTITION), never a silently smaller month
        missing = ex.source([store.lake / "raw_focus" / "month=2026-09" / "not-copied.parquet"], "`x` Nullable(Int64)")
        with pytest.raises(OnepaneError, match="404"):
            ex.execute(f"SELECT count() AS n FROM {missing}")
        for as_of, rows in ((cut, ROWS_SEP), (None, RESTATED)):
            e = ChdbEngine(store, as_of=as_of, session=s, database="viaS3")
            assert daily(e.query(queries._drop_unused(queries.sql_text("cost_daily"), PARAMS), PARAMS)) == \
                expected_daily(rows)
    finally:
        s.close()


def test_as_of_views_in_their_own_database_equal_duckdb_and_leave_other_readers_alone(edge_store):
    """What a server reader at an as-of time does (layer.ClickHouseQueries): its views in
    `<database>_asof_<id>` over the shared MergeTree tables. Next to a reader at "now" on the same
    tables (its views in another database, as a server reader's are in `database`), each keeps its
    own answer; every view and query as of before the restatement equals DuckDB's as-of read;
    close() drops the as-of database only. (One chdb session stands for the server here, so the
    reader at "now" needs a database of its own too: the session's current one is switched.)"""
    from chdb import session

    store, cut = edge_store
    s = session.Session()
    try:
        ex = ChdbExecutor(s)
        for stmt in ddl(store, "edge"):
            ex.execute(stmt)
        load(ex, store, "edge")
        sql = queries._drop_unused(queries.sql_text("cost_daily"), PARAMS)
        past = ChdbEngine(store, as_of=cut, session=s, database="edge", view_database="edge_asof_t1")
        current = ChdbEngine(store, session=s, database="edge", view_database="edge_now")
        assert daily(past.query(sql, PARAMS)) == expected_daily(ROWS_SEP)
        assert daily(current.query(sql, PARAMS)) == expected_daily(RESTATED)
        assert daily(past.query(sql, PARAMS)) == expected_daily(ROWS_SEP)   # not replaced by `current`
        assert daily(queries.cost_daily(store, PARAMS["start"], PARAMS["end"], as_of=cut)) == expected_daily(ROWS_SEP)
        rows = compare(store, as_of=cut, engine=past)           # every view and query, DuckDB as of `cut`
        assert [r for r in rows if r["status"] != "ok"] == [] and len(rows) >= 50
        assert max(r["max_rel_diff"] for r in rows) <= TOLERANCE
        past.close()
        dbs = {r["name"] for r in s.query("SELECT name FROM system.databases", "ArrowTable").to_pylist()}
        assert "edge_asof_t1" not in dbs and {"edge", "edge_now"} <= dbs
        assert daily(current.query(sql, PARAMS)) == expected_daily(RESTATED)
    finally:
        s.close()


def test_stg_telemetry_drops_samples_a_newer_load_wrote_again_on_both_engines(tmp_path):
    """A re-collected counter (the same three samples again, one value corrected): stg_telemetry's
    anti-join with `_dedup_raw_telemetry` keeps each sample once with the newest value, on DuckDB
    and on chdb."""
    from collectors.openmetrics import ingest_openmetrics

    store = Store(tmp_path / "t.duckdb").ensure()
    ts = [datetime(2026, 9, 1, h, tzinfo=timezone.utc).timestamp() for h in (1, 2, 3)]

    def scrape(name: str, values: list[int], times: list[float]) -> Path:
        p = tmp_path / name
        p.write_text("# TYPE inference_requests counter\n" + "".join(
            f'inference_requests_total{{code="200"}} {v} {t:.0f}\n' for v, t in zip(values, times)) + "# EOF\n",
            encoding="utf-8")
        return p

    now = datetime(2026, 10, 1, tzinfo=timezone.utc)
    ingest_openmetrics(store, scrape("a.om", [10, 20, 30], ts), service="ranker", now=now)
    ingest_openmetrics(store, scrape("b.om", [10, 25, 30, 40], ts + [ts[-1] + 3600]), service="ranker", now=now)
    want = [(datetime.fromtimestamp(t, timezone.utc), float(v)) for t, v in zip(ts + [ts[-1] + 3600], [10, 25, 30, 40])]
    sql = ("SELECT sampled_at, value FROM stg_telemetry WHERE metric = 'inference_requests_total' "
           "ORDER BY sampled_at")
    assert store.query("SELECT count(*) AS n FROM raw_telemetry")["n"][0] == 7          # both loads kept raw
    duck = store.query(sql)
    engine = ChdbEngine(store)
    try:
        ch = engine.query(sql)
    finally:
        engine.close()
    for frame in (duck, ch):
        assert [(r["sampled_at"], r["value"]) for r in frame.iter_rows(named=True)] == want


def test_an_open_chdb_engine_sees_a_load_committed_after_it_was_made(tmp_path):
    """The engine reads the run log once into its own tables (not at every raw-view reference):
    a load committed after the engine was made is seen by its next query, with the older load's
    corrected sample superseded by the newer value, as DuckDB shows it."""
    from collectors.openmetrics import ingest_openmetrics

    store = Store(tmp_path / "t.duckdb").ensure()
    ts = [datetime(2026, 9, 1, h, tzinfo=timezone.utc).timestamp() for h in (1, 2)]
    now = datetime(2026, 10, 1, tzinfo=timezone.utc)

    def scrape(name: str, values: list[int]) -> Path:
        p = tmp_path / name
        p.write_text("# TYPE inference_requests counter\n" + "".join(
            f'inference_requests_total{{code="200"}} {v} {t:.0f}\n' for v, t in zip(values, ts)) + "# EOF\n",
            encoding="utf-8")
        return p

    sql = "SELECT value FROM stg_telemetry ORDER BY sampled_at"
    ingest_openmetrics(store, scrape("a.om", [10, 20]), service="ranker", now=now)
    engine = ChdbEngine(store)
    try:
        assert engine.query(sql)["value"].to_list() == [10.0, 20.0]
        ingest_openmetrics(store, scrape("b.om", [10, 25]), service="ranker", now=now)
        assert store.query(sql)["value"].to_list() == [10.0, 25.0]
        assert engine.query(sql)["value"].to_list() == [10.0, 25.0]
        assert engine.query("SELECT count() AS n FROM _onepane_visible_loads")["n"][0] == \
            store.query("SELECT count(*) AS n FROM _onepane_visible_loads")["n"][0] == 2
    finally:
        engine.close()
