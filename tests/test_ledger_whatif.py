"""Pure functions of metrics.whatif, checked against plain arithmetic, statsmodels and numpy."""
from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep

from metrics import whatif


def test_two_proportion_interval_matches_statsmodels():
    d, lo, hi = whatif.two_proportion_diff_ci(300, 10_000, 360, 10_000, 0.95)
    ref_lo, ref_hi = confint_proportions_2indep(360, 10_000, 300, 10_000, method="wald", compare="diff",
                                                alpha=0.05)
    assert d == pytest.approx(0.036 - 0.030)
    assert (lo, hi) == (pytest.approx(ref_lo, rel=1e-9), pytest.approx(ref_hi, rel=1e-9))


def test_marginal_cost_significant_positive_lift():
    r = whatif.marginal_cost_per_bp(cost_a=100.0, cost_b=130.0, actions_a=3000, n_a=100_000,
                                    actions_b=3600, n_b=100_000)
    lift_bp = (3600 / 100_000 - 3000 / 100_000) * 10_000            # 60 bp
    assert r["lift_bp"] == pytest.approx(lift_bp)
    assert r["significant"] and r["marginal_cost_per_bp"] == pytest.approx(30 / lift_bp)
    lo_bp, hi_bp = r["lift_ci_bp"]
    assert r["marginal_cost_per_bp_ci"] == [pytest.approx(30 / hi_bp), pytest.approx(30 / lo_bp)]
    assert r["marginal_cost_per_bp_ci"][0] < r["marginal_cost_per_bp"] < r["marginal_cost_per_bp_ci"][1]


def test_marginal_cost_not_significant_when_interval_spans_zero():
    r = whatif.marginal_cost_per_bp(100.0, 130.0, 30, 1000, 32, 1000)
    assert r["lift_ci_bp"][0] < 0 < r["lift_ci_bp"][1]
    assert not r["significant"] and r["marginal_cost_per_bp"] is None
    assert r["marginal_cost_per_bp_ci"] is None and r["display"] == "not significant"


def test_negative_lift_gives_negative_marginal_cost():
    # B costs more and converts worse: paying more per bp *lost*; the sign says so
    r = whatif.marginal_cost_per_bp(100.0, 130.0, 3600, 100_000, 3000, 100_000)
    assert r["significant"] and r["lift_bp"] == pytest.approx(-60)
    assert r["marginal_cost_per_bp"] == pytest.approx(30 / -60)


def test_bootstrap_for_non_binary_kpi():
    # revenue per session: identical daily ratios per arm -> a degenerate interval at the difference
    a = [(200.0, 100.0), (400.0, 200.0), (300.0, 150.0)]     # 2.0 per session every day
    b = [(250.0, 100.0), (500.0, 200.0), (125.0, 50.0)]      # 2.5 per session every day
    d, lo, hi = whatif.bootstrap_ratio_diff_ci(a, b)
    assert d == pytest.approx(0.5) and lo == pytest.approx(0.5) and hi == pytest.approx(0.5)
    noisy_b = [(150.0, 100.0), (700.0, 200.0), (100.0, 50.0)]
    d, lo, hi = whatif.bootstrap_ratio_diff_ci(a, noisy_b)
    assert d == pytest.approx(950 / 350 - 900 / 450)
    assert lo < d < hi


def test_fixed_variable_fit_recovers_a_line_like_numpy():
    preds = [1000, 2000, 1500, 3000, 2500]
    cost = [50 + 0.1 * p + e for p, e in zip(preds, [0.5, -0.3, 0.1, -0.2, 0.4])]
    fixed, variable, how = whatif.fit_fixed_variable(cost, preds)
    slope, intercept = np.polyfit(preds, cost, 1)
    assert (fixed, variable) == (pytest.approx(intercept), pytest.approx(slope))
    assert how == "least squares on daily history"


def test_fixed_variable_fallbacks():
    assert whatif.fit_fixed_variable([10, 12], [100, 120])[:2] == (0.0, pytest.approx(22 / 220))
    assert whatif.fit_fixed_variable([10, 12, 11], [100, 100, 100])[2].startswith("all variable")
    f, v, how = whatif.fit_fixed_variable([10, 10, 10], [100, 200, 300])
    assert (f, v) == (pytest.approx(10), pytest.approx(0)) and how == "least squares on daily history"


BASE = whatif.Baseline(daily_cost=150.0, fixed_cost=50.0, variable_cost_per_prediction=0.01,
                       predictions=10_000.0, funnel_denominator=20_000.0, funnel_actions=700.0,
                       baseline_rate=0.03, marginal_cost_per_bp=2.0, lift_bp=40.0)


def test_scenario_today_is_the_baseline():
    r = whatif.scenario(BASE)
    for k, v in r["today"].items():
        assert r["scenario"][k] == (v if v is None else pytest.approx(v)), k
    t = r["today"]
    assert t["cost_per_prediction"] == pytest.approx(150 / 10_000)
    assert t["improved_actions"] == pytest.approx(700 - 20_000 * 0.03)        # 100
    assert t["cost_per_improved_action"] == pytest.approx(150 / 100)
    # the lift is the experiment's (B over A, given), not the blended rate's (50 bp here)
    assert t["lift_bp"] == 40.0


def test_scenario_kpi_drop_price_and_traffic():
    r = whatif.scenario(BASE, kpi_drop=0.10, price_change=0.20, traffic=0.50)["scenario"]
    preds = 10_000 * 1.5
    cost = (50 + 0.01 * preds) * 1.2                       # only the variable part grows with traffic
    den = 20_000 * 1.5
    rate = 0.03 + (700 / 20_000 - 0.03) * 0.9              # the lift shrinks by 10%
    improved = den * rate - den * 0.03
    assert r["daily_cost"] == pytest.approx(cost)
    assert r["cost_per_prediction"] == pytest.approx(cost / preds)
    assert r["improved_actions"] == pytest.approx(improved)
    assert r["cost_per_improved_action"] == pytest.approx(cost / improved)
    assert r["lift_bp"] == pytest.approx(40 * 0.9)
    # the versions' cost difference moves like the service's cost: 240 / 150 today
    assert r["marginal_cost_per_bp"] == pytest.approx(2.0 * (cost / 150.0) / 0.9)


def test_scenario_total_kpi_loss_leaves_ratios_empty():
    r = whatif.scenario(BASE, kpi_drop=1.0)["scenario"]
    assert r["improved_actions"] == pytest.approx(0, abs=1e-9)
    assert r["cost_per_improved_action"] is None and r["marginal_cost_per_bp"] is None
    assert not any(isinstance(v, float) and math.isinf(v) for v in r.values())
