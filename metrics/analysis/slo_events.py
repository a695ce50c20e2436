"""Event SLOs: model quality, freshness and cost per prediction, with the request SLOs' burn arithmetic.

Each SLO has its own events, each good or bad; `objective` (default 0.99) is the share of good events
promised over the SLO `period`. Then, exactly as for requests (metrics.analysis.slo):

    error budget     = (1 − objective) × events in the period
    burn rate (win)  = (bad events / events in the window) / (1 − objective)

and the same window pairs and factors (14.4× over 1 h & 5 m, 6× over 6 h & 30 m, 3× over 1 d & 2 h,
1× over 3 d & 6 h). The events:

    drift_share          one per model-health window (whole-model value, mean over versions);
                         bad when its drift_share is above the SLO
    accuracy_min         one per model-health window; bad when its accuracy is below accuracy_min
    freshness            one per minute from the service's first data point on; bad when at the end
                         of the minute the newest data (telemetry, request log, KPIs, model-health
                         window ends) is older than `freshness`
    cost_per_prediction  one per UTC day with both cost and requests; bad when the day's effective
                         cost ÷ requests is above the SLO (in any of its currencies)

An event belongs to a window when it ends inside it. A window shorter than an event (the 5-minute
window against a daily drift report or a cost day) holds the newest event that ended within one
event length of the check: the short window of a pair then reads "the newest event", and the pair
stops firing as soon as a good event follows.

Severity: these SLOs open **tickets** at every pair, never pages. Their data arrives per window or
per day and a human fixes them in working hours (a drifted model, a stale export, a cost overrun);
the pair that fired and its burn rates are named in the ticket.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np

from metrics.analysis.signals import sql
from metrics.analysis.slo import BURN_WINDOWS, LONGEST, TOLERANCE, _label
from metrics.config import SLO, Settings
from metrics.store import Store
from metrics.times import parse_duration

MINUTE = 60.0


@dataclass
class Events:
    """Events of one SLO: end instants (epoch s), lengths (s), bad flags; `latest` describes the newest."""
    end: np.ndarray
    length: np.ndarray
    bad: np.ndarray
    latest: dict[str, Any]


def burn_pairs(ev: Events, objective: float, at: float, windows=BURN_WINDOWS) -> list[dict[str, Any]]:
    """Every window pair at `at`: an event is in a window of span S when it ends in (at − max(S, its
    length), at]."""
    out = []
    for w in windows:
        rates = {}
        for name, span in (("long", w.long), ("short", w.short)):
            m = (ev.end <= at + 1e-9) & (ev.end > at - np.maximum(span.total_seconds(), ev.length) + 1e-9)
            n = int(m.sum())
            rates[name] = (float(ev.bad[m].sum()) / n) / (1 - objective) if n else 0.0
        limit = w.factor * (1 - TOLERANCE)
        out.append({"long": _label(w.long), "short": _label(w.short), "factor": w.factor,
                    "severity": "ticket", "burn_long": rates["long"], "burn_short": rates["short"],
                    "firing": rates["long"] >= limit and rates["short"] >= limit})
    return out


def summarize(service: str, kind: str, slo: SLO, threshold: Any, description: str, ev: Events,
              at: datetime) -> dict[str, Any] | None:
    """The same fields as metrics.analysis.slo.evaluate_slos gives per request SLO."""
    period = parse_duration(slo.period)
    a = at.timestamp()
    inp = ev.end > a - period.total_seconds() + 1e-9
    if not inp.any():
        return None
    first = float((ev.end - ev.length)[inp].min())
    observed_s = min(a - first, period.total_seconds())
    share = observed_s / period.total_seconds()
    n = float(inp.sum())
    nb = float(ev.bad[inp].sum())
    burn_obs = (nb / n) / (1 - slo.objective)
    full = share >= 1 - float(ev.length[inp].max()) / period.total_seconds()
    return {"service": service, "slo": kind, "mode": "events", "threshold": threshold,
            "objective": slo.objective, "period": slo.period, "description": description,
            "events": n, "bad_events": nb, "allowed_bad": (1 - slo.objective) * n,
            "observed": _label(timedelta(seconds=round(observed_s / 60) * 60)) if observed_s >= 60 else "0m",
            "observed_share": share, "burn_observed": burn_obs,
            "budget_spent": burn_obs if full else None, "budget_remaining": (1 - burn_obs) if full else None,
            "burn": burn_pairs(ev, slo.objective, a), "latest": ev.latest}


def _pct(x: float) -> str:
    return f"{x * 100:.10g}%"


# ---- the events of each kind -------------------------------------------------------------------
def model_events(store: Store, service: str, start: datetime, at: datetime, metric: str,
                 is_bad, con=None) -> Events | None:
    df = store.query(sql("slo_model_windows"), {"service": service, "start": start, "end": at,
                                                "metrics": [metric]}, con=con)
    if df.is_empty():
        return None
    end = df["window_end"].to_numpy().astype(float)
    length = end - df["window_start"].to_numpy().astype(float)
    value = df["value"].to_numpy().astype(float)
    bad = np.array([is_bad(v) for v in value], dtype=bool)
    latest = {"value": float(value[-1]),
              "window_start": datetime.fromtimestamp(float(df["window_start"][-1]), tz=timezone.utc)}
    return Events(end, length, bad, latest)


def freshness_events(store: Store, service: str, start: datetime, at: datetime, limit: timedelta,
                     con=None) -> Events | None:
    """Minutes ending in (start, at] from the first data point on: bad when the newest data at the
    minute's end is older than `limit`."""
    a = at.timestamp()
    last_end = np.floor(a / MINUTE) * MINUTE
    origin = np.floor(start.timestamp() / MINUTE) * MINUTE
    n = int(round((last_end - origin) / MINUTE))
    if n <= 0:
        return None
    df = store.query(sql("slo_freshness_minutes"), {"service": service, "start": datetime.fromtimestamp(
        origin, tz=timezone.utc), "end": datetime.fromtimestamp(last_end, tz=timezone.utc), "origin": float(origin)},
        con=con)
    before = store.query(sql("newest_data"), {"service": service, "at": datetime.fromtimestamp(
        origin, tz=timezone.utc)}, con=con)
    prior = before["newest_at"][0] if before.height else None
    newest = np.full(n, -np.inf)
    if not df.is_empty():
        b = df["b"].to_numpy()
        ok = (b >= 0) & (b < n)
        newest[b[ok]] = df["newest"].to_numpy().astype(float)[ok]
    if prior is not None:
        newest[0] = max(newest[0], prior.timestamp())
    newest = np.maximum.accumulate(newest)            # newest data at or before each minute's end
    ends = origin + MINUTE * (np.arange(n) + 1)
    seen = np.isfinite(newest)
    if not seen.any():
        return None
    ends, newest = ends[seen], newest[seen]
    bad = ends - newest > limit.total_seconds() + 1e-9
    latest = {"newest_at": datetime.fromtimestamp(float(newest[-1]), tz=timezone.utc),
              "age": timedelta(seconds=round(a - float(newest[-1])))}
    return Events(ends, np.full(ends.size, MINUTE), bad, latest)


