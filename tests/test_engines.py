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
RESTATED = [("0.5", "USD", "01", '{"service": "ranker"}'), ("5.5", "EUR", "01", '{"service": "assistant"}'),
            ("0.25", "USD", "02", '{"service": "ranker"}'),          # a day ranker served nothing
            ("3.3", "USD", "02", '{"team": "search"}')]               # tags without the service key
BUDGET = "100.1234567890123456785"       # 19 decimals: DECIMAL(38,18) rounds the last 5 up
# inference_requests_total of ranker (v1) per series label and (day of Sep 2026, hour) -> counter value.
# The 503 series has a `code` label and no `status` key (the error count reads the second key).
COUNTER = {"200": [((1, 0), 0), ((1, 12), 40), ((1, 23), 100), ((2, 12), 100), ((2, 23), 100), ((3, 12), 130)],
           "503": [((1, 0), 0), ((1, 12), 4), ((2, 12), 4), ((3, 12), 6)]}


def expected_daily(rows):
    out: dict[tuple, Decimal] = {}
    for cost, cur, day, tags in rows:
        svc = json.loads(tags).get("service", "__unallocated__") if tags else "__unallocated__"
        key = (f"2026-09-{day}", svc, cur)
        out[key] = out.get(key, Decimal(0)) + Decimal(cost)
    return out


def daily(frame):
    return {(r["day"].strftime("%Y-%m-%d"), r["service"], r["billing_currency"]): Decimal(str(r["effective_cost"]))
            for r in frame.iter_rows(named=True)}


@pytest.fixture(scope="module")
def edge_store(tmp_path_factory):
    from collectors.billing.ingest import ingest_file

    from collectors.openmetrics import ingest_openmetrics
    from collectors.runner import publish_services
    from metrics.config import parse_settings

    d = tmp_path_factory.mktemp("edge")
    store = Store(d / "edge.duckdb").ensure()
    publish_services(store, parse_settings({"services": [
        {"name": "ranker", "team": "search", "budget": {"monthly": BUDGET, "currency": "USD"}},
        {"name": "assistant", "team": "chat"}]}))
    lines = ["# TYPE inference_requests counter"]
    for code, points in COUNTER.items():
        lines += [f'inference_requests_total{{model_version="v1",code="{code}"}} {v} '
                  f"{datetime(2026, 9, day, hour, tzinfo=timezone.utc).timestamp():.0f}"
                  for (day, hour), v in points]
    (d / "ranker.om").write_text("\n".join(lines + ["# EOF", ""]), encoding="utf-8")
    ingest_openmetrics(store, d / "ranker.om", service="ranker", now=datetime(2026, 10, 1, tzinfo=timezone.utc))
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


