"""Time-slice SLOs (mode = "time_slice", only when configured): error budgets and multi-window
multi-burn-rate alerts, checked against hand-computed examples. Request-based SLOs (the default):
tests/test_slo_burn.py.

Objective 0.99 → error budget 1 % of one-minute slices. Burn rate = bad share / 0.01.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from metrics.config import parse_settings
from tests.whatchanged_helpers import write_request_counters

AT = 1_790_000_040.0 - (1_790_000_040.0 % 60)     # a whole minute
SIX_H = 360


def slices_with_bad(bad_minutes_before_at: list[int]):
    """360 one-minute slices ending at AT; slice k minutes before AT ends at AT − 60k."""
    t = AT - 60.0 * np.arange(SIX_H, 0, -1)          # slice starts, oldest first
    bad = np.zeros(SIX_H, bool)
    for k in bad_minutes_before_at:                   # k = 1 is the last slice [AT − 60, AT)
        bad[SIX_H - k] = True
    return t, bad, np.ones(SIX_H, bool)


def by_pair(res):
    return {(r["long"], r["short"]): r for r in res}


def test_fast_burn_pages_when_both_1h_and_5m_burn_above_14_4():
    from metrics.analysis.slo import burn_alerts

    # 5 bad in the last 5 minutes and 4 more earlier in the hour: 9/60 = 15 %
    t, bad, counted = slices_with_bad([1, 2, 3, 4, 5, 20, 30, 40, 50])
    r = by_pair(burn_alerts(t, bad, counted, 0.99, AT))
    assert r[("1h", "5m")]["burn_long"] == pytest.approx(9 / 60 / 0.01)      # 15.0
    assert r[("1h", "5m")]["burn_short"] == pytest.approx(5 / 5 / 0.01)      # 100.0
    assert r[("1h", "5m")]["firing"] and r[("1h", "5m")]["severity"] == "page"
    assert r[("6h", "30m")]["burn_long"] == pytest.approx(9 / 360 / 0.01)    # 2.5
    assert r[("6h", "30m")]["burn_short"] == pytest.approx(7 / 30 / 0.01)    # 23.3 (1-5, 20, 30)
    assert not r[("6h", "30m")]["firing"]


def test_just_below_14_4_does_not_page():
    from metrics.analysis.slo import burn_alerts

    t, bad, counted = slices_with_bad([1, 2, 3, 4, 5, 20, 30, 40])         # 8/60 = 13.3×
    r = by_pair(burn_alerts(t, bad, counted, 0.99, AT))
    assert r[("1h", "5m")]["burn_long"] == pytest.approx(8 / 60 / 0.01)
    assert not r[("1h", "5m")]["firing"]


def test_recovered_short_window_stops_the_page():
    from metrics.analysis.slo import burn_alerts

    t, bad, counted = slices_with_bad(list(range(10, 25)))                 # 15/60 = 25× but none in 5m
    r = by_pair(burn_alerts(t, bad, counted, 0.99, AT))
    assert r[("1h", "5m")]["burn_long"] == pytest.approx(25.0)
    assert r[("1h", "5m")]["burn_short"] == 0
    assert not r[("1h", "5m")]["firing"]


def test_slow_burn_pages_on_6h_and_30m_at_6x():
    from metrics.analysis.slo import burn_alerts

    # 22 bad over six hours (6.1×), 3 of them in the last 30 minutes (10×), 4 in the last hour (6.7×)
    bad_minutes = [2, 11, 25, 45] + [70 + 16 * i for i in range(18)]
    assert len(bad_minutes) == 22 and max(bad_minutes) <= 360
    t, bad, counted = slices_with_bad(bad_minutes)
    r = by_pair(burn_alerts(t, bad, counted, 0.99, AT))
    assert r[("6h", "30m")]["burn_long"] == pytest.approx(22 / 360 / 0.01)
    assert r[("6h", "30m")]["burn_short"] == pytest.approx(3 / 30 / 0.01)
    assert r[("6h", "30m")]["firing"]
    assert r[("1h", "5m")]["burn_long"] == pytest.approx(4 / 60 / 0.01)
    assert not r[("1h", "5m")]["firing"]


def test_slices_without_traffic_are_not_counted():
    from metrics.analysis.slo import burn_rate

    bad = np.array([True, False, False, False])
    counted = np.array([True, True, False, False])
    assert burn_rate(bad, counted, 0.99) == pytest.approx(0.5 / 0.01)


def test_burn_rates_from_telemetry_counters_in_the_store(store):
    """Error-rate and latency SLOs computed from cumulative counters written to raw_telemetry."""
    from metrics.analysis.slo import evaluate_slos

    minutes = 7 * 60
    start = AT - 60 * minutes
    # 100 requests a minute; minutes are numbered from `start`. The last minute is minute 419.
    errors = {m: 3 for m in (419, 418, 417, 416, 415, 400, 390, 380, 370)}   # 3 % > 1 % → bad
    errors[405] = 1                                                           # 1 % is not above 1 %
    slow = {m: 10 for m in (419, 100)}                                         # 10 % slow > 5 % → bad
    write_request_counters(store, "svc", start, minutes, 100, errors, slow)
    cfg = parse_settings({"services": [{"name": "svc", "slo": {
        "error_rate": 0.01, "latency_p95_s": 0.5, "objective": 0.99, "period": "7h",
        "mode": "time_slice"}}]})
    res = {r["slo"]: r for r in evaluate_slos(store, cfg, datetime.fromtimestamp(AT, timezone.utc))}
    err = res["error_rate"]
    assert err["slices"] == 420 and err["bad_slices"] == 9
    assert err["description"] == "time-slice SLO: 99% of one-minute slices good (error rate ≤ 1%)"
    b = by_pair(err["burn"])
    assert b[("1h", "5m")]["burn_long"] == pytest.approx(9 / 60 / 0.01)
    assert b[("1h", "5m")]["burn_short"] == pytest.approx(5 / 5 / 0.01)
    assert b[("1h", "5m")]["firing"]
    assert b[("6h", "30m")]["burn_long"] == pytest.approx(9 / 360 / 0.01)
    assert err["budget_spent"] == pytest.approx(9 / 420 / 0.01)
    lat = res["latency_p95_s"]
    assert lat["bad_slices"] == 2
    bl = by_pair(lat["burn"])
    assert bl[("1h", "5m")]["burn_long"] == pytest.approx(1 / 60 / 0.01)
    assert bl[("1h", "5m")]["burn_short"] == pytest.approx(1 / 5 / 0.01)
    assert not bl[("1h", "5m")]["firing"]
