"""Against a real ClickHouse server: run only when ONEPANE_CLICKHOUSE_URL is set.

This folder is outside pytest's testpaths (tests/), so the default suite never collects it (CI
fails on any skipped test, and no stub server stands in for ClickHouse). Run it by hand:

    ONEPANE_CLICKHOUSE_URL=http://127.0.0.1:8123 [ONEPANE_CLICKHOUSE_USER=default] \
    [ONEPANE_CLICKHOUSE_PASSWORD=...] .venv/bin/python -m pytest -q tests_server

It creates a database `onepane_test_<random>` and drops it at the end.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from metrics import queries
from metrics.config import ClickHouse
from metrics.engines.clickhouse import ChdbEngine
from metrics.engines.ddl import ddl, load
from metrics.engines.layer import HttpSession, server_session
from tests.engines_lake import MONTHS, build

URL = os.environ.get("ONEPANE_CLICKHOUSE_URL")
if not URL:
    raise RuntimeError("set ONEPANE_CLICKHOUSE_URL to run the ClickHouse server tests (see the docstring)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = f"onepane_test_{uuid.uuid4().hex[:8]}"
    os.environ.setdefault("ONEPANE_CLICKHOUSE_PASSWORD", "")
    ch = ClickHouse(url=URL, database=db, user=os.environ.get("ONEPANE_CLICKHOUSE_USER", "default"),
                    password_env="ONEPANE_CLICKHOUSE_PASSWORD")
    admin = HttpSession(URL, ch.user, os.environ["ONEPANE_CLICKHOUSE_PASSWORD"] or None, "default")
    store = build(tmp_path_factory.mktemp("server"), 200_000, requests=20_000)
    yield store, ch
    admin.execute(f"DROP DATABASE IF EXISTS `{db}`")


def test_ddl_load_and_queries_on_a_server_equal_duckdb(server):
    store, ch = server
    s = server_session(ch)
    for stmt in ddl(store, ch.database, retention={"requests": "3650d"}):
        s.execute(stmt)
    first = load(s, store, ch.database)
    again = load(s, store, ch.database)
    assert first == again                                   # REPLACE PARTITION: re-runs never double
    engine = ChdbEngine(store, session=s, database=ch.database)
    totals = "SELECT billing_currency AS c, count(*) AS n, sum(effective_cost) AS cost FROM stg_cost GROUP BY 1 ORDER BY 1"
    assert engine.query(totals).to_dicts() == store.query(totals).to_dicts()
    p = {"start": datetime(2026, 5, 1, tzinfo=timezone.utc), "end": datetime(2026, 9, 1, tzinfo=timezone.utc),
         "services": []}
    sql = queries._drop_unused(queries.sql_text("cost_daily"), p)
    got = engine.query(sql, p).sort(["day", "service", "billing_currency"])
    want = queries.cost_daily(store, p["start"], p["end"]).sort(["day", "service", "billing_currency"])
    assert got.height == want.height > 0
    assert [Decimal(str(x)) for x in got["effective_cost"]] == [Decimal(str(x)) for x in want["effective_cost"]]
    assert len(MONTHS) == 4


@pytest.mark.parametrize("client", ["http", "clickhouse-connect"])
def test_request_logs_pushed_as_arrow_batches_equal_duckdb(server, client):
    """push_load over the server's HTTP interface (FORMAT ArrowStream) and over clickhouse-connect
    (`client.insert_arrow`; needs `pip install clickhouse-connect`): rows sent once, counts equal."""
    from metrics.engines.arrow_insert import push_load

    store, ch = server
    s = server_session(ch)
    db = f"{ch.database}_arrow_{client.replace('-', '_')}"
    for stmt in ddl(store, db, retention={"requests": "3650d"}):
        s.execute(stmt)
    if client == "http":
        sink = s
    else:
        import clickhouse_connect
        from urllib.parse import urlparse

        u = urlparse(URL)
        sink = clickhouse_connect.get_client(host=u.hostname, port=u.port or 8123, username=ch.user,
                                             password=os.environ["ONEPANE_CLICKHOUSE_PASSWORD"])
    try:
        (load_id,) = store.query("SELECT load_id FROM _onepane_loads WHERE target_table = 'raw_requests' "
                                 "AND status = 'ok'")["load_id"].to_list()
        assert push_load(sink, store, load_id, db, batch_rows=5_000) == 20_000
        assert push_load(sink, store, load_id, db) == 0
        count = "SELECT service, count(*) AS n FROM raw_requests GROUP BY 1 ORDER BY 1"
        engine = ChdbEngine(store, session=s, database=db)
        assert engine.query(count).to_dicts() == store.query(count).to_dicts()
    finally:
        s.execute(f"DROP DATABASE IF EXISTS `{db}`")


def test_as_of_on_a_server_equals_duckdb_and_drops_its_view_database(server):
    """`--as-of` on a server: the reader's views go in `<database>_asof_<id>` over the shared
    MergeTree tables; the totals before the restated month's second delivery and now equal
    DuckDB's, and closing the reader drops that database."""
    from metrics.engines.layer import ClickHouseQueries

    store, ch = server
    s = server_session(ch)
    for stmt in ddl(store, ch.database, retention={"requests": "3650d"}):
        s.execute(stmt)
    load(s, store, ch.database)
    done = store.query("SELECT finished_at FROM _onepane_loads WHERE target_table = 'raw_focus' "
                       "AND status = 'ok' ORDER BY finished_at")["finished_at"].to_list()
    cut = done[-2]                                        # before the restatement (the last load)
    totals = "SELECT billing_currency AS c, count(*) AS n, sum(effective_cost) AS cost FROM stg_cost GROUP BY 1 ORDER BY 1"
    reader = ClickHouseQueries(store, ch)
    try:
        before, now = reader.query(totals, as_of=cut), reader.query(totals)
        assert before.to_dicts() == store.query(totals, as_of=cut).to_dicts() != now.to_dicts()
        assert now.to_dicts() == store.query(totals).to_dicts()
        view_dbs = [e.view_database for e in reader._engines.values() if e.view_database]
    finally:
        reader.close()
    assert len(view_dbs) == 1
    assert s.rows(f"SELECT name FROM system.databases WHERE name = '{view_dbs[0]}'") == []
