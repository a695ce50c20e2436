"""The same metric SQL on DuckDB and on ClickHouse's engine (chdb, in-process) over one lake.

Expected values are computed in the tests (Decimal sums, epoch arithmetic, a hand-written
interpolated quantile), never by either engine; then both engines must give them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from metrics import queries
from metrics.engines.clickhouse import ChdbEngine
from metrics.engines.lint import check
from metrics.engines.transpile import check_sql, to_clickhouse
from metrics.store import Store
from tests.billing_helpers import focus_row, write_csv
from tests.conftest import cli_env
from tests.foundation_helpers import demo_store  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chdb_session():
    from chdb import session
    s = session.Session()
    s.query("SET session_timezone = 'UTC'")
    yield s
    s.close()


def ch(s, sql: str):
    return s.query(sql, "ArrowTable").to_pylist()


# ---- the function map ----------------------------------------------------------------------------
TIMES = ["2026-03-01 10:00:07.250000", "2026-03-01 10:00:59.999999", "2026-03-01 10:01:00"]


def test_epoch_time_bucket_and_quantile_agree_with_hand_computed_values(chdb_session):
    values = ", ".join(f"(TIMESTAMPTZ '{t}+00', {i + 1}.0)" for i, t in enumerate(TIMES))
    sql = (f"SELECT epoch(ts) AS e, time_bucket(INTERVAL 15 second, ts) AS b FROM (VALUES {values}) v(ts, x) "
           "ORDER BY e")
    want_e = [datetime.fromisoformat(t).replace(tzinfo=timezone.utc).timestamp() for t in TIMES]
    want_b = [datetime.fromtimestamp(e - e % 15, timezone.utc) for e in want_e]
    duck = duckdb.sql(sql.replace("TIMESTAMPTZ '", "TIMESTAMPTZ '")).fetchall()
    assert [r[0] for r in duck] == pytest.approx(want_e, abs=1e-6)
    assert [r[1] for r in duck] == want_b
    # ClickHouse: the same statement through the transpiler, rows from a literal table
    ch_sql = to_clickhouse(sql.replace(f"(VALUES {values}) v(ts, x)",
                                       "(SELECT toDateTime64(t, 6, 'UTC') AS ts FROM (SELECT arrayJoin(["
                                       + ", ".join(f"'{t}'" for t in TIMES) + "]) AS t))"))
    got = ch(chdb_session, ch_sql)
    assert [r["e"] for r in got] == pytest.approx(want_e, abs=1e-6)
    assert [r["b"].replace(tzinfo=timezone.utc) if r["b"].tzinfo is None else r["b"] for r in got] == want_b
    # quantile_cont: linear interpolation between order statistics (R7), by hand
    xs = [3.0, 1.0, 10.0, 4.0]
    s = sorted(xs)
    pos = 0.95 * (len(s) - 1)
    want_q = s[int(pos)] + (s[int(pos) + 1] - s[int(pos)]) * (pos - int(pos))
    duck_q = duckdb.sql(f"SELECT quantile_cont(x, 0.95) FROM (SELECT unnest({xs}::DOUBLE[]) AS x)").fetchall()[0][0]
    ch_q = ch(chdb_session, to_clickhouse(f"SELECT quantile_cont(x, 0.95) AS q FROM (SELECT arrayJoin({xs}) AS x)"))[0]["q"]
    assert duck_q == pytest.approx(want_q) and ch_q == pytest.approx(want_q)


def test_metrics_check_passes_on_the_repo_and_flags_what_does_not_port():
    assert [str(i) for i in check()] == []
    assert any("not in the tested" in p for p in check_sql("SELECT strftime(ts, '%Y') FROM t"))
    assert any("BY NAME" in p for p in check_sql("SELECT 1 AS a UNION ALL BY NAME SELECT 2 AS a"))
    r = subprocess.run([sys.executable, "-m", "app", "metrics", "check"], cwd=ROOT, env=cli_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


# ---- an edge fixture: restated month, untagged cost, two currencies, many decimals ----------------
ROWS_SEP = [  # (cost, currency, day, tags)
    ("0.123456789012345678", "USD", "01", '{"service": "ranker"}'),
    ("2.000000000000000001", "USD", "01", '{"service": "ranker"}'),
    ("5.5", "EUR", "01", '{"service": "assistant"}'),
    ("7.25", "USD", "03", ""),                                   # untagged: __unallocated__
    ("1.1", "USD", "03", '{"service": "brand-new"}'),            # a service onepane.toml does not know
]
RESTATED = [("0.5", "USD", "01", '{"service": "ranker"}'), ("5.5", "EUR", "01", '{"service": "assistant"}')]


def expected_daily(rows):
    out: dict[tuple, Decimal] = {}
    for cost, cur, day, tags in rows:
        svc = json.loads(tags)["service"] if tags else "__unallocated__"
        key = (f"2026-09-{day}", svc, cur)
        out[key] = out.get(key, Decimal(0)) + Decimal(cost)
    return out


def daily(frame):
    return {(r["day"].strftime("%Y-%m-%d"), r["service"], r["billing_currency"]): Decimal(str(r["effective_cost"]))
            for r in frame.iter_rows(named=True)}


@pytest.fixture(scope="module")
def edge_store(tmp_path_factory):
    from collectors.billing.ingest import ingest_file

    d = tmp_path_factory.mktemp("edge")
    store = Store(d / "edge.duckdb").ensure()
    first = write_csv(d / "sep.csv", [focus_row(c, currency=cur, day=day, tags=t) for c, cur, day, t in ROWS_SEP])
    ingest_file(store, first)
    cut = store.query("SELECT max(finished_at) t FROM _onepane_loads")["t"][0]
    restated = write_csv(d / "sep-restated.csv",
                         [focus_row(c, currency=cur, day=day, tags=t) for c, cur, day, t in RESTATED])
    ingest_file(store, restated)
    return store, cut


PARAMS = {"start": datetime(2026, 9, 1, tzinfo=timezone.utc), "end": datetime(2026, 10, 1, tzinfo=timezone.utc),
          "services": []}


@pytest.mark.parametrize("when", ["now", "before restatement"])
def test_edge_fixture_equals_hand_computed_values_on_both_engines(edge_store, when):
    store, cut = edge_store
    as_of = cut if when != "now" else None
    want = expected_daily(ROWS_SEP if as_of else RESTATED)
    duck = daily(queries.cost_daily(store, PARAMS["start"], PARAMS["end"], as_of=as_of))
    engine = ChdbEngine(store, as_of=as_of)
    try:
        got = daily(engine.query(queries._drop_unused(queries.sql_text("cost_daily"), PARAMS), PARAMS))
        empty = engine.query(queries._drop_unused(queries.sql_text("cost_daily"), PARAMS),
                             {**PARAMS, "start": datetime(2027, 1, 1, tzinfo=timezone.utc),
                              "end": datetime(2027, 2, 1, tzinfo=timezone.utc)})
    finally:
        engine.close()
    assert duck == want
    assert got == want
    assert empty.height == 0


def test_compare_is_clean_on_the_edge_fixture_under_a_non_utc_host_timezone(edge_store):
    store, _ = edge_store
    env = dict(cli_env(), TZ="Asia/Kolkata")           # +05:30: a day bucket would move if unpinned
    r = subprocess.run([sys.executable, "-m", "app", "engines", "compare", "--db", str(store.db_path),
                        "--format", "json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    rows = {x["query"]: x for x in json.loads(r.stdout)}
    # never a wrong number: a query either matches or says why it cannot run on ClickHouse
    assert not [x for x in rows.values() if x["status"] == "differs"]
    core = ["stg_cost", "focus", "stg_services", "queries/cost_daily", "queries/cost_invoiced",
            "queries/unit_cost_daily", "queries/data_range", "analysis/cost_per_prediction[ranker]"]
    assert all(rows[q]["status"] == "ok" for q in core if q in rows), {q: rows.get(q) for q in core}
    assert {"stg_cost", "focus", "queries/cost_daily", "queries/unit_cost_daily"} <= rows.keys()


@pytest.mark.parametrize("sql, want", [("SELECT unnest(range(3)) AS k", [0, 1, 2]),
                                       ("SELECT unnest(range(2, 5)) AS k", [2, 3, 4]),
                                       ("SELECT unnest(generate_series(1, 3)) AS k", [1, 2, 3])])
def test_range_and_generate_series_keep_their_ends(chdb_session, sql, want):
    assert [r[0] for r in duckdb.sql(sql).fetchall()] == want
    assert [r["k"] for r in ch(chdb_session, to_clickhouse(sql))] == want


@pytest.mark.parametrize("sql, want", [
    # side-by-side unnests are zipped (DuckDB), not multiplied (ClickHouse's arrayJoin)
    ("SELECT k, unnest(['a', 'b']) AS m, unnest([k * 10, k * 20]) AS v FROM (SELECT 1 AS k) ORDER BY v",
     [(1, "a", 10), (1, "b", 20)]),
    # a count in one UNION branch and a BIGINT in the other find a type (DuckDB's count is signed)
    ("SELECT count(*) AS n FROM (SELECT 1) UNION ALL SELECT CAST(-1 AS BIGINT) ORDER BY n", [(-1,), (1,)]),
    # a bare name in HAVING is the SELECT alias, a name inside an aggregate is the column
    ("SELECT g, CASE WHEN x = 'x' THEN NULL ELSE 1 END AS x, sum(i) AS s FROM "
     "(SELECT 'a' AS g, 'x' AS x, 1 AS i UNION ALL SELECT 'a', 'y', 2) t GROUP BY ALL HAVING x IS NOT NULL",
     [("a", 1, 2)]),
    # a missing JSON key and a JSON null are NULL (ClickHouse's JSONExtractString gives ''), so a
    # COALESCE over two keys reaches the second one; a number is its JSON text
    ("SELECT l, json_extract_string(l, '$.status') AS s, coalesce(json_extract_string(l, '$.status'), "
     "l->>'$.code') AS c FROM (SELECT '{\"code\": \"503\"}' AS l UNION ALL SELECT '{\"status\": null, "
     "\"code\": \"500\"}' UNION ALL SELECT '{\"status\": \"ok\"}' UNION ALL SELECT '{\"status\": 5}') ORDER BY l",
     [('{"code": "503"}', None, "503"), ('{"status": "ok"}', "ok", "ok"), ('{"status": 5}', "5", "5"),
      ('{"status": null, "code": "500"}', None, "500")]),
    # text cast to JSON is kept as written (ClickHouse's JSON type would write `{"b":1,"a":1.5}`)
    ("SELECT t::JSON AS j FROM (SELECT '{\"b\": 1,  \"a\": 1.50}' AS t UNION ALL SELECT NULL) ORDER BY j",
     [('{"b": 1,  "a": 1.50}',), (None,)]),
    # casts to DECIMAL round half away from zero (ClickHouse alone would cut: 2.67, -2.67, ...678)
    ("SELECT CAST(v AS DECIMAL(10,2)) AS d FROM (SELECT '2.675' AS v UNION ALL SELECT '-2.675' "
     "UNION ALL SELECT '2.665' UNION ALL SELECT '0.004') ORDER BY d",
     [(Decimal("-2.68"),), (Decimal("0.00"),), (Decimal("2.67"),), (Decimal("2.68"),)]),
    ("SELECT TRY_CAST(v AS DECIMAL(38,18)) AS d FROM (SELECT '100.1234567890123456785' AS v "
     "UNION ALL SELECT 'n/a') ORDER BY d NULLS LAST", [(Decimal("100.123456789012345679"),), (None,)]),
    # SIMILAR TO matches the whole string
    ("SELECT s, s SIMILAR TO '.*(hour|hr).*' AS m FROM (SELECT 'GPU hours' AS s UNION ALL SELECT 'GB') ORDER BY s",
     [("GB", False), ("GPU hours", True)]),
])
def test_rewrites_keep_duckdb_semantics(chdb_session, sql, want):
    assert [tuple(r) for r in duckdb.sql(sql).fetchall()] == want
    got = [tuple(r.values()) for r in ch(chdb_session, to_clickhouse(sql))]
    assert [tuple(bool(v) if isinstance(w, bool) else v for v, w in zip(r, want[0])) for r in got] == want


@pytest.mark.parametrize("tz", ["Pacific/Chatham", "America/St_Johns"])   # +13:45 and -03:30 in September
def test_edge_fixture_under_a_non_utc_host_timezone_equals_hand_computed_days(edge_store, tz):
    store, _ = edge_store
    r = subprocess.run([sys.executable, "-c", _EDGE_SCRIPT, str(store.db_path)], cwd=ROOT,
                       env=dict(cli_env(), TZ=tz), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    want = sorted([f"{day} 00:00", svc, cur, str(cost)] for (day, svc, cur), cost in expected_daily(RESTATED).items())
    for engine in ("duckdb", "clickhouse"):
        assert [[d, s, c, str(Decimal(x).normalize())] for d, s, c, x in got[engine]] == \
               [[d, s, c, str(Decimal(x).normalize())] for d, s, c, x in want], engine


def test_storage_engine_clickhouse_sends_page_queries_to_chdb(edge_store):
    from metrics.config import parse_settings
    from metrics.engines.layer import ClickHouseQueries, attach
    from metrics.errors import ConfigError

    store, _ = edge_store
    settings = parse_settings({"storage": {"engine": "clickhouse", "timezone": "UTC"}})
    on_ch = attach(Store(store.db_path), settings)
    assert isinstance(on_ch.engine, ClickHouseQueries)
    try:
        got = daily(queries.cost_daily(on_ch, PARAMS["start"], PARAMS["end"]))
        assert on_ch.engine._engines                       # the query ran on a chdb engine
    finally:
        on_ch.engine.close()
    assert got == expected_daily(RESTATED)
    assert attach(Store(store.db_path), parse_settings({})).engine is None      # duckdb by default
    with pytest.raises(ConfigError) as e:
        parse_settings({"storage": {"timezone": "Europe/Paris"}})
    assert e.value.key == "storage.timezone"
    with pytest.raises(ConfigError) as e:
        parse_settings({"storage": {"engine": "clickhouse", "clickhouse": {"password": "x"}}})
    assert e.value.key == "storage.clickhouse.password"   # secrets are named by variable, never stored


_EDGE_SCRIPT = """
import json, sys
from datetime import datetime, timezone
from metrics import queries
from metrics.engines.clickhouse import ChdbEngine
from metrics.store import Store
store = Store(sys.argv[1])
p = {"start": datetime(2026, 9, 1, tzinfo=timezone.utc), "end": datetime(2026, 10, 1, tzinfo=timezone.utc), "services": []}
sql = queries._drop_unused(queries.sql_text("cost_daily"), p)
e = ChdbEngine(store)
out = {}
for name, frame in (("duckdb", queries.cost_daily(store, p["start"], p["end"])), ("clickhouse", e.query(sql, p))):
    out[name] = sorted([r["day"].astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M"), r["service"], r["billing_currency"],
                        str(r["effective_cost"])] for r in frame.iter_rows(named=True))
print(json.dumps(out))
"""
