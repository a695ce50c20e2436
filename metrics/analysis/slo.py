"""SLOs: error budgets and multi-window, multi-burn-rate alerts (Google SRE workbook, ch. 5).

Latency and error-rate SLOs are time-slice SLOs: the service's time is cut into one-minute slices;
a slice with traffic is *bad* when its error rate is above `error_rate`, or when more than 5 % of its
requests are slower than `latency_p95_s` (i.e. its p95 is above the threshold; counted from the
histogram bucket at the threshold). Slices without traffic are not counted. `objective` is the share
of good slices the SLO promises over `period`, so the error budget is 1 − objective.

    burn rate over a window = (bad slices / counted slices in the window) / (1 − objective)

A burn rate of 1 spends the budget exactly over the period. The alert fires when both windows of a
pair burn at least the factor (the short window makes the alert stop soon after the problem does):

    page    1 h and 5 m   at 14.4×   (2 % of a 30-day budget in one hour)
    page    6 h and 30 m  at 6×      (5 % of a 30-day budget in six hours)

Model quality (drift_share, accuracy_min), freshness and cost_per_prediction are checked against
their newest value (see metrics.alerts), and their budget is the share of bad windows in the period.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from metrics.analysis.signals import sql
from metrics.config import SLO, Settings
from metrics.store import Store
from metrics.times import parse_duration

log = logging.getLogger(__name__)

SLICE_S = 60.0
SLOW_SHARE = 0.05          # a p95 above the threshold means more than 5 % of requests are slower


@dataclass(frozen=True)
class BurnWindow:
    long: timedelta
    short: timedelta
    factor: float
    severity: str


BURN_WINDOWS = (
    BurnWindow(timedelta(hours=1), timedelta(minutes=5), 14.4, "page"),
    BurnWindow(timedelta(hours=6), timedelta(minutes=30), 6.0, "page"),
)


def burn_rate(bad: np.ndarray, counted: np.ndarray, objective: float) -> float:
    """Share of bad among counted slices divided by the error budget (1 − objective)."""
    n = float(np.sum(counted))
    if n == 0:
        return 0.0
    return (float(np.sum(bad & counted)) / n) / (1.0 - objective)


def burn_alerts(t: np.ndarray, bad: np.ndarray, counted: np.ndarray, objective: float, at: float,
                windows=BURN_WINDOWS) -> list[dict[str, Any]]:
    """Evaluate every window pair at `at` over slices starting at t (epoch s) ending by `at`."""
    out = []
    for w in windows:
        rates = {}
        for name, span in (("long", w.long), ("short", w.short)):
            m = (t >= at - span.total_seconds()) & (t + SLICE_S <= at + 1e-9)
            rates[name] = burn_rate(bad[m], counted[m], objective)
        out.append({"long": _label(w.long), "short": _label(w.short), "factor": w.factor,
                    "severity": w.severity, "burn_long": rates["long"], "burn_short": rates["short"],
                    "firing": rates["long"] >= w.factor and rates["short"] >= w.factor})
    return out


def _label(d: timedelta) -> str:
    s = int(d.total_seconds())
    return f"{s // 3600}h" if s % 3600 == 0 else f"{s // 60}m"


def slices(store: Store, service: str, start: datetime, end: datetime, slo: SLO, con=None) -> pl.DataFrame:
    """One row per one-minute slice with traffic: t, requests, errors, slow share, bad flags."""
    origin = start.timestamp()
    df = store.query(sql("slo_slices"), {"service": service, "start": start, "end": end, "origin": origin,
                                         "bucket_s": SLICE_S, "threshold_s": slo.latency_p95_s}, con=con)
    if df.is_empty():
        return df
    df = df.with_columns((pl.col("b") * SLICE_S + origin).alias("t"),
                         pl.col("requests").fill_null(0), pl.col("errors").fill_null(0))
    bad_err = pl.lit(False)
    if slo.error_rate is not None:
        bad_err = (pl.col("requests") > 0) & (pl.col("errors") / pl.col("requests") > slo.error_rate)
    bad_lat = pl.lit(False)
    if slo.latency_p95_s is not None:
        slow = 1 - pl.col("fast") / pl.col("observed")
        bad_lat = (pl.col("observed") > 0) & (slow > SLOW_SHARE).fill_null(False)
    return df.with_columns(bad_err.alias("bad_error_rate"), bad_lat.alias("bad_latency"),
                           (pl.col("requests") > 0).alias("counted"))


def evaluate_slos(store: Store, config: Settings, at: datetime, con=None) -> list[dict[str, Any]]:
    """Per service and SLO (error_rate, latency_p95_s): budget left over the period and burn alerts."""
    out = []
    for svc in config.services:
        slo = svc.slo
        if slo is None or (slo.error_rate is None and slo.latency_p95_s is None):
            continue
        period = parse_duration(slo.period)
        df = slices(store, svc.name, at - period, at, slo, con=con)
        if df.is_empty():
            continue
        t = df["t"].to_numpy()
        counted = df["counted"].to_numpy()
        for name, col, threshold in (("error_rate", "bad_error_rate", slo.error_rate),
                                     ("latency_p95_s", "bad_latency", slo.latency_p95_s)):
            if threshold is None:
                continue
            bad = df[col].to_numpy()
            n, nb = int(counted.sum()), int((bad & counted).sum())
            spent = (nb / n) / (1 - slo.objective) if n else 0.0
            out.append({"service": svc.name, "slo": name, "threshold": threshold,
                        "objective": slo.objective, "period": slo.period, "slices": n, "bad_slices": nb,
                        "budget_spent": spent, "budget_remaining": 1 - spent,
                        "burn": burn_alerts(t, bad, counted, slo.objective, at.timestamp())})
    return out
