"""Marginal cost per basis point of lift and what-if over a store, hand-computed."""
from __future__ import annotations

import json

import pytest
from statsmodels.stats.proportion import confint_proportions_2indep

from metrics.config import parse_settings
from metrics.errors import OnepaneError
from metrics.ledger import marginal_cost_per_bp, what_if
from tests.ledger_helpers import put_costs, put_kpis, put_requests

SVC = {"name": "search", "team": "discovery", "baseline_version": "v1",
       "funnel": {"action": "purchases", "denominator": "impressions"}}
CONFIG = parse_settings({"services": [SVC]})
DAYS = ["2026-02-01", "2026-02-02", "2026-02-03", "2026-02-04"]
# per day: (v1 impressions, v1 purchases, v1 cost, v2 impressions, v2 purchases, v2 cost, requests v1, v2)
PLAN = [(10_000, 300, "100", 10_000, 350, "128", 1000, 1000),
        (12_000, 372, "110", 9_000, 330, "125", 1200, 900),
        (10_000, 290, "100", 11_000, 400, "137", 1000, 1100),
        (8_000, 238, "90", 10_000, 362, "130", 800, 1000)]


@pytest.fixture
def ab_store(store, tmp_path):
    costs, kpis, reqs = [], [], {}
    for d, (ia, pa, ca, ib, pb, cb, ra, rb) in zip(DAYS, PLAN):
        costs += [(d, "search", "v1", "USD", ca, ca), (d, "search", "v2", "USD", cb, cb)]
        kpis += [(d, "search", "v1", "impressions", ia), (d, "search", "v1", "purchases", pa),
                 (d, "search", "v2", "impressions", ib), (d, "search", "v2", "purchases", pb)]
        reqs[(d, "search", "v1")], reqs[(d, "search", "v2")] = ra, rb
    put_costs(store, costs)
    put_kpis(store, tmp_path, kpis, CONFIG)
    put_requests(store, reqs)
    return store


def test_marginal_cost_per_bp_and_interval(ab_store):
    r = marginal_cost_per_bp(ab_store, CONFIG, "search")
    ia, pa = sum(p[0] for p in PLAN), sum(p[1] for p in PLAN)
    ib, pb = sum(p[3] for p in PLAN), sum(p[4] for p in PLAN)
    cost_a = sum(float(p[2]) for p in PLAN) / 4
    cost_b = sum(float(p[5]) for p in PLAN) / 4
    lift_bp = (pb / ib - pa / ia) * 10_000
    assert (r["a"], r["b"], r["currency"]) == ("v1", "v2", "USD")
    assert r["delta_daily_cost"] == pytest.approx(cost_b - cost_a)
    assert r["lift_bp"] == pytest.approx(lift_bp)
    assert r["method"].startswith("two-proportion")
    lo, hi = confint_proportions_2indep(pb, ib, pa, ia, method="wald", compare="diff")
    assert r["significant"]
    assert r["marginal_cost_per_bp"] == pytest.approx((cost_b - cost_a) / lift_bp)
    assert r["marginal_cost_per_bp_ci"] == [pytest.approx((cost_b - cost_a) / (hi * 1e4)),
                                            pytest.approx((cost_b - cost_a) / (lo * 1e4))]


def test_days_only_one_version_served_are_left_out(ab_store, tmp_path):
    # before the test v1 ran alone on more hardware: it must not change the comparison
    before = marginal_cost_per_bp(ab_store, CONFIG, "search")
    put_costs(ab_store, [("2026-01-31", "search", "v1", "USD", "400", "400")], scope="pre")
    put_kpis(ab_store, tmp_path, [("2026-01-31", "search", "v1", "impressions", 20_000),
                                  ("2026-01-31", "search", "v1", "purchases", 500)], CONFIG, name="pre.csv")
    after = marginal_cost_per_bp(ab_store, CONFIG, "search")
    assert after["window"]["basis"] == "days both versions served traffic"
    assert after["marginal_cost_per_bp"] == pytest.approx(before["marginal_cost_per_bp"])
    assert after["arm_a"]["days"] == 4


