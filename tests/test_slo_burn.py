"""Request-based SLO burn rates (Google SRE workbook, "Alerting on SLOs"), from counters built here.

Every case has three days at 0.5× the error budget first, so every window (up to 3 d) has data, then
an episode at k× for a while; the check runs at the end of the episode. 10,000 requests a minute and
error_rate = 0.001 (objective 99.9 %): 0.5× = 5 errors a minute, k× = 10·k errors a minute.
Expected burns are computed here from the error counts: (errors / requests) / 0.001.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from metrics.config import parse_settings
from tests.whatchanged_helpers import write_request_counters

T0 = 1_790_000_000.0 - (1_790_000_000.0 % 3600)
PER_MIN = 10_000
BUDGET = 0.001
BASE_MIN = 3 * 24 * 60
PAIRS = [("1h", "5m", 60, 5), ("6h", "30m", 360, 30), ("1d", "2h", 1440, 120), ("3d", "6h", 4320, 360)]


def scenario(store, factor: float, minutes: int, period: str = "30d"):
    """Write 3 days at 0.5× then `minutes` at `factor`×; return (config, at, errors per minute list)."""
    per_min = [5] * BASE_MIN + [round(10 * factor)] * minutes
    write_request_counters(store, "svc", T0, len(per_min), PER_MIN, dict(enumerate(per_min)))
    cfg = parse_settings({"services": [{"name": "svc", "slo": {
        "error_rate": BUDGET, "objective": 0.999, "period": period}}]})
    return cfg, datetime.fromtimestamp(T0 + 60 * len(per_min), timezone.utc), per_min


def hand_burn(per_min: list[int], window_min: int) -> float:
    last = per_min[-window_min:]
    return sum(last) / (PER_MIN * len(last)) / BUDGET


def fired(store, cfg, at):
    from metrics.alerts import evaluate

    return {a["subject"].split("/")[-1]: a for a in evaluate(store, cfg, at) if a["rule"] == "slo_burn"}


def check_figures(alerts, per_min):
    for long_, short, lm, sm in PAIRS:
        a = alerts.get(f"{long_}-{short}")
        if a is None:
            continue
        bl, bs = hand_burn(per_min, lm), hand_burn(per_min, sm)
        assert a["details"]["burn_long"] == pytest.approx(bl, rel=1e-9)
        assert a["details"]["burn_short"] == pytest.approx(bs, rel=1e-9)
        assert f"{bl:.1f}× over {long_} and {bs:.1f}× over {short}" in a["summary"]


def test_14_4x_for_an_hour_pages_on_the_1h_pair(store):
    cfg, at, per_min = scenario(store, 14.4, 60)
    got = fired(store, cfg, at)
    assert set(got) == {"1h-5m"} and got["1h-5m"]["severity"] == "page"
    assert hand_burn(per_min, 60) == pytest.approx(14.4)
    assert hand_burn(per_min, 360) == pytest.approx((300 * 5 + 60 * 144) / 3_600_000 / BUDGET)   # 2.8 < 6
    check_figures(got, per_min)
    assert "99.9% of requests succeed" in got["1h-5m"]["summary"]


def test_6x_for_six_hours_pages_on_the_6h_pair_only(store):
    cfg, at, per_min = scenario(store, 6, 360)
    got = fired(store, cfg, at)
    assert set(got) == {"6h-30m"} and got["6h-30m"]["severity"] == "page"
    assert hand_burn(per_min, 360) == pytest.approx(6.0)
    assert hand_burn(per_min, 1440) < 3 and hand_burn(per_min, 4320) < 1
    check_figures(got, per_min)


def test_3x_for_a_day_opens_a_ticket_not_a_page(store):
    cfg, at, per_min = scenario(store, 3, 1440)
    got = fired(store, cfg, at)
    assert "1d-2h" in got and got["1d-2h"]["severity"] == "ticket"
    assert not {"1h-5m", "6h-30m"} & set(got)
    assert all(a["severity"] == "ticket" for a in got.values())
    # the 3-day window holds 2 days at 0.5× and 1 day at 3×: (2·0.5 + 3) / 3 = 1.33× ≥ 1 → ticket too
    assert hand_burn(per_min, 4320) == pytest.approx((2 * 0.5 + 3) / 3)
    assert set(got) == {"1d-2h", "3d-6h"}
    check_figures(got, per_min)


def test_2x_for_six_hours_neither_pages_nor_tickets(store):
    """The issue's case: 0.2 % errors for 6 h against a 0.1 % SLO used to page at 1000×."""
    from metrics.analysis.slo import evaluate_slos

    cfg, at, per_min = scenario(store, 2, 360)
    assert fired(store, cfg, at) == {}
    r = evaluate_slos(store, cfg, at)[0]
    burns = {(w["long"], w["short"]): (w["burn_long"], w["burn_short"]) for w in r["burn"]}
    assert burns[("1h", "5m")] == pytest.approx((2.0, 2.0))
    assert burns[("6h", "30m")] == pytest.approx((2.0, 2.0))
    assert burns[("1d", "2h")] == pytest.approx((hand_burn(per_min, 1440), 2.0))      # 0.875×
    assert burns[("3d", "6h")] == pytest.approx((hand_burn(per_min, 4320), 2.0))      # 0.625×