def test_zero_traffic_day_missing_json_keys_empty_window_and_decimal_rounding_on_both_engines(edge_store):
    """Hand-written values (from COUNTER, RESTATED and BUDGET above) for the queries where the two
    engines' NULL/0/'' and rounding rules differ, each run through `queries.run` on DuckDB and on
    the ClickHouse engine layer."""
    from metrics.config import parse_settings
    from metrics.engines.layer import attach

    store, _ = edge_store
    on_ch = attach(Store(store.db_path), parse_settings({"storage": {"engine": "clickhouse"}}))
    sep = {**PARAMS, "month_start": PARAMS["start"], "month_end": PARAMS["end"],
           "start": datetime(2026, 8, 1, tzinfo=timezone.utc)}
    later = {**PARAMS, "start": datetime(2027, 1, 1, tzinfo=timezone.utc), "end": datetime(2027, 2, 1, tzinfo=timezone.utc)}
    day = lambda n: f"2026-09-0{n}"                                              # noqa: E731
    # the counter's increase per day: day 2 is flat (zero traffic), 503s are found by `code`
    want_requests = {(day(1), "ranker", "v1"): (100.0 + 4, 4.0), (day(2), "ranker", "v1"): (0.0, 0.0),
                     (day(3), "ranker", "v1"): (30.0 + 2, 2.0)}
    # cost per prediction: NULL on the zero-traffic day and where nothing was measured, never 0 or inf
    want_unit = {(day(1), "ranker", "USD"): (Decimal("0.5"), 104.0, Decimal("0.5") / 104),
                 (day(1), "assistant", "EUR"): (Decimal("5.5"), None, None),
                 (day(2), "ranker", "USD"): (Decimal("0.25"), 0.0, None),
                 (day(2), "__unallocated__", "USD"): (Decimal("3.3"), None, None)}
    # the untagged-service line keeps its team from the tags; the others get the configured team
    want_teams = {("__unallocated__", "search"): Decimal("3.3"), ("ranker", "search"): Decimal("0.75"),
                  ("assistant", "chat"): Decimal("5.5")}
    want_budget = {("ranker", "USD"): (Decimal("100.123456789012345679"), Decimal("0.75"), 136.0),
                   ("assistant", "EUR"): (None, Decimal("5.5"), None),
                   ("__unallocated__", "USD"): (None, Decimal("3.3"), None)}
    teams_sql = "SELECT x_service, x_team, sum(effective_cost) AS cost FROM stg_cost GROUP BY ALL"
    empty_sql = ("SELECT sum(effective_cost) AS cost, count(*) AS n, avg(pricing_quantity) AS q FROM stg_cost "
                 "WHERE charge_period_start >= $start")
    try:
        for src in (store, on_ch):
            rq = queries.run(src, "requests_daily", PARAMS)
            assert {(r["day"].strftime("%Y-%m-%d"), r["service"], r["model_version"]): (r["requests"], r["errors"])
                    for r in rq.iter_rows(named=True)} == want_requests, src.engine
            assert set(rq["measured_by"]) == {"telemetry"}
            unit = {(r["day"].strftime("%Y-%m-%d"), r["service"], r["billing_currency"]):
                    (Decimal(str(r["effective_cost"])), r["requests"], r["cost_per_prediction"])
                    for r in queries.run(src, "unit_cost_daily", PARAMS).iter_rows(named=True)}
            assert unit.keys() == want_unit.keys(), src.engine
            for k, (cost, req, cpp) in want_unit.items():
                assert unit[k][:2] == (cost, req), (k, src.engine)
                assert (unit[k][2] is None) if cpp is None else unit[k][2] == pytest.approx(float(cpp), rel=1e-12)
            got = (src.engine.query(teams_sql) if src.engine else src.query(teams_sql)).iter_rows(named=True)
            assert {(r["x_service"], r["x_team"]): Decimal(str(r["cost"])) for r in got} == want_teams
            month = {(r["service"], r["billing_currency"]): (r["budget"], Decimal(str(r["month_to_date"])), r["requests"])
                     for r in queries.run(src, "service_month", sep).iter_rows(named=True)}
            assert month == want_budget, src.engine
            assert queries.run(src, "unit_cost_daily", later).height == 0
            assert queries.run(src, "requests_daily", later).height == 0
            empty = (src.engine.query(empty_sql, later) if src.engine else src.query(empty_sql, {"start": later["start"]}))
            assert empty.row(0) == (None, 0, None), src.engine           # an empty sum is NULL, not 0
    finally:
        on_ch.engine.close()


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
    # an aggregate FILTER no row passes is NULL (ClickHouse's sumIf of a non-Nullable value: 0,
    # avgIf: nan); count FILTER stays 0 on both
    ("SELECT g, sum(i + 1) FILTER (WHERE i > 5) AS s, avg(i) FILTER (WHERE i > 5) AS a, "
     "max(i) FILTER (WHERE i > 1) AS m, count(*) FILTER (WHERE i > 5) AS n "
     "FROM (SELECT 'a' AS g, 1 AS i UNION ALL SELECT 'a', 2 UNION ALL SELECT 'b', 7) t GROUP BY g ORDER BY g",
     [("a", None, None, 2, 0), ("b", 8, 7.0, 7, 1)]),
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