def cost_events(store: Store, service: str, start: datetime, at: datetime, limit: Decimal,
                con=None) -> Events | None:
    """UTC days ending by `at` with cost and requests: bad when cost ÷ requests is above `limit`."""
    today = at.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    first = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    df = store.query(sql("slo_cost_days"), {"service": service, "start": first, "end": today}, con=con)
    df = df.filter(df["requests"] > 0)
    if df.is_empty():
        return None
    days: dict[float, list[tuple[str, Decimal, Decimal]]] = {}
    for r in df.to_dicts():
        value = Decimal(r["cost"]) / Decimal(int(round(r["requests"])))
        days.setdefault(float(r["day"]), []).append((r["currency"], value, Decimal(r["cost"])))
    starts = np.array(sorted(days))
    bad = np.array([any(v > limit for _, v, _ in days[d]) for d in starts], dtype=bool)
    cur, value, cost = days[starts[-1]][0]
    latest = {"day": datetime.fromtimestamp(starts[-1], tz=timezone.utc).date().isoformat(),
              "value": value, "currency": cur, "cost": cost,
              "requests": int(round(float(df.filter(df["day"] == starts[-1])["requests"][0])))}
    return Events(starts + 86400.0, np.full(starts.size, 86400.0), bad, latest)


def evaluate_event_slos(store: Store, config: Settings, at: datetime, con=None) -> list[dict[str, Any]]:
    """Per service: the drift_share, accuracy_min, freshness and cost_per_prediction SLOs it sets."""
    out = []
    for svc in config.services:
        slo = svc.slo
        if slo is None:
            continue
        start = at - max(parse_duration(slo.period), LONGEST)
        obj = _pct(slo.objective)
        specs = []
        if slo.drift_share is not None:
            ev = model_events(store, svc.name, start, at, "drift_share", lambda v: v > slo.drift_share, con)
            specs.append(("drift_share", slo.drift_share, ev,
                          f"{obj} of model-health windows with drift_share ≤ {_pct(slo.drift_share)}"))
        if slo.accuracy_min is not None:
            ev = model_events(store, svc.name, start, at, "accuracy", lambda v: v < slo.accuracy_min, con)
            specs.append(("accuracy", slo.accuracy_min, ev,
                          f"{obj} of model-health windows with accuracy ≥ {slo.accuracy_min:g}"))
        if slo.freshness:
            ev = freshness_events(store, svc.name, start, at, parse_duration(slo.freshness), con)
            specs.append(("freshness", slo.freshness, ev,
                          f"{obj} of minutes with data newer than {slo.freshness}"))
        if slo.cost_per_prediction is not None:
            ev = cost_events(store, svc.name, start, at, slo.cost_per_prediction, con)
            specs.append(("cost_per_prediction", slo.cost_per_prediction, ev,
                          f"{obj} of days with cost per prediction ≤ {slo.cost_per_prediction}"))
        for kind, threshold, ev, text in specs:
            if ev is None:
                if kind == "freshness":      # no data at all: nothing to count, still worth a ticket
                    out.append({"service": svc.name, "slo": kind, "threshold": threshold, "no_data": True,
                                "description": text, "burn": []})
                continue
            r = summarize(svc.name, kind, slo, threshold, text, ev, at)
            if r is not None:
                out.append(r)
    return out
