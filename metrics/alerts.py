"""`onepane check`: evaluate every alert rule, notify about changes, keep the state in the store.

Rules (each alert has a de-duplication key = rule + subject):
  slo_burn           multi-window multi-burn-rate on request-based latency/error-rate SLOs: pages at
                     14.4× (1h & 5m) and 6× (6h & 30m), tickets at 3× (1d & 2h) and 1× (3d & 6h)
                     (metrics.analysis.slo)
  slo_freshness, slo_drift_share, slo_accuracy, slo_cost_per_prediction
                     the same burn arithmetic over their own events (freshness minutes, model-health
                     windows, cost days; metrics.analysis.slo_events): one ticket per SLO when a pair fires
  budget_forecast    month-end forecast (central value) above a service/team budget, with the
                     probability of the overrun (metrics.analysis.budgets)
  cost_day_over_day, cost_week_over_week   daily-cost deltas beyond [alerts] thresholds
  cost_anomaly       the last full day is a cost anomaly (metrics.analysis.anomalies)

Notifications are routed like the weekly digest (metrics.routing): an alert about a service goes
to its owning team's channel ([[services]] team -> [[teams]] webhook_url(_env), a Slack-compatible
webhook, and mail_to), and company-level alerts (and those of teams without a channel) go to the
[alerts] channels: a Slack-compatible webhook ({"text": ...}), a generic JSON webhook and SMTP
email, each only when configured; URLs and SMTP credentials come from the environment variables
named in [alerts] / [[teams]]. State lives in `raw_alert_state` (one Parquet row per state change): an alert
that was already firing and notified is not sent again; one that stops firing sends a "resolved"
message. A change is recorded only when every channel of its route accepted it, so a failed delivery
is retried by the next check (and only on the route that failed).
"""
from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import polars as pl

from metrics.analysis.signals import sql
from metrics.analysis.wc_evidence import annotate_alerts
from metrics.config import Settings
from metrics.errors import ConfigError
from metrics.store import Store
from metrics.times import utcnow

log = logging.getLogger(__name__)

TIMEOUT_S = 10


@dataclass
class CheckResult:
    firing: list[dict[str, Any]]
    resolved: list[dict[str, Any]]
    new: list[dict[str, Any]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)      # channels that accepted a message
    errors: list[str] = field(default_factory=list)


def _alert(rule: str, subject: str, severity: str, summary: str, **details) -> dict[str, Any]:
    return {"key": f"{rule}:{subject}", "rule": rule, "subject": subject, "severity": severity,
            "summary": summary, "details": details}


def _money(x: Decimal | float) -> str:
    return f"{Decimal(str(x)).quantize(Decimal('0.01'))}"


