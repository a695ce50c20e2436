"""The demo company's planted A/B rollout: the ledger's marginal cost per basis point of lift lies
in the interval its ground truth implies, and the truth lies in the ledger's interval."""
from __future__ import annotations

import json
import math

import pytest

from collectors.runner import publish_services, run_sources
from metrics.config import load_settings
from metrics.ledger import marginal_cost_per_bp
from metrics.store import Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from collectors.demo import generate

    out = generate(tmp_path_factory.mktemp("demo") / "demo-data", seed=7, days=30,
                   end="2026-11-01T00:00:00Z")
    config = load_settings(out / "onepane.toml")
    store = Store(out / "ledger.duckdb").ensure()
    publish_services(store, config)
    names = [s.name for s in config.source if s.type in ("billing", "kpis", "events")]
    results = run_sources(store, config, names)
    assert results and all(r.ok for r in results), [r.error for r in results if not r.ok]
    return store, config, json.loads((out / "ground_truth.json").read_text())


def test_marginal_cost_per_bp_matches_the_planted_ab_test(demo):
    store, config, truth = demo
    ab = truth["ab_test"]
    r = marginal_cost_per_bp(store, config, ab["service"])
    assert (r["a"], r["b"]) == (ab["control"], ab["treatment"])
    assert r["window"]["basis"].startswith("full days of the experiment")
    # the arms' GPU pools are the only version-tagged cost: the daily difference is exact
    assert r["delta_daily_cost"] == pytest.approx(ab["daily_cost_treatment"] - ab["daily_cost_control"],
                                                  rel=1e-12)
    # the interval the truth implies at the observed sample sizes (two-proportion, 95%)
    pc, pt = ab["true_rate_control"], ab["true_rate_treatment"]
    na, nb = r["arm_a"]["denominator"], r["arm_b"]["denominator"]
    se_bp = 1e4 * math.sqrt(pc * (1 - pc) / na + pt * (1 - pt) / nb)
    true_lift = (pt - pc) * 1e4
    delta = ab["daily_cost_treatment"] - ab["daily_cost_control"]
    implied = sorted((delta / (true_lift + 1.96 * se_bp), delta / (true_lift - 1.96 * se_bp)))
    assert r["significant"]
    assert implied[0] <= r["marginal_cost_per_bp"] <= implied[1]
    lo, hi = r["marginal_cost_per_bp_ci"]
    assert lo <= ab["marginal_daily_cost_per_bp"] <= hi
