"""Multi-day charges (a monthly fee, an RI billed monthly) are amortized evenly over the days of
their charge period in the ledger; the month's total stays exact (issue 21). Expected values are
plain Decimal arithmetic on the rows written here."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import polars as pl

from metrics.config import parse_settings
from metrics.lake import Load
from metrics.ledger import unit_economics
from tests.ledger_helpers import put_requests

UTC = timezone.utc
CONFIG = parse_settings({"services": [{"name": "svc", "model_versions": ["v1"]}]})
FEE = Decimal("3000.00")          # November 2026: 30 days -> 100.00 a day
DAILY = Decimal("10.00")


def put_lines(store, lines):
    with Load(store, "raw_focus", collector="test") as load:
        load.write(pl.DataFrame([{
            "charge_period_start": s, "charge_period_end": e, "billing_period_start": s.replace(day=1),
            "x_service": "svc", "x_model_version": "v1", "billing_currency": "USD",
            "effective_cost": str(c), "billed_cost": str(c)} for s, e, c in lines], schema={
            "charge_period_start": pl.Datetime("us", "UTC"), "charge_period_end": pl.Datetime("us", "UTC"),
            "billing_period_start": pl.Datetime("us", "UTC"), "x_service": pl.Utf8, "x_model_version": pl.Utf8,
            "billing_currency": pl.Utf8, "effective_cost": pl.Utf8, "billed_cost": pl.Utf8}))


def test_monthly_fee_is_spread_over_the_month_and_totals_stay_exact(store):
    m0, m1 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    days = [m0 + timedelta(days=i) for i in range(30)]
    odd = Decimal("1000.00")      # a 7-day charge that does not divide evenly: 142.857142857… a day
    put_lines(store, [(m0, m1, FEE), (days[9], days[16], odd)] + [(d, d + timedelta(days=1), DAILY) for d in days])
    put_requests(store, {(d.date().isoformat(), "svc", "v1"): 10 for d in days[:3]})
    df = unit_economics(store, CONFIG, "svc", m0, m1).sort("day")
    cost = {r["day"]: Decimal(str(r["cost"])) for r in df.iter_rows(named=True)}
    assert len(cost) == 30
    per_odd = Decimal("142.857142857")
    for i, d in enumerate(days):
        want = DAILY + FEE / 30
        if 9 <= i < 16:
            want += per_odd if i > 9 else odd - 6 * per_odd     # the first day takes the remainder
        assert cost[d.date()] == want, d
    assert sum(cost.values()) == FEE + odd + 30 * DAILY          # the month's total, exact
    # day 1's cost per prediction no longer carries the whole fee
    first = df.filter(pl.col("day") == days[0].date()).row(0, named=True)
    assert float(first["cost_per_prediction"]) == float((DAILY + FEE / 30) / 10)
