"""`onepane report weekly --send`: the digest of the pack, routed to each service's owning team
([[teams]] webhook_url(_env) / mail_to, teams from [[services]] team), and the company digest to the
[alerts] channels (Slack-compatible webhook with the headline table; mail with the HTML attached).

Each delivery is one (route, channel); metrics.review.catchup logs every attempt in the store, holds
the digest's run lock (`_locks/digest.lock` in the store's lake: a cron line and a systemd timer
firing together send once) and catches a missed week up once.
"""
from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from metrics.config import Settings
from metrics.errors import DeliveryError
from metrics.locks import run_lock  # noqa: F401 - the digest's lock, named here since round 1
from metrics.review import sentences as S
from metrics.routing import env_value, team_channels
from metrics.store import Store

log = logging.getLogger(__name__)

TIMEOUT_S = 10


def headline_rows(pack: dict, services: list[str] | None = None) -> list[dict]:
    """One row per service: the week's cost, cost per prediction, their changes, budget status."""
    rows = []
    for s in pack["services"]:
        if services is not None and s["service"] not in services:
            continue
        for u in s["unit_economics"]:
            b = next((x for x in s["budgets"] if x["currency"] == u["currency"]), None)
            rows.append({"service": s["service"], "team": s["team"], "currency": u["currency"],
                         "cost": S.money(u["cost"], u["currency"]), "cost_change": S.pct(u.get("cost_change")),
                         "cost_per_prediction": S.money(u["cost_per_prediction"], u["currency"]),
                         "cpp_change": S.pct(u.get("cost_per_prediction_change")),
                         "budget": b["status"] if b else "n/a", "open_questions": len(s["agenda"])})
    return rows


def headline_text(pack: dict, services: list[str] | None, title: str) -> str:
    rows = headline_rows(pack, services)
    cols = ["service", "cost", "cost_change", "cost_per_prediction", "cpp_change", "budget", "open_questions"]
    cells = [[str(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) if cells else len(c) for i, c in enumerate(cols)]
    table = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    table += ["  ".join(v.ljust(w) for v, w in zip(x, widths)) for x in cells]
    return f"{title}\n```\n" + "\n".join(table) + "\n```"


def _post(url: str, payload: dict) -> None:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
        if r.status >= 300:
            raise OSError(f"HTTP {r.status}")


def _where(target: str, config: Settings) -> str:
    """Where a channel delivers, without secrets: a webhook's host (its path may hold a token),
    the SMTP server of mail."""
    if target == "mail":
        return f"SMTP {config.alerts.smtp_host}:{config.alerts.smtp_port}"
    host = urllib.parse.urlsplit(target).hostname or "?"
    port = urllib.parse.urlsplit(target).port
    return f"webhook host {host}" + (f":{port}" if port else "")


def _reason(e: Exception) -> str:
    """One line: why a channel refused (no URL, no traceback)."""
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        e = e.reason if isinstance(e.reason, Exception) else OSError(str(e.reason))
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt} refused ({code} {msg.decode(errors='replace')})"
                         for rcpt, (code, msg) in e.recipients.items())
    if isinstance(e, smtplib.SMTPResponseException):
        return f"{e.smtp_code} {e.smtp_error.decode(errors='replace') if isinstance(e.smtp_error, bytes) else e.smtp_error}"
    return " ".join(str(e).split()) or type(e).__name__


def _mail(config: Settings, to: list[str], subject: str, text: str, html_path: Path) -> None:
    al = config.alerts
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, al.mail_from, ", ".join(to)
    msg.set_content(text + "\n\nThe full pack is attached (self-contained HTML).\n")
    msg.add_attachment(html_path.read_bytes(), maintype="text", subtype="html", filename=html_path.name)
    user = os.environ.get(al.smtp_user_env) if al.smtp_user_env else None
    password = os.environ.get(al.smtp_password_env) if al.smtp_password_env else None
    with smtplib.SMTP(al.smtp_host, al.smtp_port, timeout=TIMEOUT_S) as smtp:
        if user and password:
            smtp.login(user, password)
        smtp.send_message(msg)


def routes(config: Settings, pack: dict) -> list[dict]:
    """(recipient, services, webhooks, mail_to) per team with a channel, then the company."""
    out = []
    for t in team_channels(config).values():
        services = [s["service"] for s in pack["services"] if s["team"] == t.team]
        if services:
            out.append({"to": t.name, "services": services, "webhooks": list(t.webhooks),
                        "mail_to": list(t.mail_to)})
    al = config.alerts
    hooks = [u for u in (env_value(al.slack_webhook_env, "alerts.slack_webhook_env"),
                         env_value(al.webhook_url_env, "alerts.webhook_url_env") or al.webhook_url) if u]
    if hooks or al.mail_to:
        out.append({"to": "company", "services": None, "webhooks": hooks, "mail_to": al.mail_to})
    return out


def channel_keys(route: dict) -> list[tuple[str, str]]:
    """(route, channel) of each delivery of a route, as the digest log names them (no URLs)."""
    keys = [(route["to"], f"webhook {i + 1}") for i in range(len(route["webhooks"]))]
    return keys + ([(route["to"], "mail")] if route["mail_to"] else [])


def send_digest(pack: dict, html_path: str | Path, config: Settings, store: Store | None = None, *,
                only: set[tuple[str, str]] | None = None, record=None) -> list[str]:
    """Deliver the digest on every route (or only the (route, channel) pairs in `only`); returns
    one line per delivery and calls `record(route, channel, status, detail)` after each attempt.
    A refused channel (HTTP error, connection refused, SMTP refusal) is recorded and the others
    still get theirs; then DeliveryError names every refused (route, channel, where, why), with the
    lines of what went out. Callers that may overlap hold `run_lock(store, "digest")`
    (metrics.review.catchup)."""
    html_path = Path(html_path)
    week = pack["week"].label
    lines, failed = [], []
    for r in routes(config, pack):
        title = f"onepane weekly review {week} for {r['to']}"
        text = headline_text(pack, r["services"], title)
        for (to, channel), target in zip(channel_keys(r), [*r["webhooks"], *(["mail"] if r["mail_to"] else [])]):
            if only is not None and (to, channel) not in only:
                continue
            try:
                if channel == "mail":
                    _mail(config, r["mail_to"], title, text, html_path)
                    lines.append(f"sent {to}: mail to {', '.join(r['mail_to'])}")
                else:
                    _post(target, {"text": text, "week": week, "to": to,
                                   "headline": headline_rows(pack, r["services"])})
                    lines.append(f"sent {to}: webhook")
                status, detail = "sent", None
            except (OSError, ValueError, smtplib.SMTPException) as e:   # ValueError: a malformed URL
                detail = f"{_where(target, config)}: {_reason(e)}"
                failed.append((to, channel, detail))
                status = "failed"
                log.warning("digest delivery failed route=%s channel=%s %s", to, channel, detail)
            if record is not None:
                record(to, channel, status, detail)
    if failed:
        raise DeliveryError(failed, lines)
    return lines
