"""The pack's numbers beyond unit economics, against the hand-countable store (tests/app_helpers.py):
budgets with the month to date at the week's end and the over-budget agenda item, decisions of the week only, late rows
after a one-go backfill. Week 2026-W45 = Nov 2..8; its end, Nov 9 00:00, is when it is evaluated."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests import app_helpers as fx

UTC = timezone.utc


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    from metrics.api import Onepane
    from metrics.config import load_settings
    from metrics.decisions import add_decision
    from metrics.review.pack import build_pack

    f = fx.build(tmp_path_factory.mktemp("packvalues"))
    add_decision(f.store, service="ranker", text="ship ranker-v2", kind="approve", by="ana",
                 at=datetime(2026, 11, 4, 10, tzinfo=UTC))
    add_decision(f.store, service="ranker", text="older: before the week", kind="review", by="bo",
                 at=datetime(2026, 11, 1, 23, 59, tzinfo=UTC))
    from metrics.times import utcnow

    # as of after the loads (they are stamped with the clock); the week is evaluated at its end
    op = Onepane(f.store, load_settings(f.config_path), as_of=utcnow())
    return build_pack(op, "2026-W45", ["ranker", "assistant"])


def _svc(pack, name):
    return next(s for s in pack["services"] if s["service"] == name)


def test_week_cost_and_budgets_by_hand(pack):
    ranker, assistant = _svc(pack, "ranker"), _svc(pack, "assistant")
    usd = {u["currency"]: u for u in ranker["unit_economics"]}["USD"]
    assert Decimal(str(usd["cost"])) == fx.RANKER_DAILY * 7                 # 73.50
    assert Decimal(str(usd["cost_change"] + 1)).quantize(Decimal("0.0001")) == 1   # W44 cost the same
    b = {x["currency"]: x for x in ranker["budgets"]}["USD"]
    # November 1..8 by the week's end (the store holds Nov 9 and 10 too: not known at Nov 9 00:00)
    assert Decimal(str(b["month_to_date"])) == fx.RANKER_DAILY * 8 and Decimal(str(b["budget"])) == 400
    a = {x["currency"]: x for x in assistant["budgets"]}["USD"]
    assert Decimal(str(a["month_to_date"])) == fx.ASSISTANT_DAILY * 8
    # 4.25 a day keeps the month near 30 × 4.25 = 127.50, over its 100: an agenda item; ranker's
    # 30 × 10.50 = 315 stays under 400: none
    assert float(a["forecast"]) == pytest.approx(float(fx.ASSISTANT_DAILY) * 30, rel=0.05)
    assert [x["kind"] for x in assistant["agenda"] if x["kind"] == "budget"] == ["budget"]
    assert not [x for x in ranker["agenda"] if x["kind"] == "budget"]


def test_only_the_weeks_decisions_are_listed(pack):
    got = [(d["service"], d["kind"], d["text"], d["decided_by"]) for d in pack["company"]["decisions"]]
    assert got == [("ranker", "approve", "ship ranker-v2", "ana")]


def test_a_one_go_backfill_has_no_late_rows(pack):
    rows = [r for s in pack["services"] for r in s["freshness"]]
    assert rows and all(r["late_rows"] == 0 for r in rows)


def test_slo_and_forecast_by_hand(pack):
    """ranker's counter: +250 ok and +5 errors every 6 hours from Oct 25 00:00. By the week's end
    (Nov 9 00:00) 14.75 days = 59 intervals were counted; its SLO allows 1 % errors."""
    ranker = _svc(pack, "ranker")
    slo, = [s for s in ranker["slos"] if s["slo"] == "error_rate"]
    intervals = int(14.75 * fx.SAMPLES_PER_DAY)
    per = fx.OK_PER_INTERVAL + fx.ERR_PER_INTERVAL
    assert slo["events"] == intervals * per and slo["bad_events"] == intervals * fx.ERR_PER_INTERVAL
    burn = fx.ERR_PER_INTERVAL / per / 0.01                          # 1.96× everywhere
    assert slo["burn_observed"] == pytest.approx(burn)
    # only the slowest window's factor (1×) is below 1.96: one ticket fires, no page
    assert [(w["long"], w["firing"]) for w in slo["burn"]] == [
        ("1h", False), ("6h", False), ("1d", False), ("3d", True)]
    # flat 10.50 a day: 8 days spent + 22 days left of November
    b = {x["currency"]: x for x in ranker["budgets"]}["USD"]
    assert Decimal(str(b["forecast"])) == fx.RANKER_DAILY * 30 and b["status"] == "ok"


def test_model_health_change_and_running_experiment_by_hand(pack):
    """ranker's drift share is 0.1 a day before the deploy (2026-11-03 12:00) and 0.6 from Nov 4
    (daily windows); W45 is Nov 2..8. Its experiment: ranker-v1 alone Oct 25..Nov 2 (9 days),
    ranker-v2 Nov 3..10 (8 days), 10,000 impressions a day, 300 and 330 clicks."""
    from math import sqrt
    from statistics import NormalDist

    ranker = _svc(pack, "ranker")
    mh = {m["metric"]: m for m in ranker["model_health"]}
    assert mh["drift_share"]["value"] == pytest.approx((2 * 0.1 + 5 * 0.6) / 7)
    assert mh["drift_share"]["previous"] == pytest.approx(0.1)
    assert mh["drift_share"]["breaches"] == 5                 # the five drifted days of the week
    exp = ranker["experiment"]
    pa, pb = 300 / 10_000, 330 / 10_000
    na, nb = 9 * fx.IMPRESSIONS_PER_DAY, 8 * fx.IMPRESSIONS_PER_DAY
    half = NormalDist().inv_cdf(0.975) * sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb) * 10_000
    assert (exp["arm_a"]["days"], exp["arm_b"]["days"]) == (9, 8)
    assert exp["lift_bp"] == pytest.approx(30.0)
    assert exp["lift_ci_bp"] == pytest.approx([30.0 - half, 30.0 + half])
    assert exp["arm_a"]["daily_cost"] == pytest.approx(float(fx.RANKER_DAILY))   # v1 alone all day
    assert exp["marginal_cost_per_bp"] == pytest.approx((exp["arm_b"]["daily_cost"] - float(fx.RANKER_DAILY)) / 30.0)
    lo, hi = exp["marginal_cost_per_bp_ci"]
    assert lo <= exp["marginal_cost_per_bp"] <= hi
    assert [x for x in ranker["unit_economics"] if x["currency"] == "USD"][0]["cost"] == pytest.approx(
        7 * float(fx.RANKER_DAILY))
