"""The demo company's planted A/B rollout: the ledger's marginal cost per basis point of lift lies
in the interval its ground truth implies, and the truth lies in the ledger's interval."""
from __future__ import annotations

import json
import math

import pytest

from metrics.config import load_settings
from metrics.ledger import marginal_cost_per_bp
from metrics.store import Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tests.conftest import ingested_demo

    out = ingested_demo(tmp_path_factory, "demo", seed=7, days=30, end="2026-11-01T00:00:00Z")
    config = load_settings(out / "onepane.toml")
    store = Store(out / "onepane.duckdb")
    return store, config, json.loads((out / "ground_truth.json").read_text())


def test_marginal_cost_per_bp_matches_the_planted_ab_test(demo):
    store, config, truth = demo
    ab = truth["ab_test"]
    r = marginal_cost_per_bp(store, config, ab["service"])
    assert (r["a"], r["b"]) == (ab["control"], ab["treatment"])
    assert r["window"]["basis"].startswith("full days of the experiment")
    # the arms' GPU pools are the version-tagged cost; the service's untagged storage and egress
    # are spread by predictions, which the 50 % split makes (almost exactly) equal
    assert r["delta_daily_cost"] == pytest.approx(ab["daily_cost_treatment"] - ab["daily_cost_control"],
                                                  abs=0.01)
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


def test_llm_tokens_vendor_and_self_hosted(demo):
    """support-assistant routes a planted share of its tokens to its own GPUs and the rest to a
    vendor whose price rises by a planted factor on a planted day."""
    import statistics

    from metrics.ledger import token_economics
    from metrics.times import parse_time

    store, config, truth = demo
    llm = truth["llm"]
    service = next(s.name for s in config.services if s.kind == "llm")
    rows = [r for r in token_economics(store, config, service).to_dicts()
            if r["vendor_tokens"] and r["served_tokens"]]
    assert rows
    first = min(r["day"] for r in rows)          # the counter's first sample is only a baseline
    for r in rows:
        if r["day"] != first:
            share = r["self_hosted_tokens"] / r["served_tokens"]
            assert share == pytest.approx(llm["self_hosted_share"], abs=0.01), r["day"]
    change = next(parse_time(i["start"]) for i in truth["incidents"] if i["cause"]["kind"] == "price_change")
    before = [r["vendor_cost_per_1k_tokens"] for r in rows if r["day"] < change.date()]
    after = [r["vendor_cost_per_1k_tokens"] for r in rows if r["day"] > change.date()]
    factor = float(llm["price_after"]["input"]) / float(llm["price_before"]["input"])
    assert statistics.median(after) / statistics.median(before) == pytest.approx(factor, rel=0.02)
