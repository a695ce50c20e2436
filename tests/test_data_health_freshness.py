"""Data health: freshness over time per source, one line per source whose last point is the age of
its newest data now, against the expected age (a stale feed is visible at a glance)."""
from __future__ import annotations

import pytest

from tests.test_app import app_env, charts, fixture_store, run_page  # noqa: F401


def test_freshness_over_time_chart_per_source(app_env):  # noqa: F811
    from datetime import timedelta

    from metrics.store import Store

    store = Store(app_env.store.db_path)
    loaded = store.query("SELECT max(finished_at) AS t FROM _onepane_loads")["t"][0]
    as_of = loaded + timedelta(hours=1)                  # after every load: all of them count
    at = run_page("data_health.py", as_of=as_of.isoformat().replace("+00:00", "Z"))
    assert not at.exception
    fig = next(c for c in charts(at) if "Age of each source" in c["layout"]["title"]["text"])
    lines = {t["name"]: t for t in fig["data"] if t.get("name")}
    # expected independently: per source, one point per load, and the newest data's age at as_of
    raw = store.query("SELECT 'telemetry' AS layer, coalesce(source, 'telemetry') AS source, "
                      "count(DISTINCT _load_id) AS loads, max(sampled_at) AS newest FROM raw_telemetry GROUP BY ALL")
    for r in raw.iter_rows(named=True):
        t = lines[f"{r['layer']} · {r['source']}"]
        assert len(t["y"]) == r["loads"] + 1
        age_now = (as_of - r["newest"]).total_seconds() / 3600
        assert t["y"][-1] == pytest.approx(age_now)
    # the expected age (the default 1-day freshness SLO) is drawn
    assert any(s.get("y0") == 24 for s in fig["layout"].get("shapes", []))