# ---- rules -------------------------------------------------------------------------------------
def evaluate(store: Store, config: Settings, at: datetime) -> list[dict[str, Any]]:
    """Every alert that fires at `at`, in rule order."""
    from metrics.analysis.anomalies import cost_anomalies
    from metrics.analysis.budgets import budget_status, cost_deltas
    from metrics.analysis.slo import budget_text, evaluate_slos

    out: list[dict[str, Any]] = []
    con = store.connect()
    try:
        for r in evaluate_slos(store, config, at, con=con):
            for w in r["burn"]:
                if w["firing"]:
                    out.append(_alert(
                        "slo_burn", f"{r['service']}/{r['slo']}/{w['long']}-{w['short']}", w["severity"],
                        f"{r['service']} {r['slo']} SLO ({r['description']}) burning its error budget "
                        f"{w['burn_long']:.1f}× over {w['long']} and {w['burn_short']:.1f}× over {w['short']} "
                        f"({w['severity']} at {w['factor']:g}×); {budget_text(r)}.",
                        burn_long=w["burn_long"], burn_short=w["burn_short"], factor=w["factor"],
                        objective=r["objective"], mode=r["mode"], budget_remaining=r["budget_remaining"],
                        observed_share=r["observed_share"], burn_observed=r["burn_observed"]))
        out += _model_and_freshness(store, config, at, con)
        for b in budget_status(store, config, at, con=con):
            if b["status"] != "ok":
                out.append(_alert(
                    "budget_forecast", f"{b['level']}/{b['name']}/{b['month']}",
                    b["status"],
                    f"{b['level']} {b['name']} is forecast to spend {_money(b['forecast'])} {b['currency']} "
                    f"in {b['month']} (80% interval {_money(b['forecast_low'])}–{_money(b['forecast_high'])}, "
                    f"model: {b['model']}) against a budget of {_money(b['budget'])}; "
                    f"{b['p_over_budget'] * 100:.0f}% likely to overrun; {_money(b['month_to_date'])} spent so far.",
                    **{k: b[k] for k in ("budget", "forecast", "forecast_low", "forecast_high",
                                         "month_to_date", "currency", "p_over_budget", "model")}))
        for d in cost_deltas(store, config, at, con=con):
            if d["firing"]:
                out.append(_alert(
                    f"cost_{d['rule']}", str(d["service"]), "warning",
                    f"daily cost of {d['service']} changed {d['change'] * 100:+.0f}% {d['rule'].replace('_', '-')} "
                    f"({_money(d['previous'])} → {_money(d['current'])} {d['currency']}; threshold "
                    f"{d['threshold'] * 100:.0f}%).",
                    current=d["current"], previous=d["previous"], change=d["change"]))
        today = at.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        last_day = (today - timedelta(days=1)).date().isoformat()
        for a in cost_anomalies(store, today - timedelta(days=35), today):
            if a["day"] == last_day:
                rc = a["root_cause"]
                out.append(_alert(
                    "cost_anomaly", f"{a['level']}/{a['key']}", "warning",
                    f"cost of {a['level']} {a['key']} on {a['day']} was {_money(a['cost'])} {a['currency']}, "
                    f"{_money(a['severity'])} above the expected {_money(a['expected'])}"
                    + (f"; mostly {rc['dimension']} {rc['value']}" if rc else "") + ".",
                    day=a["day"], cost=a["cost"], expected=a["expected"], severity_money=a["severity"]))
    finally:
        con.close()
    return out


def _model_and_freshness(store: Store, config: Settings, at: datetime, con) -> list[dict[str, Any]]:
    """Model-quality, freshness and cost SLOs: one ticket per SLO when a window pair burns at least
    its factor (metrics.analysis.slo_events), naming the fastest pair that fires."""
    from metrics.analysis.slo import budget_text
    from metrics.analysis.slo_events import evaluate_event_slos

    out = []
    for r in evaluate_event_slos(store, config, at, con=con):
        svc, kind = r["service"], r["slo"]
        if r.get("no_data"):
            out.append(_alert(f"slo_{kind}", svc, "ticket", f"{svc}: no data (SLO freshness {r['threshold']}).",
                              newest_at=None, limit=r["threshold"]))
            continue
        w = next((w for w in r["burn"] if w["firing"]), None)
        if w is None:
            continue
        lt = r["latest"]
        if kind == "drift_share":
            newest = (f"{lt['value'] * 100:.0f}% of features drifted in the window starting "
                      f"{lt['window_start']:%Y-%m-%d %H:%M}Z")
        elif kind == "accuracy":
            newest = f"accuracy {lt['value']:.3f} in the window starting {lt['window_start']:%Y-%m-%d %H:%M}Z"
        elif kind == "freshness":
            newest = f"newest data is {lt['age']} old"
        else:
            newest = f"cost per prediction {lt['value']:.6f} {lt['currency']} on {lt['day']}"
        out.append(_alert(
            f"slo_{kind}", svc, "ticket",
            f"{svc} {kind} SLO ({r['description']}) burning its budget {w['burn_long']:.1f}× over {w['long']} "
            f"and {w['burn_short']:.1f}× over {w['short']} (ticket at {w['factor']:g}×); {newest}; "
            f"{budget_text(r)}.",
            burn_long=w["burn_long"], burn_short=w["burn_short"], factor=w["factor"], window=f"{w['long']}-{w['short']}",
            objective=r["objective"], events=r["events"], bad_events=r["bad_events"],
            budget_remaining=r["budget_remaining"], observed_share=r["observed_share"], **lt))
    return out


