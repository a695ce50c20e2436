"""Budgets: month-end spend forecast with an interval per service and team, and cost-delta checks.

Forecast: month-to-date effective cost (exact) plus the forecast of the remaining days. The daily
series of the month so far (and up to 28 days before it, for a seasonal fit) is modelled with
statsmodels' ETSModel (additive error; additive weekly seasonality when there are ≥ 14 days); the
remaining days are simulated 1000 times and the 10th/90th percentiles of the simulated sums give
the 80 % interval. With fewer than 7 days of history, the forecast is the mean day × days left, and
the interval uses the daily standard deviation × √days (normal approximation).

A budget alert fires when the forecast is above the budget (`critical` when even the lower bound or
the month-to-date spend is). Day-over-day compares the last full day with the day before it,
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

from metrics.analysis.signals import sql
from metrics.config import Settings
from metrics.store import Store

log = logging.getLogger(__name__)

HISTORY_DAYS = 28
SIMULATIONS = 1000


def _day(x: datetime) -> datetime:
    return x.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def month_bounds(at: datetime) -> tuple[datetime, datetime]:
    start = _day(at).replace(day=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + timedelta(days=days)


def forecast_sum(y: np.ndarray, steps: int, seed: int = 0) -> tuple[float, float, float]:
    """Point forecast and 80 % interval of the sum of the next `steps` days of the daily series y."""
    if steps <= 0:
        return 0.0, 0.0, 0.0
    if y.size >= 7 and np.ptp(y) > 0:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel
        import warnings

        seasonal = "add" if y.size >= 14 else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ETSModel(y.astype(float), error="add", trend=None, seasonal=seasonal,
                             seasonal_periods=7 if seasonal else None)
            fit = model.fit(disp=False)
            point = float(np.sum(fit.forecast(steps)))
            sims = np.asarray(fit.simulate(nsimulations=steps, repetitions=SIMULATIONS, anchor="end",
                                           rng=np.random.default_rng(seed)))
        sums = sims.reshape(steps, -1).sum(axis=0)
        lo, hi = np.percentile(sums, [10, 90])
        return point, float(lo), float(hi)
    mean = float(y.mean()) if y.size else 0.0
    sd = float(y.std(ddof=1)) if y.size > 1 else 0.0
    z = 1.2816   # 80 % two-sided
    return mean * steps, mean * steps - z * sd * np.sqrt(steps), mean * steps + z * sd * np.sqrt(steps)


def _daily(store: Store, start: datetime, end: datetime, con=None) -> pl.DataFrame:
    return store.query(sql("cost_daily"), {"start": start, "end": end}, con=con)


def budget_status(store: Store, config: Settings, at: datetime, con=None) -> list[dict[str, Any]]:
    """Per configured service/team budget: month-to-date, month-end forecast with interval, status."""
    m0, m1 = month_bounds(at)
    today = _day(at)                         # days before today are complete
    hist0 = m0 - timedelta(days=HISTORY_DAYS)
    df = _daily(store, hist0, m1, con=con)
    targets = [("service", s.name, s.budget) for s in config.services if s.budget] + \
              [("team", t.name, t.budget) for t in config.teams if t.budget]
    out = []
    for level, name, budget in targets:
        d = df.filter((pl.col(level) == name) & (pl.col("currency") == budget.currency))
        mtd = sum((c for c in d.filter((pl.col("day") >= m0) & (pl.col("day") < m1))["cost"].to_list()),
                  Decimal(0))
        full = d.filter(pl.col("day") < today).group_by("day").agg(pl.col("cost").sum()).sort("day")
        days = pl.datetime_range(max(hist0, full["day"].min()) if full.height else today,
                                 today - timedelta(days=1), "1d", time_zone="UTC", eager=True) \
            if full.height else pl.Series([], dtype=pl.Datetime("us", "UTC"))
        y = np.zeros(len(days))
        idx = {x: i for i, x in enumerate(days.to_list())}
        for day, c in full.iter_rows():
            if day in idx:
                y[idx[day]] = float(c)
        # today's partial spend is in mtd; forecast today's rest and the days after it
        today_spent = float(sum((c for c in d.filter(pl.col("day") == today)["cost"].to_list()), Decimal(0)))
        steps = (m1 - today).days
        point, lo, hi = forecast_sum(y, steps)
        point, lo, hi = (max(x - today_spent, 0.0) if steps else 0.0 for x in (point, lo, hi))
        fc = Decimal(str(round(point, 6))) + mtd
        fc_lo = Decimal(str(round(max(lo, 0.0), 6))) + mtd
        fc_hi = Decimal(str(round(hi, 6))) + mtd
        status = "ok"
        if fc > budget.monthly:
            status = "critical" if (fc_lo > budget.monthly or mtd > budget.monthly) else "warning"
        out.append({"level": level, "name": name, "month": m0.strftime("%Y-%m"), "currency": budget.currency,
                    "budget": budget.monthly, "month_to_date": mtd, "forecast": fc,
                    "forecast_low": fc_lo, "forecast_high": fc_hi, "status": status,
                    "days_of_history": int(len(y))})
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
