"""Evaluate the governance controls for each inventoried service at time `at`, reading the store as
it was known at `as_of` (default: everything committed).

Each control's query reads `gov_scope` (one row per service: tier, `at`, `window_start` and the
inventory fields, registered on the connection) and `gov_slo` (error budgets from
metrics.analysis.slo), and returns per service `ok` (TRUE pass, FALSE gap, NULL not applicable),
`detail` and its evidence columns. A control not required for a service's tier is "not required";
a query that fails is "error" and counts as a gap, so a broken rule never looks green.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from metrics.config import Service, Settings
from metrics.errors import OnepaneError
from metrics.governance.controls import Control, load_controls
from metrics.store import Store
from metrics.times import parse_duration, parse_time, utcnow

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1.0"
DEFAULT_FRESHNESS = "1d"                    # as the Data health page
STATUSES = ("pass", "gap", "error", "not applicable", "not required")
GAP_STATUSES = ("gap", "error")


def _sensitive(config: Settings, svc: Service) -> list[str]:
    """Inventory `sensitive_attributes` plus the `sensitive` columns of the service's drift sources."""
    out = list(svc.governance.sensitive_attributes) if svc.governance else []
    for src in config.source:
        extra = src.model_extra or {}
        if src.type == "drift" and extra.get("service") == svc.name:
            out += [a for a in extra.get("sensitive") or [] if isinstance(a, str)]
    return sorted(set(out))


def scope_frame(config: Settings, at: datetime, window: timedelta,
                services: list[str] | None = None) -> pl.DataFrame:
    """One row per configured service: its tier, inventory fields and window (`window_start`)."""
    teams = {t.name: t.budget for t in config.teams}
    rows = []
    for svc in config.services:
        if services and svc.name not in services:
            continue
        g = svc.governance
        slo = svc.slo
        team_budget = teams.get(svc.team)
        fresh = (slo.freshness if slo and slo.freshness else DEFAULT_FRESHNESS)
        rows.append({
            "service": svc.name, "tier": g.tier if g else None, "owner_team": svc.team,
            "at": at, "window_start": at - window,
            "intended_use": g.intended_use if g else None, "model_class": g.model_class if g else None,
            "model_card": g.links.model_card if g else None, "runbook": g.links.runbook if g else None,
            "data_contracts": list(g.links.data_contracts) if g else [],
            "fallback": g.fallback if g else None, "rollback_procedure": g.rollback if g else None,
            "declared_last_review": g.last_review if g else None,
            "sensitive_attributes": _sensitive(config, svc),
            "model_versions": list(svc.model_versions),
            "slo_defined": bool(slo and (slo.error_rate is not None or slo.latency_p95_s is not None)),
            "budget_monthly": svc.budget.monthly if svc.budget else None,
            "team_budget_monthly": team_budget.monthly if team_budget else None,
            "budget_currency": (svc.budget or team_budget).currency if (svc.budget or team_budget) else None,
            "freshness_slo": fresh, "freshness_limit": parse_duration(fresh),
        })
    schema = {"service": pl.Utf8, "tier": pl.Utf8, "owner_team": pl.Utf8,
              "at": pl.Datetime("us", "UTC"), "window_start": pl.Datetime("us", "UTC"),
              "intended_use": pl.Utf8, "model_class": pl.Utf8, "model_card": pl.Utf8, "runbook": pl.Utf8,
              "data_contracts": pl.List(pl.Utf8), "fallback": pl.Utf8, "rollback_procedure": pl.Utf8,
              "declared_last_review": pl.Date, "sensitive_attributes": pl.List(pl.Utf8),
              "model_versions": pl.List(pl.Utf8), "slo_defined": pl.Boolean,
              "budget_monthly": pl.Decimal(38, 18), "team_budget_monthly": pl.Decimal(38, 18),
              "budget_currency": pl.Utf8, "freshness_slo": pl.Utf8, "freshness_limit": pl.Duration("us")}
    return pl.DataFrame(rows, schema=schema)


def slo_frame(store: Store, config: Settings, at: datetime, con) -> pl.DataFrame:
    """Error budget per service and SLO at `at`: the one call into metrics.analysis.slo.

    When only part of the SLO period has data, the budget is judged over the observed part
    (1 - observed burn) and `observed` says how much of the period that is."""
    from metrics.analysis.slo import evaluate_slos

    rows = []
    for r in evaluate_slos(store, config, at, con=con):
        remaining = r.get("budget_remaining")
        observed = None
        if remaining is None:                       # a partial period: judge the observed part
            remaining = 1 - float(r.get("burn_observed") or 0.0)
            observed = r.get("observed")
        rows.append({"service": r["service"], "slo": r["slo"], "threshold": float(r["threshold"]),
                     "objective": float(r["objective"]), "period": r["period"],
                     "budget_remaining": float(remaining), "observed": observed})
    return pl.DataFrame(rows, schema={"service": pl.Utf8, "slo": pl.Utf8, "threshold": pl.Float64,
                                      "objective": pl.Float64, "period": pl.Utf8,
                                      "budget_remaining": pl.Float64, "observed": pl.Utf8})


