"""Month-end budget forecasts (issue 21): a trend is seen, the model is picked on the service's own
history, and the 80 % interval holds the true month-end about 80 % of the time over many generated
series. Expected values are computed here: the linear projection by hand, the true month-end as
the sum of the generated future days."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from metrics.config import parse_settings
from tests.whatchanged_helpers import write_costs


def test_linear_growth_is_forecast_near_the_linear_projection_and_alerted(store):
    """200 + 4 a day from 1 November: 15 days seen; the linear month-end is Σ_{d<30} (200 + 4d)."""
    from metrics.alerts import evaluate
    from metrics.analysis.budgets import budget_status

    write_costs(store, [{"day": date(2026, 11, 1) + timedelta(days=d), "service": "svc", "team": "t",
                         "sku": "gpu", "cost": 200 + 4 * d, "quantity": 1} for d in range(15)])
    linear = sum(200 + 4 * d for d in range(30))                   # 7,740
    flat = sum(200 + 4 * d for d in range(15)) + 15 * (200 + 4 * 14)   # the last day kept flat: 7,260
    cfg = parse_settings({"services": [{"name": "svc", "budget": {"monthly": "7400"}}]})
    at = datetime(2026, 11, 16, tzinfo=timezone.utc)
    r = budget_status(store, cfg, at)[0]
    assert float(r["month_to_date"]) == sum(200 + 4 * d for d in range(15))
    assert float(r["forecast"]) == pytest.approx(linear, rel=0.02)
    assert abs(float(r["forecast"]) - linear) < abs(float(r["forecast"]) - flat)
    assert "trend" in r["model"] and r["status"] != "ok" and r["p_over_budget"] > 0.9
    alert = next(a for a in evaluate(store, cfg, at) if a["rule"] == "budget_forecast")
    assert alert["details"]["forecast"] == r["forecast"]
    assert f"{r['p_over_budget'] * 100:.0f}% likely to overrun" in alert["summary"]
    assert f"model: {r['model']}" in alert["summary"]


HIST, STEPS = 28 + 15, 15


def _series(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(HIST + STEPS)
    if kind == "flat":
        mu = np.full(t.size, 200.0)
    elif kind == "trend":
        mu = 200.0 + rng.uniform(1, 5) * t
    elif kind == "weekly":
        mu = 200.0 + 40 * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 2 * np.pi))
    else:                                         # a +50 % step on a day of the history
        mu = np.where(t >= rng.integers(10, HIST - 7), 300.0, 200.0)
    return mu + rng.normal(0, 15, t.size)


def test_80_percent_interval_holds_the_true_month_end_about_80_percent_of_the_time():
    """40 generated series (10 of each kind), seeds unlike the calibration's; the true sum of the
    15 future days must fall inside the interval for about 80 % of them (±2 standard errors)."""
    from metrics.analysis.forecast import forecast_sum

    rng = np.random.default_rng(20261202)
    hits = []
    for kind in ("flat", "trend", "weekly", "step"):
        for i in range(10):
            y = _series(kind, rng)
            fc = forecast_sum(y[:HIST], STEPS, seed=i)
            hits.append(fc.low <= float(y[HIST:].sum()) <= fc.high)
    coverage = float(np.mean(hits))
    se = np.sqrt(0.8 * 0.2 / len(hits))
    print(f"measured coverage {coverage:.3f} over {len(hits)} series")
    assert 0.8 - 2 * se <= coverage <= 0.8 + 2 * se
