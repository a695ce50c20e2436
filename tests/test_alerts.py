"""`onepane check`: notifications to a real local HTTP server (Slack-compatible and generic JSON
webhooks) and a real SMTP server (aiosmtpd), de-duplication and resolve messages."""
from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from metrics.config import parse_settings
from tests.whatchanged_helpers import write_request_counters

AT0 = 1_790_006_400.0            # a whole minute
MINUTES = 24 * 60
PER_MIN = 1000
# twelve bad minutes (80 % errors) in minutes 1000..1011; SLO error_rate 1 %: at minute 1012 the 1 h
# window burns 12·800 / (60·1000) / 0.01 = 16×, the 5 m window 5·800 / 5000 / 0.01 = 80× (page); the
# 6 h window 9600 / 360,000 / 0.01 = 2.7× and the 1 d / 3 d windows (all 1012 minutes of data)
# 9600 / 1,012,000 / 0.01 = 0.95× stay below their factors: one page, no ticket.
BAD = {m: 800 for m in range(1000, 1012)}


@pytest.fixture
def http_server():
    received: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", received
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    with socket.socket() as s:        # a free port picked at run time
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Handler()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    yield port, handler.messages
    ctl.stop()


def config(port: int, **alerts):
    return parse_settings({
        "services": [{"name": "svc", "slo": {"error_rate": 0.01, "objective": 0.99, "period": "1d"}}],
        "alerts": {"slack_webhook_env": "TEST_SLACK_URL", "webhook_url_env": "TEST_HOOK_URL",
                   "smtp_host": "127.0.0.1", "smtp_port": port, "mail_to": ["oncall@example.test"],
                   "mail_from": "onepane@example.test", **alerts}})


def at_minute(m: int) -> datetime:
    return datetime.fromtimestamp(AT0 + 60 * m, timezone.utc)


def test_fire_dedupe_and_resolve(store, http_server, smtp_server, monkeypatch):
    from metrics.alerts import run_check

    url, received = http_server
    port, mails = smtp_server
    monkeypatch.setenv("TEST_SLACK_URL", url + "/slack/T000/B000/secret-token")
    monkeypatch.setenv("TEST_HOOK_URL", url + "/hook")
    write_request_counters(store, "svc", AT0, MINUTES, PER_MIN, BAD)
    cfg = config(port)

    # at minute 1012: 16× over 1h and 80× over 5m → page
    r1 = run_check(store, cfg, at=at_minute(1012))
    keys = [a["key"] for a in r1.firing]
    assert keys == ["slo_burn:svc/error_rate/1h-5m"]
    assert sorted(r1.sent) == ["email", "slack", "webhook"]
    slack = [b for p, b in received if p.startswith("/slack/")]
    hook = [b for p, b in received if p == "/hook"]
    assert len(slack) == 1 and "[FIRING] slo_burn svc/error_rate/1h-5m" in slack[0]["text"]
    assert "16.0× over 1h and 80.0× over 5m" in slack[0]["text"]
    assert len(hook) == 1 and hook[0]["alerts"][0]["status"] == "firing"
    assert hook[0]["alerts"][0]["details"]["burn_long"] == pytest.approx(12 * 800 / (60 * PER_MIN) / 0.01)
    assert len(mails) == 1
    frm, to, body = mails[0]
    assert frm == "onepane@example.test" and to == ["oncall@example.test"]
    assert "Subject: [onepane] 1 firing, 0 resolved" in body and "slo_burn" in body

    # the same firing state a minute later: nothing is sent again
    r2 = run_check(store, cfg, at=at_minute(1013))
    assert [a["key"] for a in r2.firing] == keys and r2.new == [] and r2.sent == []
    assert len(received) == 2 and len(mails) == 1

    # 5m window clean again (minutes 1013..1017 have no errors) → resolved once
    r3 = run_check(store, cfg, at=at_minute(1018))
    assert r3.firing == [] and [a["key"] for a in r3.resolved] == keys
    assert len(received) == 4 and len(mails) == 2
    assert "[RESOLVED] slo_burn svc/error_rate/1h-5m" in received[2][1]["text"]
    assert received[3][1]["alerts"][0]["status"] == "resolved"
    assert "0 firing, 1 resolved" in mails[1][2]

    r4 = run_check(store, cfg, at=at_minute(1019))
    assert r4.firing == [] and r4.resolved == [] and len(received) == 4 and len(mails) == 2


def test_failed_delivery_is_retried_next_check(store, http_server, smtp_server, monkeypatch):
    from metrics.alerts import current_state, run_check

    url, received = http_server
    port, mails = smtp_server
    monkeypatch.setenv("TEST_SLACK_URL", "http://127.0.0.1:9/unreachable")    # discard port: refused
    monkeypatch.setenv("TEST_HOOK_URL", url + "/hook")
    write_request_counters(store, "svc", AT0, MINUTES, PER_MIN, BAD)
    r1 = run_check(store, config(port), at=at_minute(1012))
    assert r1.errors and r1.errors[0].startswith("slack:")
    assert current_state(store) == {}                 # nothing recorded: the next check retries
    monkeypatch.setenv("TEST_SLACK_URL", url + "/slack")
    r2 = run_check(store, config(port), at=at_minute(1013))
    assert sorted(r2.sent) == ["email", "slack", "webhook"]
    assert current_state(store)["slo_burn:svc/error_rate/1h-5m"]["status"] == "firing"


def test_missing_secret_env_is_a_config_error(store, smtp_server, monkeypatch):
    from metrics.alerts import run_check
    from metrics.errors import ConfigError

    monkeypatch.delenv("TEST_SLACK_URL", raising=False)
    write_request_counters(store, "svc", AT0, MINUTES, PER_MIN, BAD)
    with pytest.raises(ConfigError, match="TEST_SLACK_URL"):
        run_check(store, config(smtp_server[0]), at=at_minute(1012))


def test_cli_check_exit_code_and_json(store, http_server, smtp_server, run_cli, tmp_path):
    url, received = http_server
    port, mails = smtp_server
    write_request_counters(store, "svc", AT0, MINUTES, PER_MIN, BAD)
    (tmp_path / "onepane.toml").write_text(f"""
[[services]]
name = "svc"
slo = {{ error_rate = 0.01, objective = 0.99, period = "1d" }}

[alerts]
webhook_url_env = "TEST_HOOK_URL"
""")
    env = {"TEST_HOOK_URL": url + "/hook"}
    p = run_cli("check", "--format", "json", "--at", str(AT0 + 60 * 1012), "--db", store.db_path,
                "--config", tmp_path / "onepane.toml", env=env)
    assert p.returncode == 1, p.stderr
    out = json.loads(p.stdout)
    assert [a["rule"] for a in out["firing"]] == ["slo_burn"] and out["sent"] == ["webhook"]
    p2 = run_cli("check", "--at", str(AT0 + 60 * 1013), "--db", store.db_path,
                 "--config", tmp_path / "onepane.toml", env=env)
    assert p2.returncode == 1 and "slo_burn" in p2.stdout and len(received) == 1
    p3 = run_cli("check", "--at", str(AT0 + 60 * 1100), "--db", store.db_path,
                 "--config", tmp_path / "onepane.toml", env=env)
    assert p3.returncode == 0, p3.stdout + p3.stderr
    assert "nothing fires" in p3.stdout and "resolved: slo_burn" in p3.stdout
    assert len(received) == 2 and received[1][1]["alerts"][0]["status"] == "resolved"