def _plain(v: Any) -> Any:
    """JSON-friendly evidence values: numbers stay numbers, instants become ISO 8601 UTC."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    if isinstance(v, float) and v != v:
        return None
    return v


def _run_control(con, control: Control, scope: pl.DataFrame, default_window: timedelta,
                 at: datetime) -> dict[str, dict]:
    """Run one control's query with its own windows; -> {service: {ok, detail, evidence}}."""
    windows = scope.with_columns(pl.col("tier").map_elements(
        lambda t: at - control.window_for(t, default_window), return_dtype=pl.Datetime("us", "UTC"))
        .alias("window_start")) if scope.height else scope
    con.register("gov_scope", windows.to_arrow())
    try:
        df = con.sql(control.sql).pl()
    except duckdb.Error as e:
        msg = str(e).splitlines()[0]
        log.warning("control failed control=%s error=%s", control.id, msg)
        return {s: {"status": "error", "detail": f"query failed: {msg}", "evidence": {}}
                for s in scope["service"].to_list()}
    finally:
        con.unregister("gov_scope")
    missing = [c for c in ("service", "ok", "detail", *control.evidence) if c not in df.columns]
    if missing:
        return {s: {"status": "error", "detail": f"query result lacks column(s) {', '.join(missing)}",
                    "evidence": {}} for s in scope["service"].to_list()}
    out = {}
    for r in df.iter_rows(named=True):
        status = "not applicable" if r["ok"] is None else ("pass" if r["ok"] else "gap")
        out[r["service"]] = {"status": status, "detail": r["detail"],
                             "evidence": {k: _plain(r[k]) for k in control.evidence}}
    return out


def evaluate(store: Store, config: Settings, at: datetime | str | None = None,
             as_of: datetime | str | None = None, services: list[str] | None = None,
             controls: list[Control] | None = None, now: datetime | None = None) -> dict:
    """The evidence pack as a dict (see docs/governance-report.schema.json).

    `at`: the time the controls are judged at (default `as_of`, else `now`, else the clock);
    `as_of`: read the store as it was known then (None: everything committed)."""
    as_of_t = parse_time(as_of) if as_of is not None else None
    at_t = parse_time(at) if at is not None else (as_of_t or now or utcnow())
    controls = controls if controls is not None else load_controls(config.governance.controls)
    default_window = parse_duration(config.governance.window)
    unknown = [s for s in services or [] if config.service(s) is None]
    if unknown:
        raise OnepaneError(f"unknown service(s) {', '.join(unknown)}; "
                           f"configured: {', '.join(s.name for s in config.services) or 'none'}")
    scope = scope_frame(config, at_t, default_window, services)
    results: dict[str, dict[str, dict]] = {}
    con = store.connect(as_of_t)
    try:
        con.register("gov_slo", slo_frame(store, config, at_t, con).to_arrow())
        for c in controls:
            results[c.id] = _run_control(con, c, scope, default_window, at_t)
    finally:
        con.close()
    out_services = []
    for row in scope.iter_rows(named=True):
        name, tier = row["service"], row["tier"]
        items = []
        for c in controls:
            r = results[c.id].get(name) or {"status": "gap", "detail": "the query returned no row", "evidence": {}}
            required = c.applies_to(tier)
            items.append({"id": c.id, "status": r["status"] if required else "not required",
                          "detail": r["detail"], "evidence": r["evidence"]})
        gaps = [i["id"] for i in items if i["status"] in GAP_STATUSES]
        out_services.append({
            "service": name, "tier": tier, "owner_team": row["owner_team"],
            "inventory": {k: _plain(row[k]) for k in (
                "intended_use", "model_class", "model_versions", "model_card", "runbook", "data_contracts",
                "fallback", "rollback_procedure", "declared_last_review", "sensitive_attributes")},
            "light": light(items, controls), "gaps": gaps, "controls": items})
    return {
        "schema_version": SCHEMA_VERSION, "framework": "NIST AI RMF 1.0",
        "at": _plain(at_t), "as_of": _plain(as_of_t), "generated_at": _plain(now or utcnow()),
        "store": str(store.db_path), "window": config.governance.window,
        "controls": [{"id": c.id, "title": c.title, "function": c.function, "category": c.category,
                      "tiers": list(c.tiers), "severity": c.severity, "query": c.source,
                      "evidence": list(c.evidence),
                      "window": _window_text(c, config.governance.window)} for c in controls],
        "services": out_services,
    }


def _window_text(c: Control, default: str) -> str:
    base = f"{c.window.days}d" if c.window else default
    if not c.window_by_tier:
        return base
    return ", ".join([f"{t}: {d.days}d" for t, d in c.window_by_tier.items()] + [f"else {base}"])


def light(items: list[dict], controls: list[Control]) -> str:
    """green: every required control passes; red: a gap in a high-severity control; else amber."""
    sev = {c.id: c.severity for c in controls}
    gaps = [i for i in items if i["status"] in GAP_STATUSES]
    if not gaps:
        return "green"
    return "red" if any(sev.get(i["id"]) == "high" for i in gaps) else "amber"


def matrix(report: dict) -> pl.DataFrame:
    """Services x controls: one row per service, one column per control holding its status."""
    rows = []
    for s in report["services"]:
        row = {"service": s["service"], "tier": s["tier"] or "unclassified", "light": s["light"],
               "gaps": len(s["gaps"])}
        row.update({i["id"]: i["status"] for i in s["controls"]})
        rows.append(row)
    return pl.DataFrame(rows) if rows else pl.DataFrame({"service": [], "tier": [], "light": [], "gaps": []},
                                                         schema={"service": pl.Utf8, "tier": pl.Utf8,
                                                                 "light": pl.Utf8, "gaps": pl.Int64})
