"""SLOs: error budgets and multi-window, multi-burn-rate alerts (Google SRE workbook, "Alerting on SLOs").

Request-based SLOs (the default, `mode = "requests"`): every request is an event, good or bad.

    error_rate = x       a request is bad when it failed; objective = 1 − x (x = 0.001: 99.9 % succeed)
    latency_p95_s = s    a request is bad when it took longer than s; objective = 0.95 (95 % faster)

    error budget     = (1 − objective) × requests in the SLO period
    burn rate (win)  = (bad requests / requests in the window) / (1 − objective)

Requests and errors come from counter increases of `inference_requests_total{status}`; slow requests
from the latency histogram: count − bucket(le = the threshold, or the next boundary above it).

A burn rate of 1 spends the budget exactly over the period. An alert fires when both windows of a pair
burn at least the factor (the short window makes it stop soon after the problem does):

    page    1 h and 5 m    at 14.4×   (2 % of a 30-day budget in one hour)
    page    6 h and 30 m   at 6×      (5 % in six hours)
    ticket  1 d and 2 h    at 3×      (10 % in a day)
    ticket  3 d and 6 h    at 1×      (10 % in three days)

Budget remaining is over the SLO period: 1 − bad / ((1 − objective) × requests). When the store holds
less than the period, it is not extrapolated: the result says how much of the period is observed
(`observed_share`) and gives the burn rate over the observed part instead (`burn_observed`).

Time-slice SLOs (`mode = "time_slice"`, only when configured): one-minute slices with traffic are the
events; a slice is bad when its error rate is above `error_rate` or more than 5 % of its requests are
slower than `latency_p95_s`; `objective` is the share of good slices ("99 % of minutes good").

Event SLOs (metrics.analysis.slo_events; `objective` is the share of good events): model-quality
windows (bad: drift_share above the SLO, accuracy below `accuracy_min`), freshness minutes (bad: at
the end of the minute the newest data is older than `freshness`) and cost days (bad: the day's cost
per prediction above `cost_per_prediction`) use the same arithmetic and window pairs, as tickets.
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
SLOW_SHARE = 0.05          # time slices: a p95 above the threshold means more than 5 % are slower
LATENCY_OBJECTIVE = 0.95   # request-based latency_p95_s: 95 % of requests faster than the threshold
TOLERANCE = 1e-9           # a burn equal to the factor fires (float sums of whole counts)


@dataclass(frozen=True)
class BurnWindow:
    long: timedelta
    short: timedelta
    factor: float
    severity: str


BURN_WINDOWS = (
    BurnWindow(timedelta(hours=1), timedelta(minutes=5), 14.4, "page"),
    BurnWindow(timedelta(hours=6), timedelta(minutes=30), 6.0, "page"),
    BurnWindow(timedelta(days=1), timedelta(hours=2), 3.0, "ticket"),
    BurnWindow(timedelta(days=3), timedelta(hours=6), 1.0, "ticket"),
)
LONGEST = max(w.long for w in BURN_WINDOWS)


def burn_rate(bad: np.ndarray, total: np.ndarray, objective: float) -> float:
    """(Σ bad / Σ total) / (1 − objective). Works for counts per slice (requests) and for boolean
    slice flags (time slices: bad slices among counted ones)."""
    total = np.asarray(total, dtype=float)
    n = float(np.sum(total))
    if n == 0:
        return 0.0
    b = float(np.sum(np.where(total > 0, np.asarray(bad, dtype=float), 0.0)))
    return (b / n) / (1.0 - objective)


def burn_alerts(t: np.ndarray, bad: np.ndarray, total: np.ndarray, objective: float, at: float,
                windows=BURN_WINDOWS) -> list[dict[str, Any]]:
    """Every window pair at `at` over slices starting at t (epoch s) and ending by `at`."""
    out = []
    for w in windows:
        rates = {}
        for name, span in (("long", w.long), ("short", w.short)):
            m = (t >= at - span.total_seconds() - 1e-9) & (t + SLICE_S <= at + 1e-9)
            rates[name] = burn_rate(bad[m], total[m], objective)
        limit = w.factor * (1 - TOLERANCE)
        out.append({"long": _label(w.long), "short": _label(w.short), "factor": w.factor,
                    "severity": w.severity, "burn_long": rates["long"], "burn_short": rates["short"],
                    "firing": rates["long"] >= limit and rates["short"] >= limit})
    return out


def _label(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s % 86400 == 0:
        return f"{s // 86400}d"
    return f"{s // 3600}h" if s % 3600 == 0 else f"{s // 60}m"


def slices(store: Store, service: str, start: datetime, end: datetime, slo: SLO, con=None) -> pl.DataFrame:
    """One row per one-minute slice with traffic: t, requests, errors, observed, fast, slow, bad flags."""
    origin = start.timestamp()
    df = store.query(sql("slo_slices"), {"service": service, "start": start, "end": end, "origin": origin,
                                         "bucket_s": SLICE_S, "threshold_s": slo.latency_p95_s}, con=con)
    if df.is_empty():
        return df
    df = df.with_columns((pl.col("b") * SLICE_S + origin).alias("t"),
                         pl.col("requests").fill_null(0), pl.col("errors").fill_null(0),
                         pl.col("observed").fill_null(0), pl.col("fast").fill_null(0))
    df = df.with_columns((pl.col("observed") - pl.col("fast")).clip(lower_bound=0).alias("slow"))
    bad_err = pl.lit(False)
    if slo.error_rate is not None:
        bad_err = (pl.col("requests") > 0) & (pl.col("errors") / pl.col("requests") > slo.error_rate)
    bad_lat = pl.lit(False)
    if slo.latency_p95_s is not None:
        bad_lat = (pl.col("observed") > 0) & ((pl.col("slow") / pl.col("observed")) > SLOW_SHARE).fill_null(False)
    return df.with_columns(bad_err.alias("bad_error_rate"), bad_lat.alias("bad_latency"),
                           (pl.col("requests") > 0).alias("counted"))


def describe(kind: str, slo: SLO, objective: float) -> str:
    """The SLO in words, as alerts and pages show it."""
    pct = f"{objective * 100:.10g}%"
    if slo.mode == "time_slice":
        what = (f"error rate ≤ {slo.error_rate * 100:.10g}%" if kind == "error_rate"
                else f"p95 ≤ {slo.latency_p95_s:g} s")
        return f"time-slice SLO: {pct} of one-minute slices good ({what})"
    if kind == "error_rate":
        return f"{pct} of requests succeed"
    return f"{pct} of requests faster than {slo.latency_p95_s:g} s"


def _specs(slo: SLO, df: pl.DataFrame):
    """(kind, threshold, objective, bad per slice, events per slice) of each configured SLO."""
    out = []
    if slo.mode == "time_slice":
        counted = df["counted"].to_numpy().astype(float)
        if slo.error_rate is not None:
            out.append(("error_rate", slo.error_rate, slo.objective, df["bad_error_rate"].to_numpy(), counted))
        if slo.latency_p95_s is not None:
            obs = (df["observed"].to_numpy() > 0).astype(float)
            out.append(("latency_p95_s", slo.latency_p95_s, slo.objective, df["bad_latency"].to_numpy(), obs))
        return out
    if slo.error_rate is not None:
        out.append(("error_rate", slo.error_rate, 1.0 - slo.error_rate,
                    df["errors"].to_numpy().astype(float), df["requests"].to_numpy().astype(float)))
    if slo.latency_p95_s is not None:
        out.append(("latency_p95_s", slo.latency_p95_s, LATENCY_OBJECTIVE,
                    df["slow"].to_numpy().astype(float), df["observed"].to_numpy().astype(float)))
    return out


def evaluate_slos(store: Store, config: Settings, at: datetime, con=None) -> list[dict[str, Any]]:
    """Per service and SLO (error_rate, latency_p95_s): budget over the period and burn-rate alerts."""
    out = []
    for svc in config.services:
        slo = svc.slo
        if slo is None or (slo.error_rate is None and slo.latency_p95_s is None):
            continue
        period = parse_duration(slo.period)
        start = at - max(period, LONGEST)
        df = slices(store, svc.name, start, at, slo, con=con)
        if df.is_empty():
            continue
        t = df["t"].to_numpy()
        in_period = t >= (at - period).timestamp() - 1e-9
        for kind, threshold, objective, bad, total in _specs(slo, df):
            has = total > 0
            if not has[in_period].any():
                continue
            first = float(t[in_period & has].min())
            observed_s = min(at.timestamp() - first, period.total_seconds())
            share = observed_s / period.total_seconds()
            n = float(total[in_period].sum())
            nb = float(np.where(has, bad, 0)[in_period].sum())
            burn_obs = (nb / n) / (1 - objective) if n else 0.0
            full = share >= 1 - SLICE_S / period.total_seconds()
            r = {"service": svc.name, "slo": kind, "mode": slo.mode, "threshold": threshold,
                 "objective": objective, "period": slo.period, "description": describe(kind, slo, objective),
                 "events": n, "bad_events": nb, "allowed_bad": (1 - objective) * n,
                 "observed": _label(timedelta(seconds=round(observed_s / 60) * 60)) if observed_s >= 60 else "0m",
                 "observed_share": share, "burn_observed": burn_obs,
                 "budget_spent": burn_obs if full else None,
                 "budget_remaining": (1 - burn_obs) if full else None,
                 "burn": burn_alerts(t, bad, total, objective, at.timestamp())}
            if slo.mode == "time_slice":
                r["slices"], r["bad_slices"] = int(n), int(nb)
            out.append(r)
    return out


def budget_text(r: dict[str, Any]) -> str:
    """'12% of the 30d error budget left', or how much of the period is observed when not all of it."""
    if r["budget_remaining"] is not None:
        return f"{r['budget_remaining'] * 100:.0f}% of the {r['period']} error budget left"
    return (f"only {r['observed']} of the {r['period']} period observed ({r['observed_share'] * 100:.1f}%); "
            f"over it the budget burned at {r['burn_observed']:.2f}×")
