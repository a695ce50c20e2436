"""A real Prometheus for tests and benchmarks: backfill a TSDB from OpenMetrics, serve it on 127.0.0.1.

    from tests.prom_helpers import prometheus_from_openmetrics

    with prometheus_from_openmetrics([path_to_om], workdir) as prom:
        prom.url          # http://127.0.0.1:<free port>
        prom.query("up")  # raw JSON of an instant query (for sanity checks)

or the pytest fixture factory `prometheus_server` (import it into your test module):

    from tests.prom_helpers import prometheus_server  # noqa: F401
    def test_x(prometheus_server, shared):
        prom = prometheus_server([shared / "gpu-serving-capture" / "telemetry.om"])

The TSDB is backfilled with `promtool tsdb create-blocks-from openmetrics` and served with
`--storage.tsdb.retention.time=100y` (with the default 15 days, backfilled blocks from the past
would be deleted at start-up). Query with explicit time ranges. Missing binaries FAIL the test
(never skip): install the Debian package `prometheus`.
"""
from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

READY_TIMEOUT_S = 60


def binaries() -> tuple[str, str]:
    prom, tool = shutil.which("prometheus"), shutil.which("promtool")
    if not prom or not tool:
        pytest.fail("the real-service tests need Debian's `prometheus` package (prometheus + promtool): "
                    "sudo apt-get install -y prometheus")
    return prom, tool


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backfill(om_files: list[Path], tsdb: Path, block_duration: str | None = None) -> None:
    """Write TSDB blocks for each OpenMetrics file (timestamps in seconds, ending with # EOF)."""
    _, tool = binaries()
    tsdb.mkdir(parents=True, exist_ok=True)
    for f in om_files:
        cmd = [tool, "tsdb", "create-blocks-from", "openmetrics"]
        if block_duration:
            cmd.append(f"--max-block-duration={block_duration}")
        cmd += [str(f), str(tsdb)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"promtool backfill of {f} failed: {proc.stderr[-2000:]}")


class PromServer:
    """`remote_read`: a URL this server also reads from (`read_recent: true`), as a Prometheus
    in front of long-term storage does; when that URL does not answer, every query still succeeds,
    with the error in the answer's `warnings` (Prometheus' fan-out treats remote read as secondary)."""

    def __init__(self, tsdb: Path, workdir: Path, remote_read: str | None = None):
        self.tsdb, self.workdir, self.remote_read = tsdb, workdir, remote_read
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, same_port: bool = False) -> "PromServer":
        """Start (or restart after `stop`); `same_port` keeps the URL others were given."""
        prom, _ = binaries()
        self.tsdb.mkdir(parents=True, exist_ok=True)
        cfg = self.workdir / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n" + (
            f"remote_read:\n  - url: {self.remote_read}\n    read_recent: true\n    remote_timeout: 5s\n"
            if self.remote_read else ""))
        last_err = ""
        for _attempt in range(3):                      # a free port can be taken between bind and use
            if not (same_port and self.port):
                self.port = free_port()
            log = open(self.workdir / "prometheus.log", "w")
            self.proc = subprocess.Popen(
                [prom, f"--config.file={cfg}", f"--storage.tsdb.path={self.tsdb}",
                 "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{self.port}",
                 "--log.level=warn", "--query.max-samples=100000000"],
                stdout=log, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return self
            last_err = (self.workdir / "prometheus.log").read_text()[-2000:]
            self.stop()
        raise RuntimeError(f"prometheus did not become ready: {last_err}")

    def _wait_ready(self) -> bool:
        deadline = time.time() + READY_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        return False

    def query(self, expr: str, at: float | None = None) -> dict:
        params = {"query": expr, **({"time": str(at)} if at is not None else {})}
        with urllib.request.urlopen(self.url + "/api/v1/query?" + urllib.parse.urlencode(params),
                                    timeout=30) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()                      # only the process we started, by PID
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


@contextlib.contextmanager
def prometheus_from_openmetrics(om_files: list[Path], workdir: Path,
                                block_duration: str | None = None) -> Iterator[PromServer]:
    workdir.mkdir(parents=True, exist_ok=True)
    tsdb = workdir / "tsdb"
    backfill([Path(f) for f in om_files], tsdb, block_duration)
    server = PromServer(tsdb, workdir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prometheus_server(tmp_path):
    """Factory: prometheus_server([om files]) -> a running PromServer, stopped after the test."""
    stack = contextlib.ExitStack()

    def start(om_files, block_duration: str | None = None) -> PromServer:
        n = len(stack._exit_callbacks)
        return stack.enter_context(prometheus_from_openmetrics(om_files, tmp_path / f"prom{n}", block_duration))

    with stack:
        yield start


class ProxyServer:
    """A small real HTTP server on 127.0.0.1 for fault cases a real Prometheus cannot produce.

    `behave(n, path_and_query) -> ("proxy" | "500" | "sleep" | "garbage", arg)` decides the n-th
    request's fate (n counts from 1); "proxy" forwards to `upstream`. It records every request's
    query parameters and headers, and the highest number of requests in flight at once."""

    def __init__(self, upstream: str | None = None, behave=None, tls: tuple[str, str] | None = None):
        import http.server
        import threading

        self.upstream, self.behave = upstream, behave or (lambda n, p: ("proxy", None))
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                with outer.lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                    q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                    outer.requests.append({k: v[0] for k, v in q.items()})
                    outer.headers.append(dict(self.headers))
                    n = len(outer.requests)
                self.counted = True
                try:
                    what, arg = outer.behave(n, self.path)
                    if what == "sleep":
                        time.sleep(arg)
                        what = "proxy"
                    if what == "500":
                        self._send(500, b'{"status":"error","error":"boom"}')
                    elif what == "garbage":
                        self._send(200, b"<html>not prometheus</html>")
                    else:
                        with urllib.request.urlopen(outer.upstream + self.path, timeout=60) as r:
                            self._send(r.status, r.read())
                except urllib.error.HTTPError as e:
                    self._send(e.code, e.read())
                except (urllib.error.URLError, OSError):
                    try:
                        self._send(502, b"upstream unreachable")
                    except OSError:
                        pass
                finally:
                    self._done()

            def _done(self):
                # a request stops counting before its body is written: the client cannot send its next
                # request before reading this body, so counting after the write would see phantom overlap
                if getattr(self, "counted", False):
                    self.counted = False
                    with outer.lock:
                        outer.in_flight -= 1

            def _send(self, code, body):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self._done()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls:                                     # (certfile, keyfile): serve HTTPS
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "ProxyServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