# ---- state -------------------------------------------------------------------------------------
def current_state(store: Store) -> dict[str, dict[str, Any]]:
    df = store.query(sql("alert_state"))
    return {r["alert_key"]: r for r in df.to_dicts()}


def _record(store: Store, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    from metrics.lake import Load

    with Load(store, "raw_alert_state", collector="alerts", source="onepane check") as load:
        load.write(pl.DataFrame(rows, schema={
            "alert_key": pl.String, "rule": pl.String, "subject": pl.String, "status": pl.String,
            "severity": pl.String, "summary": pl.String, "changed_at": pl.Datetime("us", "UTC"),
            "notified": pl.String, "details": pl.String}), scope="alerts")


# ---- channels ----------------------------------------------------------------------------------
def _env(name: str | None, what: str) -> str | None:
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} (for {what}) is not set", key="alerts")
    return value


def _post_json(url: str, payload: dict) -> None:
    data = json.dumps(payload, default=str).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
        if resp.status >= 300:
            raise OSError(f"HTTP {resp.status}")


def _line(status: str, a: dict) -> str:
    return (f"[{status.upper()}] {a['rule']} {a['subject']} ({a['severity']}): {a['summary']}"
            + (a.get("details") or {}).get("what_changed_text", ""))


def channels(config: Settings) -> list[tuple[str, Any]]:
    """The configured channels as (name, send(new, resolved, at)) pairs."""
    al = config.alerts
    out: list[tuple[str, Any]] = []
    slack = _env(al.slack_webhook_env, "alerts.slack_webhook_env")
    if slack:
        def send_slack(new, resolved, at, url=slack):
            text = "\n".join([_line("firing", a) for a in new] + [_line("resolved", a) for a in resolved])
            _post_json(url, {"text": f"onepane check at {at:%Y-%m-%d %H:%M}Z\n{text}"})
        out.append(("slack", send_slack))
    hook = _env(al.webhook_url_env, "alerts.webhook_url_env") or al.webhook_url
    if hook:
        def send_hook(new, resolved, at, url=hook):
            _post_json(url, {"source": "onepane", "at": at.isoformat(), "alerts":
                             [{"status": "firing", **_public(a)} for a in new]
                             + [{"status": "resolved", **_public(a)} for a in resolved]})
        out.append(("webhook", send_hook))
    if al.mail_to:
        _env(al.smtp_user_env, "alerts.smtp_user_env")          # a named but unset secret fails early
        _env(al.smtp_password_env, "alerts.smtp_password_env")
        out.append(("email", lambda new, resolved, at: _send_mail(config, al.mail_to, "", new, resolved, at)))
    return out


def _send_mail(config: Settings, to: list[str], prefix: str, new, resolved, at) -> None:
    al = config.alerts
    user = _env(al.smtp_user_env, "alerts.smtp_user_env")
    password = _env(al.smtp_password_env, "alerts.smtp_password_env")
    msg = EmailMessage()
    msg["Subject"] = f"[onepane] {prefix}{len(new)} firing, {len(resolved)} resolved"
    msg["From"] = al.mail_from
    msg["To"] = ", ".join(to)
    msg.set_content(f"onepane check at {at:%Y-%m-%d %H:%M}Z\n\n"
                    + "\n".join([_line("firing", a) for a in new]
                                + [_line("resolved", a) for a in resolved]) + "\n")
    with smtplib.SMTP(al.smtp_host, al.smtp_port, timeout=TIMEOUT_S) as smtp:
        if user and password:
            smtp.login(user, password)
        smtp.send_message(msg)


def _public(a: dict) -> dict:
    return {k: a[k] for k in ("key", "rule", "subject", "severity", "summary")} | {
        "details": json.loads(json.dumps(a.get("details", {}), default=str))}


