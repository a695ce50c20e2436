"""Real delivery endpoints for the digest and alert tests: a local HTTP server that takes
Slack-compatible webhooks (and answers a chosen status per path), a real SMTP server (aiosmtpd)
that can refuse chosen recipients, and a port nobody listens on. Import the fixtures into a test
module: `from tests.delivery_helpers import http_server, smtp_server  # noqa: F401`."""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


@dataclass
class Webhooks:
    url: str
    received: list[dict] = field(default_factory=list)   # {"path", "body"} of every accepted POST
    status: dict[str, int] = field(default_factory=dict)  # path -> HTTP status to answer (default 200)

    def __iter__(self):                                   # url, received = http_server
        return iter((self.url, self.received))


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)   # (recipients, raw message)
    refuse: set[str] = field(default_factory=set)         # recipients answered 550 at RCPT

    def __iter__(self):                                   # port, messages = smtp_server
        return iter((self.port, self.messages))


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed): connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server():
    hooks = Webhooks("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            code = hooks.status.get(self.path, 200)
            if code < 300:
                hooks.received.append({"path": self.path, "body": json.loads(body)})
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"ok" if code < 300 else b"refused")

        def log_message(self, *args):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    hooks.url = f"http://127.0.0.1:{srv.server_address[1]}"
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield hooks
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    box = Mailbox(free_port())

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in box.refuse:
                return "550 5.1.1 mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            box.messages.append((list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    ctl = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    ctl.start()
    yield box
    ctl.stop()
