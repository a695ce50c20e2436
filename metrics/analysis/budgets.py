"""Budgets: month-end spend forecast with an interval per service and team, and cost-delta checks.

`month_end_forecasts` is the one month-end forecast: the Overview, the Costs page and the budget
alert all show its value. Month-end = month-to-date effective cost (exact, through the day of `at`:
a view pinned to a past day neither counts nor double-counts the days after it) + the forecast of the
remaining days (today's rest included) from the daily series of the complete days of the month and
up to 28 days before it, by the ETS model picked on the series' own history (metrics.analysis.forecast:
level, trend, damped trend, weekly, damped trend + weekly), with an 80 % interval.

A budget alert fires when the forecast's central value is above the budget (`critical` when even the
lower bound or the month-to-date spend is) and says how likely the overrun is (the share of simulated
month-ends above the budget). Day-over-day compares the last full day with the day before it,
week-over-week the last 7 full days with the 7 before; each fires when the relative change is above
`alerts.day_over_day` / `alerts.week_over_week`.
"""
from __future__ import annotations

import calendar
import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from metrics.analysis.forecast import forecast_sum
from metrics.analysis.signals import sql
from metrics.config import Settings
from metrics.store import Store

log = logging.getLogger(__name__)

HISTORY_DAYS = 28


def _day(x: datetime) -> datetime:
    return x.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def month_bounds(at: datetime) -> tuple[datetime, datetime]:
    start = _day(at).replace(day=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + timedelta(days=days)


def _daily(store: Store, start: datetime, end: datetime, con=None) -> pl.DataFrame:
    return store.query(sql("cost_daily"), {"start": start, "end": end}, con=con)


def _series(d: pl.DataFrame, start: datetime, today: datetime) -> np.ndarray:
    """Daily cost of the complete days from the first cost day (≥ start) to yesterday; gaps are 0."""
    full = d.filter(pl.col("day") < today).group_by("day").agg(pl.col("cost").sum()).sort("day")
    if not full.height:
        return np.zeros(0)
    first = max(start, full["day"].min())
    y = np.zeros(max((today - first).days, 0))
    for day, c in full.iter_rows():
        i = (day - first).days
        if 0 <= i < y.size:
            y[i] = float(c)
    return y


def month_end_forecasts(store: Store, config: Settings, at: datetime, con=None,
                        services: bool = True) -> list[dict[str, Any]]:
    """Month-end forecast per service and currency with cost this month (`services`), and per
    configured service/team budget: month_to_date, forecast (central), forecast_low/high (80 %),
    model, days_of_history, budget and p_over_budget where a budget is set."""
    m0, m1 = month_bounds(at)
    today = _day(at)
    hist0 = m0 - timedelta(days=HISTORY_DAYS)
    df = _daily(store, hist0, m1, con=con)
    budgets = {("service", s.name): s.budget for s in config.services if s.budget}
    budgets |= {("team", t.name): t.budget for t in config.teams if t.budget}
    targets = {(lv, n, b.currency) for (lv, n), b in budgets.items()}
    if services and df.height:
        month = df.filter((pl.col("day") >= m0) & (pl.col("day") <= today)).select("service", "currency").unique()
        targets |= {("service", s, c) for s, c in month.iter_rows() if s is not None}
    out = []
    for level, name, currency in sorted(targets):
        d = df.filter((pl.col(level) == name) & (pl.col("currency") == currency))
        # month-to-date as of `at`: days after it (a past `at`, amortized charges) are forecast, not counted
        in_month = d.filter((pl.col("day") >= m0) & (pl.col("day") <= today))
        mtd = sum(in_month["cost"].to_list(), Decimal(0))
        today_spent = float(sum(d.filter(pl.col("day") == today)["cost"].to_list(), Decimal(0)))
        y = _series(d, hist0, today)
        steps = (m1 - today).days
        fc = forecast_sum(y, steps)
        rest = [max(x - today_spent, 0.0) if steps else 0.0 for x in (fc.point, fc.low, fc.high)]
        point, lo, hi = (Decimal(str(round(x, 6))) + mtd for x in rest)
        b = budgets.get((level, name))
        budget = b.monthly if b is not None and b.currency == currency else None
        p_over = None
        if budget is not None:
            p_over = fc.prob_above(float(budget - mtd) + today_spent) if steps else float(mtd > budget)
        out.append({"level": level, "name": name, "month": m0.strftime("%Y-%m"), "currency": currency,
                    "budget": budget, "month_to_date": mtd, "forecast": point, "forecast_low": lo,
                    "forecast_high": hi, "p_over_budget": p_over, "model": fc.model,
                    "days_of_history": int(y.size), "days_left": steps})
    return out


def budget_status(store: Store, config: Settings, at: datetime, con=None) -> list[dict[str, Any]]:
    """Per configured service/team budget: the month-end forecast of `month_end_forecasts`, status."""
    out = []
    for r in month_end_forecasts(store, config, at, con=con, services=False):
        if r["budget"] is None:
            continue
        status = "ok"
        if r["forecast"] > r["budget"]:
            status = "critical" if (r["forecast_low"] > r["budget"] or r["month_to_date"] > r["budget"]) \
                else "warning"
        out.append({**r, "status": status})
    return out


def cost_deltas(store: Store, config: Settings, at: datetime, con=None) -> list[dict[str, Any]]:
    """Day-over-day and week-over-week changes of daily cost per service beyond the thresholds."""
    today = _day(at)
    df = _daily(store, today - timedelta(days=14), today, con=con)
    out = []
    if df.is_empty():
        return out
    checks = []
    if config.alerts.day_over_day is not None:
        checks.append(("day_over_day", config.alerts.day_over_day, 1))
    if config.alerts.week_over_week is not None:
        checks.append(("week_over_week", config.alerts.week_over_week, 7))
    for (service, currency), g in df.group_by(["service", "currency"]):
        for name, threshold, n in checks:
            cur0, prev0 = today - timedelta(days=n), today - timedelta(days=2 * n)
            cur = sum(g.filter((pl.col("day") >= cur0) & (pl.col("day") < today))["cost"].to_list(), Decimal(0))
            prev = sum(g.filter((pl.col("day") >= prev0) & (pl.col("day") < cur0))["cost"].to_list(), Decimal(0))
            if prev == 0:
                continue
            rel = float((cur - prev) / prev)
            out.append({"rule": name, "service": service, "currency": currency, "current": cur,
                        "previous": prev, "change": rel, "threshold": threshold,
                        "window": [cur0.date().isoformat(), today.date().isoformat()],
                        "firing": abs(rel) > threshold})
    return out