# ---- the check ---------------------------------------------------------------------------------
def run_check(store: Store, config: Settings, at: datetime | None = None, notify: bool = True) -> CheckResult:
    """Evaluate, notify and record. A notifying check holds the `check` run lock (metrics.locks):
    a second one started while it runs (cron and a systemd timer) is refused with StoreBusy instead
    of sending the same alerts again."""
    if notify:
        from metrics.locks import run_lock

        with run_lock(store, "check"):
            return _run_check(store, config, at, notify)
    return _run_check(store, config, at, notify)


def _run_check(store: Store, config: Settings, at: datetime | None, notify: bool) -> CheckResult:
    at = at or utcnow()
    firing = evaluate(store, config, at)
    firing = annotate_alerts(store, config, firing, at)      # link + top 3 of what changed
    state = current_state(store)
    was = {k: v for k, v in state.items() if v["status"] == "firing"}
    now_keys = {a["key"] for a in firing}
    new = [a for a in firing if a["key"] not in was]
    resolved = [{"key": k, "rule": v["rule"], "subject": v["subject"], "severity": v["severity"],
                 "summary": f"no longer firing (was: {v['summary']})", "details": {}}
                for k, v in was.items() if k not in now_keys]
    res = CheckResult(firing=[_public(a) for a in firing], resolved=[_public(a) for a in resolved],
                      new=[_public(a) for a in new])
    if not notify or not (new or resolved):
        return res
    for _route, sends, new_r, resolved_r in _routed(config, new, resolved):
        sent, ok = [], True
        for name, send in sends:
            try:
                send(new_r, resolved_r, at)
                sent.append(name)
            except (OSError, smtplib.SMTPException) as e:
                ok = False
                res.errors.append(f"{name}: {e}")
                log.warning("alert delivery failed channel=%s error=%s", name, e)
        res.sent += sent
        if ok:          # recorded per route: a route that failed is retried by the next check
            _record(store, _state_rows(new_r, resolved_r, at, json.dumps(sent)))
    return res


def _state_rows(new: list[dict], resolved: list[dict], at: datetime, notified: str) -> list[dict]:
    rows = [{"alert_key": a["key"], "rule": a["rule"], "subject": a["subject"], "status": "firing",
             "severity": a["severity"], "summary": a["summary"], "changed_at": at, "notified": notified,
             "details": json.dumps(a["details"], default=str)} for a in new]
    rows += [{"alert_key": a["key"], "rule": a["rule"], "subject": a["subject"], "status": "resolved",
              "severity": a["severity"], "summary": a["summary"], "changed_at": at, "notified": notified,
              "details": "{}"} for a in resolved]
    return rows


def _routed(config: Settings, new: list[dict], resolved: list[dict]):
    """(route, channels, new, resolved) per route with something to say: each owning team that has
    a channel in [[teams]] gets its alerts, the company channels ([alerts]) get the rest
    (metrics.routing)."""
    from metrics.routing import alert_owner, team_channels

    teams = team_channels(config)
    groups: dict[str | None, tuple[list, list]] = {}
    for i, alerts in enumerate((new, resolved)):
        for a in alerts:
            owner = alert_owner(config, a["rule"], a["subject"])
            groups.setdefault(owner if owner in teams else None, ([], []))[i].append(a)
    out = []
    for owner, (n, r) in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        sends = channels(config) if owner is None else _team_sends(config, teams[owner])
        out.append((owner or "company", sends, n, r))
    return out


def _team_sends(config: Settings, team) -> list[tuple[str, Any]]:
    """A team's channel: its Slack-compatible webhooks and its mail (through the [alerts] SMTP)."""
    out: list[tuple[str, Any]] = []
    for i, url in enumerate(team.webhooks):
        def send_hook(new, resolved, at, url=url):
            text = "\n".join([_line("firing", a) for a in new] + [_line("resolved", a) for a in resolved])
            _post_json(url, {"text": f"onepane check at {at:%Y-%m-%d %H:%M}Z for {team.name}\n{text}"})
        out.append((f"{team.name}: webhook" + (f" {i + 1}" if i else ""), send_hook))
    if team.mail_to:
        out.append((f"{team.name}: email", lambda new, resolved, at: _send_mail(
            config, list(team.mail_to), f"{team.name}: ", new, resolved, at)))
    return out
