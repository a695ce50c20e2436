"""`onepane report weekly --send`: the digest routed to each service's team and the company,
through a real local HTTP server (Slack-compatible webhook) and a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests import app_helpers as fx

WEEK = "2026-W45"


@pytest.fixture
def http_server():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "body": json.loads(body)})
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
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Handler()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    yield port, handler.messages
    ctl.stop()


def test_digest_goes_to_each_team_and_the_company(tmp_path, http_server, smtp_server, run_cli):
    url, posts = http_server
    port, mails = smtp_server
    f = fx.build(tmp_path)
    cfg = tmp_path / "send.toml"
    cfg.write_text(fx.CONFIG + f"""
[[teams]]
name = "search"
webhook_url = "{url}/search"

[[teams]]
name = "risk"
mail_to = ["risk@example.test"]

[alerts]
webhook_url = "{url}/company"
smtp_host = "127.0.0.1"
smtp_port = {port}
mail_from = "onepane@example.test"
mail_to = ["leads@example.test"]
""")
    out = tmp_path / "review.html"
    r = run_cli("report", "weekly", "--week", WEEK, "--send", "--out", out, "--db", f.store.db_path,
                "--config", cfg, check=True)
    assert "sent team search: webhook" in r.stdout and "sent company: webhook" in r.stdout
    by_path = {p["path"]: p["body"] for p in posts}
    assert sorted(by_path) == ["/company", "/search"]          # team support has no channel
    search = by_path["/search"]
    assert [h["service"] for h in search["headline"]] == ["ranker"]
    # ranker's week: seven days of its fixed daily bill, by hand
    assert search["headline"][0]["cost"] == f"{fx.RANKER_DAILY * 7:.2f} USD"
    assert f"{fx.RANKER_DAILY * 7:.2f} USD" in search["text"] and search["text"].startswith(
        f"onepane weekly review {WEEK} for team search")
    assert {h["service"] for h in by_path["/company"]["headline"]} == {"ranker", "assistant", "fraud"}   # fraud: traffic, no bill
    got = {tuple(rcpt): email.message_from_bytes(raw) for rcpt, raw in mails}
    assert sorted(got) == [("leads@example.test",), ("risk@example.test",)]
    for msg in got.values():
        att = [p for p in msg.walk() if p.get_filename() == "review.html"]
        assert len(att) == 1 and f"Weekly review {WEEK}" in att[0].get_payload(decode=True).decode()
    assert got[("leads@example.test",)]["Subject"] == f"onepane weekly review {WEEK} for company"


def test_overlapping_digest_runs_are_refused(store):
    from metrics.errors import StoreBusy
    from metrics.review.send import run_lock

    with run_lock(store, "digest"):
        with pytest.raises(StoreBusy):
            with run_lock(store, "digest"):
                pass
    with run_lock(store, "digest"):        # released: the next run goes ahead
        pass
