"""`onepane report weekly --send`: the digest of the pack, routed to each service's owning team
([[teams]] webhook_url(_env) / mail_to, teams from [[services]] team), and the company digest to the
[alerts] channels (Slack-compatible webhook with the headline table; mail with the HTML attached).

Overlapping runs are refused: the digest holds an exclusive, non-blocking lock file in the store's
lake (`_locks/digest.lock`), so a cron line and a systemd timer firing together send once.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import smtplib
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from metrics.config import Settings
from metrics.errors import StoreBusy
from metrics.review import sentences as S
from metrics.routing import env_value, team_channels
from metrics.store import Store

log = logging.getLogger(__name__)

TIMEOUT_S = 10


@contextlib.contextmanager
def run_lock(store: Store, name: str):
    """An exclusive lock named `name` for the store; raises StoreBusy if another run holds it."""
    folder = store.lake / "_locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreBusy(f"another `{name}` run holds {folder / (name + '.lock')}; "
                            "it was not started twice") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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


def send_digest(pack: dict, html_path: str | Path, config: Settings, store: Store | None = None) -> list[str]:
    """Deliver the digest on every route; returns one line per delivery. A failed channel is
    reported and the others still get theirs; raises OSError at the end if any failed."""
    html_path = Path(html_path)
    week = pack["week"].label
    lock = run_lock(store, "digest") if store is not None else contextlib.nullcontext()
    lines, failed = [], []
    with lock:
        for r in routes(config, pack):
            title = f"onepane weekly review {week} for {r['to']}"
            text = headline_text(pack, r["services"], title)
            for url in r["webhooks"]:
                try:
                    _post(url, {"text": text, "week": week, "to": r["to"],
                                "headline": headline_rows(pack, r["services"])})
                    lines.append(f"sent {r['to']}: webhook")
                except OSError as e:
                    failed.append(f"{r['to']} webhook: {e}")
            if r["mail_to"]:
                try:
                    _mail(config, r["mail_to"], title, text, html_path)
                    lines.append(f"sent {r['to']}: mail to {', '.join(r['mail_to'])}")
                except (OSError, smtplib.SMTPException) as e:
                    failed.append(f"{r['to']} mail: {e}")
    for f in failed:
        log.warning("digest delivery failed %s", f)
    if failed:
        raise OSError("digest delivery failed: " + "; ".join(failed))
    return lines
