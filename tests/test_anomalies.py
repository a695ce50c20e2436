"""Cost anomalies, price × volume × mix decomposition, budgets and cost-delta alerts.

Synthetic FOCUS line items with a known weekly pattern and planted spikes; expected values are the
planted facts and hand arithmetic, not the code under test.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from metrics.config import parse_settings
from tests.whatchanged_helpers import write_costs

SERVICES = {"ranker": ("search", 120.0), "chat": ("assistant", 300.0), "vision": ("assistant", 60.0)}
START = date(2026, 9, 1)
DAYS = 42
SPIKES = [{"day": "2026-09-23", "service": "chat", "sku": "gpu-h100", "amount": 400.0},
          {"day": "2026-10-06", "service": "ranker", "sku": "egress", "amount": 150.0},
          {"day": "2026-10-09", "service": "vision", "sku": "gpu-h100", "amount": 90.0}]


def company(seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    lines = []
    for d in range(DAYS):
        day = START + timedelta(days=d)
        weekend = day.weekday() >= 5
        for svc, (team, base) in SERVICES.items():
            level = base * (0.6 if weekend else 1.0) * (1 + 0.05 * rnd.gauss(0, 1))
            for sku, share, price in (("gpu-h100", 0.8, 2.5), ("egress", 0.2, 0.09)):
                cost = round(level * share, 6)
                for s in SPIKES:
                    if s["day"] == day.isoformat() and s["service"] == svc and s["sku"] == sku:
                        cost += s["amount"]
                lines.append({"day": day, "service": svc, "team": team, "sku": sku, "cost": cost,
                              "quantity": round(cost / price, 6)})
    return lines


def test_planted_spikes_found_with_no_false_alarm(store):
    from metrics.analysis.anomalies import cost_anomalies

    write_costs(store, company())
    start = datetime(2026, 9, 1, tzinfo=timezone.utc)
    found = cost_anomalies(store, start, start + timedelta(days=DAYS))
    # precision and recall with plain set arithmetic (not the project's precision_recall)
    got = {(a["day"], a["key"]) for a in found if a["level"] == "service"}
    want = {(s["day"], s["service"]) for s in SPIKES}
    assert len(got & want) / len(got) == 1.0 and len(got & want) / len(want) == 1.0
    assert got == want
    by = {(a["day"], a["key"]): a for a in found if a["level"] == "service"}
    for s in SPIKES:
        a = by[(s["day"], s["service"])]
        assert a["root_cause"]["dimension"] == "sku" and a["root_cause"]["value"] == s["sku"]
        # severity in money: the excess over the expected day, close to the planted amount
        assert float(a["severity"]) == pytest.approx(s["amount"], rel=0.25)
    # the SKU level finds the same days; no anomaly on any other day at any level
    assert {a["day"] for a in found} == {s["day"] for s in SPIKES}


def test_sensitivity_is_tunable(store):
    from metrics.analysis.anomalies import cost_anomalies

    write_costs(store, company())
    start = datetime(2026, 9, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=DAYS)
    default = cost_anomalies(store, start, end)
    strict = cost_anomalies(store, start, end, sensitivity=1000)
    loose = cost_anomalies(store, start, end, sensitivity=1.0, min_relative=0.02)
    assert len(strict) < len(default) < len(loose)
    key = lambda a: (a["level"], a["key"], a["day"])
    assert {key(a) for a in strict} <= {key(a) for a in default} <= {key(a) for a in loose}


def test_price_volume_mix_decomposition_by_hand():
    from metrics.analysis.anomalies import decompose

    before = {"A": (Decimal("100"), Decimal("100")), "B": (Decimal("100"), Decimal("50"))}
    after = {"A": (Decimal("120"), Decimal("120")), "B": (Decimal("150"), Decimal("60"))}
    d = decompose(before, after)
    # Q0 = 150, Q1 = 180, P0 = 200/150; volume = 30 * 4/3 = 40; shares unchanged → mix 0;
    # price = 60 * (2.50 - 2.00) = 30; 40 + 0 + 30 = 70 = 270 - 200
    assert d["delta"] == Decimal("70")
    assert d["volume_effect"] == pytest.approx(Decimal("40"))
    assert abs(d["mix_effect"]) < Decimal("1e-20")
    assert d["price_effect"] == pytest.approx(Decimal("30"))
    assert d["price_effect"] + d["volume_effect"] + d["mix_effect"] == d["delta"]


def test_mix_shift_by_hand():
    from metrics.analysis.anomalies import decompose

    # same total quantity 100, moved from cheap A (1.00) to dear B (3.00) at unchanged prices
    before = {"A": (Decimal("80"), Decimal("80")), "B": (Decimal("60"), Decimal("20"))}
    after = {"A": (Decimal("50"), Decimal("50")), "B": (Decimal("150"), Decimal("50"))}
    d = decompose(before, after)
    assert d["volume_effect"] == 0 and abs(d["price_effect"]) < Decimal("1e-20")
    assert d["mix_effect"] == pytest.approx(Decimal("60"))       # 100 * (−0.3 * 1 + 0.3 * 3)


def test_decompose_cost_in_store_names_the_dimension(store):
    from metrics.analysis.anomalies import decompose_cost

    lines = []
    for d in range(14):
        day = date(2026, 10, 1) + timedelta(days=d)
        price = 2.5 if d < 7 else 3.0                           # price rise on gpu-h100 in week 2
        lines.append({"day": day, "service": "chat", "team": "assistant", "sku": "gpu-h100",
                      "cost": 100 * price, "quantity": 100, "region": "eu-west-1"})
        lines.append({"day": day, "service": "chat", "team": "assistant", "sku": "egress",
                      "cost": 9, "quantity": 100, "region": "us-east-1"})
    write_costs(store, lines)
    t = lambda d: datetime(2026, 10, d, tzinfo=timezone.utc)
    out = decompose_cost(store, "chat", (t(1), t(8)), (t(8), t(15)))
    assert out["delta"] == Decimal("350")                         # 7 days * 100 * 0.5
    assert out["price_effect"] == pytest.approx(Decimal("350"))
    assert out["price_sku"] == "gpu-h100"
    dims = {x["dimension"]: x for x in out["dimensions"]}
    assert dims["sku"]["top_value"] == "gpu-h100" and dims["sku"]["top_share"] == pytest.approx(1.0)
    assert dims["region"]["top_value"] == "eu-west-1"


def test_budget_forecast_and_alert(store):
    from metrics.analysis.budgets import budget_status

    lines = [{"day": date(2026, 10, 1) + timedelta(days=d), "service": "chat", "team": "assistant",
              "sku": "gpu-h100", "cost": 10, "quantity": 4} for d in range(20)]
    write_costs(store, lines)
    cfg = parse_settings({"services": [{"name": "chat", "team": "assistant", "budget": {"monthly": "300"}}],
                          "teams": [{"name": "assistant", "budget": {"monthly": "400"}}]})
    at = datetime(2026, 10, 21, 0, 0, tzinfo=timezone.utc)            # 20 full days seen
    res = {(r["level"], r["name"]): r for r in budget_status(store, cfg, at)}
    svc = res[("service", "chat")]
    assert svc["month_to_date"] == Decimal("200")
    assert svc["forecast"] == pytest.approx(Decimal("310"))         # 10 a day × 31 days
    assert svc["status"] == "critical"                               # even the low bound is above 300
    assert res[("team", "assistant")]["status"] == "ok"


def test_budget_forecast_interval_with_noise(store):
    from metrics.analysis.budgets import budget_status

    rnd = random.Random(3)
    costs = [round(10 + rnd.gauss(0, 2), 4) for _ in range(20)]
    write_costs(store, [{"day": date(2026, 10, 1) + timedelta(days=d), "service": "chat", "team": "a",
                         "sku": "x", "cost": c, "quantity": 1} for d, c in enumerate(costs)])
    cfg = parse_settings({"services": [{"name": "chat", "budget": {"monthly": "1000"}}]})
    r = budget_status(store, cfg, datetime(2026, 10, 21, tzinfo=timezone.utc))[0]
    naive = sum(costs) + sum(costs) / 20 * 11
    assert r["forecast_low"] < r["forecast"] < r["forecast_high"]
    assert float(r["forecast"]) == pytest.approx(naive, rel=0.1)
    assert r["status"] == "ok"


def test_day_over_day_and_week_over_week(store):
    from metrics.analysis.budgets import cost_deltas

    lines = [{"day": date(2026, 10, 1) + timedelta(days=d), "service": "chat", "team": "a", "sku": "x",
              "cost": 10 if d < 13 else 25, "quantity": 1} for d in range(14)]
    write_costs(store, lines)
    cfg = parse_settings({"alerts": {"day_over_day": 0.5, "week_over_week": 0.3}})
    res = {r["rule"]: r for r in cost_deltas(store, cfg, datetime(2026, 10, 15, 9, tzinfo=timezone.utc))}
    assert res["day_over_day"]["change"] == pytest.approx(1.5) and res["day_over_day"]["firing"]
    # last 7 days 6×10 + 25 = 85 against 70: +21.4 % < 30 %
    assert res["week_over_week"]["change"] == pytest.approx(15 / 70) and not res["week_over_week"]["firing"]


def test_anomalies_and_decomposition_honour_as_of(store):
    """A late-arriving bill line makes a spike; as of before it arrived, there was none."""
    import time

    from metrics.analysis.anomalies import cost_anomalies, decompose_cost

    write_costs(store, company())
    before_late_line = datetime.now(timezone.utc)
    time.sleep(0.01)
    late = {"day": date(2026, 9, 15), "service": "ranker", "team": "search", "sku": "gpu-h100",
            "cost": 500.0, "quantity": 200.0}
    write_costs(store, [late])
    start = datetime(2026, 9, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=DAYS)
    now_days = {a["day"] for a in cost_anomalies(store, start, end)}
    then_days = {a["day"] for a in cost_anomalies(store, start, end, as_of=before_late_line)}
    assert "2026-09-15" in now_days and "2026-09-15" not in then_days
    assert then_days == {s["day"] for s in SPIKES}

    day = (datetime(2026, 9, 14, tzinfo=timezone.utc), datetime(2026, 9, 15, tzinfo=timezone.utc))
    nxt = (day[1], day[1] + timedelta(days=1))
    now = decompose_cost(store, "ranker", day, nxt)
    then = decompose_cost(store, "ranker", day, nxt, as_of=before_late_line)
    assert float(now["after"]) - float(then["after"]) == pytest.approx(500.0)
