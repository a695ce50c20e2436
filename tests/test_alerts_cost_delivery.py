"""Budget and cost-delta alerts delivered through a real local HTTP server (JSON webhook) and a
real SMTP server (aiosmtpd) that requires a login. Expected figures are hand arithmetic on the
costs written here."""
from __future__ import annotations

import json
import socket
import threading
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from metrics.config import parse_settings
from tests.whatchanged_helpers import write_costs


@pytest.fixture
def hook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", received
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def smtp_login():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins, messages = [], []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"alerts", b"s3cret")
        logins.append((mechanism, auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None, ok))
        return AuthResult(success=ok)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            messages.append((session.authenticated, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                     auth_required=True, auth_require_tls=False)
    ctl.start()
    yield port, logins, messages
    ctl.stop()


def test_budget_and_day_over_day_alerts_are_delivered(store, hook, smtp_login, monkeypatch):
    from metrics.alerts import run_check

    url, received = hook
    port, logins, messages = smtp_login
    monkeypatch.setenv("TEST_HOOK", url)
    monkeypatch.setenv("TEST_SMTP_USER", "alerts")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    nov = [date(2026, 11, 1) + timedelta(days=d) for d in range(20)]
    write_costs(store, [{"day": d, "service": "chat", "team": "a", "sku": "gpu", "cost": 100, "quantity": 1}
                        for d in nov] +
                       [{"day": d, "service": "vision", "team": "b", "sku": "gpu",
                         "cost": 30 if d == nov[-1] else 10, "quantity": 1} for d in nov])
    cfg = parse_settings({
        "services": [{"name": "chat", "team": "a", "budget": {"monthly": "2500"}}, {"name": "vision", "team": "b"}],
        "alerts": {"webhook_url_env": "TEST_HOOK", "smtp_host": "127.0.0.1", "smtp_port": port,
                   "smtp_user_env": "TEST_SMTP_USER", "smtp_password_env": "TEST_SMTP_PASSWORD",
                   "mail_to": ["finops@example.test"], "mail_from": "onepane@example.test"}})
    res = run_check(store, cfg, at=datetime(2026, 11, 21, tzinfo=timezone.utc))
    assert sorted(res.sent) == ["email", "webhook"] and res.errors == []
    by_rule = {a["rule"]: a for a in received[0]["alerts"]}
    # chat: 100 a day for 20 days, flat: month-end 2000 + 10 × 100 = 3000 > 2500, certain to overrun
    b = by_rule["budget_forecast"]
    assert b["subject"] == "service/chat/2026-11" and b["severity"] == "critical"
    assert float(b["details"]["forecast"]) == pytest.approx(3000)
    assert float(b["details"]["month_to_date"]) == pytest.approx(2000)
    assert b["details"]["p_over_budget"] == 1.0 and "100% likely to overrun" in b["summary"]
    # vision: 10 → 30 on the last full day = +200 % > the default 50 % day-over-day threshold
    d = by_rule["cost_day_over_day"]
    assert d["subject"] == "vision" and float(d["details"]["change"]) == pytest.approx(2.0)
    assert "+200%" in d["summary"]
    # the mail went through an authenticated SMTP session and lists both alerts
    assert logins and all(ok for _, user, ok in logins) and logins[0][1] == "alerts"
    assert len(messages) == 1 and messages[0][0] is True
    body = messages[0][1]
    assert "budget_forecast service/chat/2026-11" in body and "cost_day_over_day vision" in body


def test_wrong_smtp_password_is_a_delivery_error_and_nothing_is_recorded(store, hook, smtp_login, monkeypatch):
    from metrics.alerts import current_state, run_check

    url, received = hook
    port, logins, messages = smtp_login
    monkeypatch.setenv("TEST_HOOK", url)
    monkeypatch.setenv("TEST_SMTP_USER", "alerts")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
    write_costs(store, [{"day": date(2026, 11, 1) + timedelta(days=d), "service": "chat", "team": "a",
                         "sku": "gpu", "cost": 100, "quantity": 1} for d in range(20)])
    cfg = parse_settings({
        "services": [{"name": "chat", "budget": {"monthly": "2500"}}],
        "alerts": {"webhook_url_env": "TEST_HOOK", "smtp_host": "127.0.0.1", "smtp_port": port,
                   "smtp_user_env": "TEST_SMTP_USER", "smtp_password_env": "TEST_SMTP_PASSWORD",
                   "mail_to": ["finops@example.test"]}})
    res = run_check(store, cfg, at=datetime(2026, 11, 21, tzinfo=timezone.utc))
    assert res.errors and res.errors[0].startswith("email:") and messages == []
    assert current_state(store) == {}            # retried by the next check