def test_column_wise_comparison_agrees_with_the_row_by_row_one():
    """compare's polars path (large frames) finds what the row-by-row path finds: rows in another
    order, float noise, NaN and NULL, times in two zones, a Bool read as UInt8, and a changed cell."""
    import polars as pl

    from metrics.engines.compare import max_rel_diff

    n = 300
    t0 = datetime(2026, 9, 1, tzinfo=timezone.utc)
    a = pl.DataFrame({"k": [f"s{i % 7}" for i in range(n)], "x": [i * 0.1 if i % 11 else None for i in range(n)],
                      "y": [float("nan") if i % 13 == 0 else 1.0 / (i + 1) for i in range(n)],
                      "d": [Decimal(i) / 8 for i in range(n)], "b": [i % 2 == 0 for i in range(n)],
                      "t": [t0.replace(hour=i % 24, day=1 + i % 28) for i in range(n)]})
    b = a.reverse().with_columns(pl.col("y") * (1 + 1e-13), pl.col("b").cast(pl.UInt8),
                                 pl.col("d").cast(pl.Float64),
                                 pl.col("t").dt.convert_time_zone("Asia/Kolkata"))
    slow, fast = max_rel_diff(a, b, fast_from=10**9), max_rel_diff(a, b, fast_from=0)
    assert 0 < slow <= 2e-13 and fast == pytest.approx(slow, rel=0.5)
    for changed in (pl.col("x") + pl.when(pl.int_range(pl.len()) == 5).then(1e-6).otherwise(0.0),
                    pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("zz")).otherwise(pl.col("k")).alias("k"),
                    pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise(pl.col("x")).alias("x"),
                    pl.col("t") + pl.when(pl.int_range(pl.len()) == 5).then(pl.duration(seconds=1)).otherwise(pl.duration())):
        c = b.with_columns(changed)
        assert max_rel_diff(a, c, fast_from=10**9) > 1e-9 and max_rel_diff(a, c, fast_from=0) > 1e-9


def test_telemetry_and_request_logs_pushed_as_arrow_batches_into_mergetree(edge_store, tmp_path):
    """Committed loads sent to the MergeTree tables (ordered by service, metric, series, time; TTL)
    in Arrow batches through chdb: the counter increase read there equals the hand-written days,
    request-log counts equal a plain-Python count, re-pushes never double, and the TTL drops rows
    older than the retention."""
    from collections import Counter

    from chdb import session

    from metrics.engines.arrow_insert import push_load
    from metrics.engines.ddl import ChdbExecutor, ddl, load
    from tests.engines_lake import SERVICES, build, requests_sql

    store, cut = edge_store
    gen = build(tmp_path / "gen", 0, requests=3_000)
    s = session.Session()      # in memory: chdb allows one path per process
    try:
        for src, db in ((store, "edge"), (gen, "gen")):
            for stmt in ddl(src, db, retention={"telemetry": "3650d", "requests": "3650d"}):
                s.query(stmt)
        assert "ORDER BY (service, metric, labels_hash, sampled_at)" in "".join(ddl(store, "x"))
        loads = lambda st, t: st.query("SELECT load_id FROM _onepane_loads WHERE target_table = ? AND status = 'ok'",  # noqa: E731
                                       [t])["load_id"].to_list()
        (telemetry,) = loads(store, "raw_telemetry")
        assert push_load(s, store, telemetry, "edge", batch_rows=3) == sum(len(v) for v in COUNTER.values())
        assert push_load(s, store, telemetry, "edge") == 0                    # already there
        (requests,) = loads(gen, "raw_requests")
        assert push_load(s, gen, requests, "gen", batch_rows=1000) == 3_000
        # a push that stopped before its run-log row: the rows are sent again, not added twice
        s.query(f"ALTER TABLE gen.lake__onepane_loads DELETE WHERE load_id = '{requests}' SETTINGS mutations_sync = 2")
        assert push_load(s, gen, requests, "gen", batch_rows=700) == 3_000

        edge = ChdbEngine(store, session=s, database="edge")
        got = edge.query(queries._drop_unused(queries.sql_text("requests_daily"), PARAMS), PARAMS)
        assert {(r["day"].strftime("%Y-%m-%d"), r["service"]): (r["requests"], r["errors"])
                for r in got.iter_rows(named=True)} == {("2026-09-01", "ranker"): (104.0, 4.0),
                                                         ("2026-09-02", "ranker"): (0.0, 0.0),
                                                         ("2026-09-03", "ranker"): (32.0, 2.0)}
        want = Counter()                                  # requests_sql's rows, counted in Python
        for i in range(3_000):
            day = datetime.fromtimestamp(datetime(2026, 5, 1, tzinfo=timezone.utc).timestamp()
                                         + i * 97 % (120 * 86400), timezone.utc).strftime("%Y-%m-%d")
            want[(day, SERVICES[i % 5], "n")] += 1
            want[(day, SERVICES[i % 5], "e")] += i % 53 == 0
        assert "i % 53 = 0 THEN '500'" in requests_sql(1)
        p = {"start": datetime(2026, 5, 1, tzinfo=timezone.utc), "end": datetime(2026, 9, 1, tzinfo=timezone.utc),
             "services": []}
        sql = queries._drop_unused(queries.sql_text("requests_daily"), p)
        for frame in (ChdbEngine(gen, session=s, database="gen").query(sql, p), queries.run(gen, "requests_daily", p)):
            got = Counter()
            for r in frame.iter_rows(named=True):
                got[(r["day"].strftime("%Y-%m-%d"), r["service"], "n")] += int(r["requests"])
                got[(r["day"].strftime("%Y-%m-%d"), r["service"], "e")] += int(r["errors"])
            assert +got == +want
        # the whole edge store through the monthly loader: --as-of reads the MergeTree tables as
        # the lake (the run log's finish times gate them), before and after the restatement
        load(ChdbExecutor(s), store, "edge")
        for as_of, rows in ((cut, ROWS_SEP), (None, RESTATED)):
            e = ChdbEngine(store, as_of=as_of, session=s, database="edge")
            assert daily(e.query(queries._drop_unused(queries.sql_text("cost_daily"), PARAMS), PARAMS)) == \
                expected_daily(rows)
        # retention: 30 days on the same rows (from 2026) drops them all when the TTL runs
        for stmt in ddl(gen, "short", retention={"requests": "30d"}):
            s.query(stmt)
        assert push_load(s, gen, requests, "short") == 3_000
        s.query("OPTIMIZE TABLE short.lake_raw_requests FINAL")
        assert s.query("SELECT count() AS n FROM short.lake_raw_requests", "ArrowTable").to_pylist() == [{"n": 0}]
    finally:
        s.close()


