"""The weekly review pack as data: one dict per service and one for the company, built from the
public API (metrics.api), so the HTML, the PDF, the app page and the digest show the same numbers.

Every section reads the store as of `op.as_of` and evaluates at the end of the week (`week.end`,
capped at `as_of`), never at the clock: the same (week, as_of) gives the same pack, even after a
bill is restated later. "Open alerts" are the as-of-aware rules re-evaluated at the week's end
(budget forecast, SLO burn, freshness, cost anomalies), not the live alert state.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from metrics.api import Onepane, Week
from metrics.times import parse_duration

log = logging.getLogger(__name__)

TOP_CHANGES = 5             # what moved: items per service
COMPANY_TOP = 10            # what moved: items for the company
AGENDA_CAUSES = 3           # the agenda asks about a service's top likely causes only
ANOMALY_HISTORY = timedelta(days=35)
NOT_HEALTH = ("latest_event_at", "row_count")   # bookkeeping rows of the model-health table


def _at(op: Onepane, week: Week) -> datetime:
    """The instant the week is evaluated at: its end, or as_of if the week is not over then."""
    return min(week.end, op.as_of) if op.as_of else week.end


def _plain(v: Any) -> Any:
    """Numbers as plain floats (numpy/Decimal), recursively, so templates format them one way."""
    import decimal

    import numpy as np
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (decimal.Decimal, np.floating)):
        return float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def what_moved(op: Onepane, service: str, week: Week) -> list[dict]:
    """The week's top changes for a service: what-changed over 7 days against the week before.
    The one place the report calls metrics.analysis.what_changed (through the API)."""
    items = op.what_changed(service, at=_at(op, week), window=timedelta(days=7))
    return [_plain({**i, "service": service}) for i in items[:TOP_CHANGES]]


BREACH = ["fail", "failed", "drifted"]      # a window's status that breaches its threshold


def model_health_changes(op: Onepane, service: str, week: Week) -> list[dict]:
    """Mean of each model-health metric (drift share, quality, calibration, fairness) in the week
    against the week before; only metrics present in both weeks."""
    prev = week.previous()
    df = op.model_health(service, prev.start, week.end)
    if df.is_empty():
        return []
    df = df.filter(pl.col("feature").is_null() | (pl.col("feature") == ""))
    out = []
    for (metric,), g in df.group_by(["metric"], maintain_order=True):
        if metric in NOT_HEALTH:
            continue
        cur = g.filter(pl.col("window_start") >= week.start)["value"].drop_nulls()
        bef = g.filter(pl.col("window_start") < week.start)["value"].drop_nulls()
        if cur.len() and bef.len():
            c, b = float(cur.mean()), float(bef.mean())
            out.append({"metric": metric, "value": c, "previous": b, "change": c - b,
                        "breaches": int(g.filter((pl.col("window_start") >= week.start)
                                                 & pl.col("status").str.to_lowercase().is_in(BREACH)).height)
                        if "status" in g.columns else 0})
    return sorted(out, key=lambda r: (-abs(r["change"] / r["previous"]) if r["previous"] else -abs(r["change"]),
                                      r["metric"]))


def freshness(op: Onepane, service: str | None, at: datetime) -> list[dict]:
    """Per layer: newest data, its age at `at`, late rows, and whether the service's freshness
    SLO is breached."""
    df = op.freshness()
    if service is not None:
        df = df.filter(pl.col("service") == service)
    svc = op.config.service(service) if service else None
    limit = parse_duration(svc.slo.freshness) if svc and svc.slo and svc.slo.freshness else None
    out = []
    for r in df.to_dicts():
        newest = r["newest_data_at"]
        # data newer than the week's end (read later) counts as fresh at the week's end
        age = max((at - newest).total_seconds(), 0.0) if newest is not None else None
        out.append({"layer": r["layer"], "service": r["service"], "newest_data_at": newest,
                    "age_hours": None if age is None else age / 3600, "rows": r["rows"],
                    "late_rows": r["late_rows"],
                    "limit_hours": limit.total_seconds() / 3600 if limit else None,
                    "breach": bool(limit and (age is None or age > limit.total_seconds())
                                   and r["layer"] != "events")})
    return out


def _decisions(op: Onepane, service: str | None, week: Week) -> list[dict]:
    df = op.decisions(service=service, since=week.start)
    return df.drop("_load_id").to_dicts()


def _agenda(moved: list[dict], decisions: list[dict], budgets: list[dict]) -> list[dict]:
    """Open questions: each likely cause (a what-moved item) for a service with no decision
    recorded for it since the week began, and each budget forecast over budget."""
    decided = {d["service"] for d in decisions}
    out = [{"service": m["service"], "kind": "cause", "summary": m["summary"], "rank": m["rank"]}
           for m in moved[:AGENDA_CAUSES] if m["service"] not in decided]
    out += [{"service": b["name"], "kind": "budget", "budget": b} for b in budgets
            if b["status"] != "ok" and b["level"] == "service" and b["name"] not in decided]
    return out


def shared_sections(op: Onepane, week: Week) -> dict:
    """The company-wide evaluations, each computed once per pack: budgets with their month-end
    forecast (the one place the report calls the forecast), SLOs and cost anomalies."""
    at = _at(op, week)
    return {"budgets": _plain(op.budgets(at)), "slos": _plain(op.slos(at)),
            "anomalies": _plain(op.cost_anomalies(week.start - ANOMALY_HISTORY, week.end))}


def service_pack(op: Onepane, service: str, week: Week, ue: pl.DataFrame, shared: dict) -> dict:
    at = _at(op, week)
    prev = week.previous()
    budgets = [b for b in shared["budgets"] if b["level"] == "service" and b["name"] == service]
    slos = [s for s in shared["slos"] if s["service"] == service]
    moved = what_moved(op, service, week)
    decisions = _decisions(op, service, week)
    mc = op.marginal_cost(service)
    running = mc if mc and (mc["window"].get("end") is None
                            or _dt(mc["window"]["end"]) > prev.start) else None
    anomalies = [a for a in shared["anomalies"]
                 if a["level"] == "service" and a["key"] == service and a["day"] >= week.start.date().isoformat()]
    daily = op.daily_unit_cost(prev.start, week.end, [service])
    return {"service": service, "team": op.team_of(service), "at": at,
            "unit_economics": ue.filter(pl.col("service") == service).to_dicts(),
            "experiment": _plain(running),
            "what_moved": moved, "budgets": budgets, "slos": slos,
            "model_health": model_health_changes(op, service, week),
            "freshness": freshness(op, service, at),
            "anomalies": anomalies, "decisions": decisions,
            "agenda": _agenda(moved, decisions, budgets),
            "daily": daily.sort("day").to_dicts()}


def _dt(x) -> datetime:
    from datetime import date, timezone
    if isinstance(x, datetime):
        return x
    return datetime(x.year, x.month, x.day, tzinfo=timezone.utc) if isinstance(x, date) else x


def company_pack(op: Onepane, week: Week, services: list[dict], ue: pl.DataFrame,
                 shared: dict) -> dict:
    at = _at(op, week)
    rows = []
    for (cur,), g in ue.group_by(["currency"], maintain_order=True):
        def tot(c):
            return float(g[c].fill_null(0).sum())
        cost, preds, pcost = tot("cost"), tot("predictions"), tot("prev_cost")
        rows.append({"currency": cur, "cost": cost, "prev_cost": pcost, "predictions": preds,
                     "cost_per_prediction": cost / preds if preds else None,
                     "cost_change": cost / pcost - 1 if pcost else None})
    moved = sorted((m for s in services for m in s["what_moved"]), key=lambda m: -m["score"])
    budgets = [b for b in shared["budgets"] if b["level"] == "team"]
    return {"at": at, "totals": rows, "what_moved": moved[:COMPANY_TOP], "team_budgets": budgets,
            "decisions": [d for s in services for d in s["decisions"]],
            "agenda": [a for s in services for a in s["agenda"]]}


def build_pack(op: Onepane, week: str | Week | None = None,
               services: list[str] | None = None) -> dict:
    """The whole pack for one week: {'week', 'as_of', 'services': [...], 'company': {...}}."""
    w = week if isinstance(week, Week) else op.week(week)
    names = services or op.services()
    ue = op.unit_economics_week(w)
    ue = ue.filter(pl.col("service").is_in(names))
    shared = shared_sections(op, w)
    per = [service_pack(op, s, w, ue, shared) for s in names]
    return {"week": w, "as_of": op.as_of, "services": per,
            "company": company_pack(op, w, per, ue, shared)}
