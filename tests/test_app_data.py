"""app/data.py: cached results are invalidated by a collector's commit, not only by the TTL."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import polars as pl

from metrics.lake import Load
from tests import app_helpers as fx


def test_a_new_load_invalidates_the_cache_at_once(tmp_path, monkeypatch):
    f = fx.build(tmp_path)
    monkeypatch.setenv("ONEPANE_DB", str(f.store.db_path))
    monkeypatch.setenv("ONEPANE_CONFIG", str(f.config_path))
    from app import data

    window = (fx.FIRST_DAY.date(), (fx.LAST_DAY + timedelta(days=1)).date())

    def ranker_total():
        df = data.cost_daily(*window, ("ranker",))
        return sum(df["effective_cost"].to_list())

    before = ranker_total()
    assert before == fx.RANKER_DAILY * fx.DAYS
    assert ranker_total() == before
    with Load(f.store, "raw_focus", collector="focus", source="late-bill") as load:
        load.write(pl.DataFrame([{"billing_currency": "USD", "charge_period_start": fx.LAST_DAY,
                                  "billing_period_start": fx.LAST_DAY.replace(day=1),
                                  "effective_cost": "5.25", "billed_cost": "5.25", "x_service": "ranker",
                                  "service_category": "Compute"}]))
    assert ranker_total() == before + Decimal("5.25")