# a CTE read twice (win, near) and one read once (missing, with a correlated NOT EXISTS over near)
SHARED_CTES = """WITH win AS (SELECT n % 5 AS k, n AS v FROM (SELECT unnest(range(20)) AS n) t),
near AS (SELECT k, max(v) AS m FROM win WHERE v < 4 GROUP BY k),
missing AS (SELECT DISTINCT w.k FROM win w WHERE NOT EXISTS (SELECT 1 FROM near n WHERE n.k = w.k))
SELECT k, v FROM win WHERE k IN (SELECT k FROM missing) UNION ALL SELECT k, m FROM near ORDER BY 1, 2"""


def test_ctes_read_twice_are_materialized_and_a_correlated_subquery_over_them_still_answers(edge_store):
    """ClickHouse inlines a plain CTE at every reference (DuckDB computes it once): the engine marks
    the ones read twice MATERIALIZED. ClickHouse cannot decorrelate this NOT EXISTS over them, so
    the engine runs such a query again with its CTEs inlined. By hand: k = 0..3 have a value below
    4 (near: k, k); k = 4 has none, so its values 4, 9, 14, 19 come from win."""
    text = to_clickhouse(SHARED_CTES, materialize=True)
    assert "win AS MATERIALIZED" in text and "near AS MATERIALIZED" in text
    assert "missing AS MATERIALIZED" not in text and "MATERIALIZED" not in to_clickhouse(SHARED_CTES)
    want = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (4, 9), (4, 14), (4, 19)]
    assert duckdb.sql(SHARED_CTES).fetchall() == want
    store, _ = edge_store
    engine = ChdbEngine(store)
    try:
        assert engine.materialize
        assert list(engine.query(SHARED_CTES).iter_rows()) == want
        plain = SHARED_CTES.replace("k IN (SELECT k FROM missing)", "k = 4")    # no correlated subquery
        assert list(engine.query(plain).iter_rows()) == want
    finally:
        engine.close()
