from metrics.store import Store
from tests.foundation_helpers import demo_store  # noqa: F401 - fixture (not `import *` from
# test_engines: that collects and runs every test of test_engines a second time)


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