def test_experiment_events_set_the_window(ab_store):
    from collectors.events import add_event

    add_event(ab_store, kind="experiment_start", service="search", model_version="v2",
              at="2026-02-01T09:00:00Z", detail="v2 vs v1")
    add_event(ab_store, kind="experiment_stop", service="search", model_version="v2",
              at="2026-02-04T12:00:00Z")
    r = marginal_cost_per_bp(ab_store, CONFIG, "search")
    full = PLAN[1:3]                           # 02-02 and 02-03: the full days inside the experiment
    cost_a = sum(float(p[2]) for p in full) / 2
    cost_b = sum(float(p[5]) for p in full) / 2
    lift_bp = (sum(p[4] for p in full) / sum(p[3] for p in full)
               - sum(p[1] for p in full) / sum(p[0] for p in full)) * 10_000
    assert r["window"]["basis"].startswith("full days of the experiment")
    assert r["delta_daily_cost"] == pytest.approx(cost_b - cost_a)
    assert r["lift_bp"] == pytest.approx(lift_bp)


def test_small_lift_is_not_significant(store, tmp_path):
    put_costs(store, [("2026-02-01", "search", "v1", "USD", "100", "100"),
                      ("2026-02-01", "search", "v2", "USD", "130", "130")])
    put_kpis(store, tmp_path, [("2026-02-01", "search", "v1", "impressions", 1000),
                               ("2026-02-01", "search", "v1", "purchases", 30),
                               ("2026-02-01", "search", "v2", "impressions", 1000),
                               ("2026-02-01", "search", "v2", "purchases", 32)], CONFIG)
    lo, hi = confint_proportions_2indep(32, 1000, 30, 1000, method="wald", compare="diff")
    assert lo < 0 < hi                                 # the data really cannot tell
    r = marginal_cost_per_bp(store, CONFIG, "search")
    assert not r["significant"] and r["marginal_cost_per_bp"] is None
    assert r["display"] == "not significant"
    assert r["point_estimate"] == pytest.approx(30 / 20)    # kept for the curious, not displayed


def test_mixed_currencies_refused(ab_store):
    put_costs(ab_store, [("2026-02-02", "search", "v2", "EUR", "5", "5")], scope="eur")
    with pytest.raises(OnepaneError, match="EUR, USD"):
        marginal_cost_per_bp(ab_store, CONFIG, "search")


def test_what_if_uses_the_history(ab_store):
    r = what_if(ab_store, CONFIG, "search", kpi_drop=0.10, price_change=0.20, traffic=0.50)
    day_cost = [float(p[2]) + float(p[5]) for p in PLAN]
    day_preds = [p[6] + p[7] for p in PLAN]
    n = len(PLAN)
    assert r["days"] == n and r["currency"] == "USD"
    assert r["today"]["daily_cost"] == pytest.approx(sum(day_cost) / n)
    assert r["today"]["predictions"] == pytest.approx(sum(day_preds) / n)
    b = r["baseline"]
    # the fixed + variable line by least squares over the plan's own days, here in plain Python
    mx, my = sum(day_preds) / n, sum(day_cost) / n
    slope = (sum((x - mx) * (y - my) for x, y in zip(day_preds, day_cost))
             / sum((x - mx) ** 2 for x in day_preds))
    assert b["variable_cost_per_prediction"] == pytest.approx(slope, rel=1e-9)
    assert b["fixed_cost"] == pytest.approx(my - slope * mx, rel=1e-9)
    base_rate = sum(p[1] for p in PLAN) / sum(p[0] for p in PLAN)
    assert b["baseline_rate"] == pytest.approx(base_rate)
    s = r["scenario"]
    assert s["daily_cost"] == pytest.approx((b["fixed_cost"] + b["variable_cost_per_prediction"]
                                             * 1.5 * sum(day_preds) / n) * 1.2)


def test_cli_what_if_and_marginal(ab_store, run_cli, tmp_path):
    cfg = tmp_path / "onepane.toml"
    cfg.write_text('[[services]]\nname = "search"\nbaseline_version = "v1"\n'
                   '[services.funnel]\naction = "purchases"\ndenominator = "impressions"\n')
    out = run_cli("what-if", "--service", "search", "--kpi-drop", "10%", "--price-change", "+20%",
                  "--traffic", "+50%", "--format", "json", "--db", ab_store.db_path, "--config", cfg,
                  check=True)
    r = json.loads(out.stdout)
    assert r["assumptions"] == {"kpi_drop": 0.10, "price_change": 0.20, "traffic": 0.50}
    m = run_cli("marginal-cost", "--service", "search", "--db", ab_store.db_path, "--config", cfg, check=True)
    assert "marginal cost:" in m.stdout and "per bp" in m.stdout
