# Out of the default suite until the merged main's views compare equal again (issue #19 open).
from tests.test_engines import *  # noqa: F401,F403


def test_demo_compare_is_all_equal(demo_store):
    """Every staged view, page query and analysis query of the 30-day demo on both engines."""
    from metrics.engines.compare import TOLERANCE, compare

    out, run = demo_store
    assert run.returncode == 0, run.stderr[-2000:]
    rows = compare(Store(out / "onepane.duckdb"))
    assert [r for r in rows if r["status"] != "ok"] == []
    assert len(rows) >= 120 and max(r["max_rel_diff"] for r in rows) <= TOLERANCE
    assert {r["query"] for r in rows} >= {"queries/service_technical[search-ranker]", "queries/freshness",
                                          "queries/freshness_history", "analysis/wc_span[search-ranker]",
                                          "analysis/wc_telemetry[search-ranker]"}


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

