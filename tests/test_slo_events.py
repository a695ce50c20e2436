"""Model-quality, freshness and cost SLOs: the request SLOs' burn arithmetic over their own events
(metrics.analysis.slo_events), with data built here and every burn computed by hand:
burn = (bad events / events in the window) / (1 − objective)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from metrics.config import parse_settings
from tests.ledger_helpers import put_costs, put_counter
from tests.whatchanged_helpers import write_request_counters, write_rows

OCT = datetime(2026, 10, 1, tzinfo=timezone.utc)


def evaluate(store, cfg, at):
    from metrics.alerts import evaluate as ev

    return {a["rule"]: a for a in ev(store, cfg, at) if a["rule"] != "slo_burn"}


def model_windows(store, drift: list[float], accuracy: list[float]):
    """Daily whole-model windows from Oct 1: window d covers [Oct 1 + d, Oct 2 + d)."""
    rows = []
    for d, (share, acc) in enumerate(zip(drift, accuracy)):
        w0, w1 = OCT + timedelta(days=d), OCT + timedelta(days=d + 1)
        rows += [{"window_start": w0, "window_end": w1, "service": "fraud", "metric": "drift_share",
                  "value": share},
                 {"window_start": w0, "window_end": w1, "service": "fraud", "metric": "accuracy", "value": acc}]
    write_rows(store, "raw_model_health", rows)


def test_model_quality_windows_burn_like_requests(store):
    # ten daily windows; drift above 30 % in the last two, accuracy below 0.85 only in the eighth
    model_windows(store, [0.1] * 8 + [0.45, 0.5], [0.93] * 7 + [0.80] + [0.92] * 2)
    cfg = parse_settings({"services": [{"name": "fraud", "slo": {
        "drift_share": 0.3, "accuracy_min": 0.85, "objective": 0.9, "period": "30d"}}]})
    at = datetime(2026, 10, 11, 6, tzinfo=timezone.utc)
    got = evaluate(store, cfg, at)
    # windows shorter than a day hold the newest window (ended Oct 11 00:00, drifted): 1/1 / 0.1 = 10×
    # 1h & 5m: 10 < 14.4 no; 6h & 30m: 10 ≥ 6 fires (the fastest pair that fires is named)
    # 3d: windows ending Oct 9, 10, 11 -> 2 bad of 3: (2/3) / 0.1 = 6.67×
    assert set(got) == {"slo_drift_share"}          # accuracy: the newest window is good, the pairs quiet
    a = got["slo_drift_share"]
    assert a["severity"] == "ticket" and a["details"]["window"] == "6h-30m"
    assert a["details"]["burn_long"] == pytest.approx(10.0) and a["details"]["burn_short"] == pytest.approx(10.0)
    assert "burning its budget 10.0× over 6h and 10.0× over 30m (ticket at 6×)" in a["summary"]
    assert "50% of features drifted in the window starting 2026-10-10 00:00Z" in a["summary"]
    # over the period: 2 bad of 10 windows = (2/10) / 0.1 = 2×; 10 d 6 h of the 30 d observed
    assert a["details"]["events"] == 10 and a["details"]["bad_events"] == 2
    assert a["details"]["observed_share"] == pytest.approx((10 * 24 + 6) / (30 * 24))
    assert "only 10d6h" not in a["summary"] and "(34.2%)" in a["summary"] and "2.00×" in a["summary"]

    from metrics.analysis.slo_events import evaluate_event_slos

    r = {x["slo"]: x for x in evaluate_event_slos(store, cfg, at)}
    burns = {(w["long"], w["short"]): (w["burn_long"], w["burn_short"]) for w in r["drift_share"]["burn"]}
    assert burns[("3d", "6h")] == (pytest.approx((2 / 3) / 0.1), pytest.approx(10.0))
    acc = {(w["long"], w["short"]): (w["burn_long"], w["burn_short"]) for w in r["accuracy"]["burn"]}
    assert acc[("3d", "6h")] == (pytest.approx((1 / 3) / 0.1), 0.0)      # bad Oct 9 window, good newest
    assert not any(w["firing"] for w in r["accuracy"]["burn"])


def test_one_bad_window_at_99_percent_fires_the_fastest_pair(store):
    model_windows(store, [0.1, 0.1, 0.45], [0.93, 0.92, 0.81])
    cfg = parse_settings({"services": [{"name": "fraud", "slo": {"drift_share": 0.3, "accuracy_min": 0.85}}]})
    got = evaluate(store, cfg, datetime(2026, 10, 4, 6, tzinfo=timezone.utc))
    # default objective 99 %: the newest window bad -> (1/1) / 0.01 = 100× on the 1 h and 5 m windows
    assert set(got) == {"slo_drift_share", "slo_accuracy"}
    for a in got.values():
        assert a["details"]["window"] == "1h-5m" and a["details"]["burn_long"] == pytest.approx(100.0)
    assert got["slo_accuracy"]["details"]["value"] == pytest.approx(0.81)
    # before the bad window ended nothing is bad: nothing fires
    assert evaluate(store, cfg, datetime(2026, 10, 3, 0, tzinfo=timezone.utc)) == {}


G = 3 * 24 * 60                  # three days of data a minute, then a 40-minute gap, then 20 minutes
T0 = 1_790_006_400.0             # a whole hour


def test_freshness_minutes_burn_and_recover(store):
    write_request_counters(store, "api", T0, G, 10, {})
    write_request_counters(store, "api", T0 + 60 * (G + 40), 20, 10, {})
    cfg = parse_settings({"services": [{"name": "api", "slo": {"freshness": "10m", "objective": 0.99}}]})
    # minute k ends at T0 + 60k; its newest data is minute min(k, G) until G + 40: bad when older
    # than 10 minutes, so minutes G+11 .. G+39 are bad (29)
    bad = set(range(G + 11, G + 40))

    def hand(at_k: int, span: int) -> float:
        ks = range(at_k - span + 1, at_k + 1)
        return sum(k in bad for k in ks) / len(ks) / 0.01

    at_k = G + 60
    got = evaluate(store, cfg, datetime.fromtimestamp(T0 + 60 * at_k, timezone.utc))
    # 5m: 0 bad; 30m: 9 bad -> 30×; 6h: 29 of 360 -> 8.06×; 2h: 29 of 120 -> 24.2×; 1d: 29 of 1440 -> 2.01×
    assert hand(at_k, 30) == pytest.approx(30.0) and hand(at_k, 1440) < 3
    a = got["slo_freshness"]
    assert a["details"]["window"] == "6h-30m"
    assert a["details"]["burn_long"] == pytest.approx(hand(at_k, 360))
    assert a["details"]["burn_short"] == pytest.approx(hand(at_k, 30))
    assert "newest data is 0:00:00 old" in a["summary"]
    # ten minutes on, still no new data: the age is exactly 10 minutes (not above), the 30m window clean
    assert evaluate(store, cfg, datetime.fromtimestamp(T0 + 60 * (G + 70), timezone.utc)) == {}
    # fifteen minutes on, five minutes are stale: 5m 5/5 -> 100×, 1h (24 + 5) of 60 -> 48.3×: the 1h pair
    bad |= set(range(G + 71, G + 76))
    a = evaluate(store, cfg, datetime.fromtimestamp(T0 + 60 * (G + 75), timezone.utc))["slo_freshness"]
    assert a["details"]["window"] == "1h-5m"
    assert (a["details"]["burn_long"], a["details"]["burn_short"]) == (
        pytest.approx(hand(G + 75, 60)), pytest.approx(100.0))


def test_freshness_without_any_data_opens_a_ticket(store):
    cfg = parse_settings({"services": [{"name": "ghost", "slo": {"freshness": "1h"}}]})
    a = evaluate(store, cfg, datetime(2026, 10, 4, tzinfo=timezone.utc))["slo_freshness"]
    assert a["severity"] == "ticket" and "no data" in a["summary"]


def test_cost_days_burn(store):
    # five days of 1,000 requests; cost 5 a day (0.005 per prediction), 20 on Oct 5 (0.02)
    put_counter(store, "search", "v1", [("2026-10-01T00:00:00Z", 0)] + [
        (f"2026-10-0{d}T12:00:00Z", 1000 * d) for d in range(1, 6)])
    put_costs(store, [(f"2026-10-0{d}", "search", None, "USD", "20.00" if d == 5 else "5.00",
                       "20.00" if d == 5 else "5.00") for d in range(1, 6)])
    cfg = parse_settings({"services": [{"name": "search", "slo": {
        "cost_per_prediction": "0.01", "objective": 0.9}}]})
    got = evaluate(store, cfg, datetime(2026, 10, 6, 9, tzinfo=timezone.utc))
    # days end at midnight; windows shorter than a day hold Oct 5 (bad): 1/1 / 0.1 = 10×: 6h pair fires
    a = got["slo_cost_per_prediction"]
    assert a["details"]["window"] == "6h-30m" and a["details"]["burn_long"] == pytest.approx(10.0)
    assert "cost per prediction 0.020000 USD on 2026-10-05" in a["summary"]
    assert a["details"]["events"] == 5 and a["details"]["bad_events"] == 1
    from metrics.analysis.slo_events import evaluate_event_slos

    r = evaluate_event_slos(store, cfg, datetime(2026, 10, 6, 9, tzinfo=timezone.utc))[0]
    b = {(w["long"], w["short"]): (w["burn_long"], w["burn_short"]) for w in r["burn"]}
    assert b[("3d", "6h")] == (pytest.approx((1 / 3) / 0.1), pytest.approx(10.0))
    assert r["burn_observed"] == pytest.approx((1 / 5) / 0.1)
    # on Oct 5 09:00 the bad day is not over yet: nothing fires
    assert evaluate(store, cfg, datetime(2026, 10, 5, 9, tzinfo=timezone.utc)) == {}