def test_half_budget_fires_nothing(store):
    cfg, at, _ = scenario(store, 0.5, 60)
    assert fired(store, cfg, at) == {}


def test_budget_is_over_the_period_and_partial_data_is_not_extrapolated(store):
    from metrics.analysis.slo import budget_text, evaluate_slos

    cfg, at, per_min = scenario(store, 2, 360)                      # 3 d 6 h of data, 30 d period
    r = evaluate_slos(store, cfg, at)[0]
    minutes = len(per_min)
    assert r["budget_remaining"] is None and r["budget_spent"] is None
    assert r["observed_share"] == pytest.approx(minutes / (30 * 1440))
    assert r["burn_observed"] == pytest.approx(sum(per_min) / (PER_MIN * minutes) / BUDGET)
    assert r["events"] == PER_MIN * minutes and r["bad_events"] == sum(per_min)
    assert "only 78h of the 30d period observed (10.8%)" in budget_text(r)

    # with a 3-day period the whole period is observed: budget = 0.1 % of its requests
    cfg3 = parse_settings({"services": [{"name": "svc", "slo": {"error_rate": BUDGET, "period": "3d"}}]})
    r3 = evaluate_slos(store, cfg3, at)[0]
    last3d = per_min[-4320:]
    allowed = BUDGET * PER_MIN * 4320
    assert r3["allowed_bad"] == pytest.approx(allowed)
    assert r3["budget_remaining"] == pytest.approx(1 - sum(last3d) / allowed)
    assert "% of the 3d error budget left" in budget_text(r3)


def test_latency_slo_counts_requests_slower_than_the_threshold(store):
    """latency_p95_s = 0.5: 95 % of requests must be faster; budget 5 % slow. Slow requests are the
    histogram count minus the le=0.5 bucket."""
    from metrics.analysis.slo import evaluate_slos

    minutes = 2 * 60
    slow = {m: (100 if m >= minutes - 60 else 2) for m in range(minutes)}   # 100/1000 = 10 % slow = 2×
    write_request_counters(store, "svc", T0, minutes, 1000, {}, slow)
    cfg = parse_settings({"services": [{"name": "svc", "slo": {"latency_p95_s": 0.5, "period": "2h"}}]})
    at = datetime.fromtimestamp(T0 + 60 * minutes, timezone.utc)
    r = evaluate_slos(store, cfg, at)[0]
    assert r["slo"] == "latency_p95_s" and r["objective"] == 0.95
    burns = {(w["long"], w["short"]): (w["burn_long"], w["burn_short"]) for w in r["burn"]}
    assert burns[("1h", "5m")] == pytest.approx((100 / 1000 / 0.05, 100 / 1000 / 0.05))
    assert burns[("6h", "30m")][0] == pytest.approx((60 * 100 + 60 * 2) / (120 * 1000) / 0.05)
    assert r["budget_remaining"] == pytest.approx(1 - (60 * 100 + 60 * 2) / (0.05 * 120 * 1000))
    assert r["description"] == "95% of requests faster than 0.5 s"
