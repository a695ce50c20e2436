"""A real `streamlit run app/main.py` on 127.0.0.1 and a Playwright browser on Debian's chromium.

Never `playwright install`: the browser is the Debian package at /usr/lib/chromium/chromium. The
tests FAIL (not skip) when it is missing.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(db_path: Path, config_path: Path | None = None, timeout: float = 60):
    """Serve the dashboard over `db_path`; yields the base URL; stops the server it started."""
    env = dict(os.environ, ONEPANE_DB=str(db_path), PYTHONPATH=str(ROOT))
    env.pop("ONEPANE_CONFIG", None)
    if config_path:
        env["ONEPANE_CONFIG"] = str(config_path)
    log_path = Path(db_path).with_suffix(".streamlit.log")
    for attempt in range(3):      # a free port can be taken between bind and use (parallel workers)
        port = free_port()
        log = open(log_path, "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.launch", "run", str(ROOT / "app" / "main.py"),
             "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            env=env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    text = log_path.read_text()
                    if ("is not available" in text or "already in use" in text) and attempt < 2:
                        break
                    raise RuntimeError(f"streamlit exited with {proc.returncode}: {text[-2000:]}")
                try:
                    with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("streamlit did not become healthy in time")
                time.sleep(0.3)
            if proc.poll() is None:
                yield url
                return
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


class _Browser:
    """The Playwright browser; each page it opens records its Streamlit script runs (`_TRACK`)."""

    def __init__(self, b):
        self._b = b

    def __getattr__(self, name):
        return getattr(self._b, name)

    def new_page(self, **kw):
        page = self._b.new_page(**kw)
        page.add_init_script(_track_script())
        return page

    def new_context(self, **kw):
        ctx = self._b.new_context(**kw)
        ctx.add_init_script(_track_script())
        return ctx


@contextlib.contextmanager
def browser():
    """A headless Debian chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} missing: apt-get install chromium (make test does this)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield _Browser(b)
        finally:
            b.close()


# What a page asked Streamlit for and what it got, read off the page's own websocket: every
# `rerun_script` message the page sends (a widget changed, a page opened) and every run the server
# reports finished (`script_finished`, except "finished early for a rerun", which a later run
# replaces), each change of the app root's script state and the media fetches in flight. Installed
# before the page's scripts run (`_Browser.new_page`), or by `wait_for_app` on a page opened elsewhere.
_TRACK = """(() => {
  if (window.__onepane) return;
  const t = window.__onepane = {seq: 0, asked: 0, finished: 0, rendered: 0, media: 0,
                                fromStart: document.readyState === 'loading'};
  const RERUN_TAG = %(rerun_tag)d, FINISHED = %(finished)d, EARLY = %(early)d;
  const bytes = (d) => d instanceof ArrayBuffer ? new Uint8Array(d)
      : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : null;
  const scriptFinished = (b) => {       // top-level fields of one ForwardMsg (protobuf wire format)
    let i = 0;
    const varint = () => { let v = 0, m = 1, c; do { c = b[i++]; v += (c & 127) * m; m *= 128; }
                                                while ((c & 128) && i < b.length); return v; };
    while (i < b.length) {
      const tag = varint(), field = Math.floor(tag / 8), wire = tag & 7;
      if (wire === 0) { const v = varint(); if (field === FINISHED) return v !== EARLY; }
      else if (wire === 2) { const n = varint(); i += n; }     // (not `i += varint()`: i is read first)
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return false;
    }
    return false;
  };
  const received = (e) => { const b = bytes(e.data); if (b && scriptFinished(b)) t.finished = ++t.seq; };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    if (!this.__onepane) { this.__onepane = true; this.addEventListener('message', received); }
    const b = bytes(d);
    if (b && b.length && b[0] === RERUN_TAG) t.asked = ++t.seq;
    return send.call(this, d);
  };
  const get = window.fetch;              // download buttons fetch their file once drawn
  window.fetch = function (url, ...rest) {
    if (!String(url && url.url || url).includes('/media/')) return get.call(this, url, ...rest);
    t.media += 1;
    return get.call(this, url, ...rest).finally(() => { t.media -= 1; });
  };
  const watch = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) return void setTimeout(watch, 50);
    new MutationObserver(() => { t.rendered = ++t.seq; })
      .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', watch);
  else watch();
})()"""


def _track_script() -> str:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    rerun = BackMsg.DESCRIPTOR.fields_by_name["rerun_script"].number
    return _TRACK % {"rerun_tag": rerun << 3 | 2,      # a length-delimited field leads the message
                     "finished": ForwardMsg.DESCRIPTOR.fields_by_name["script_finished"].number,
                     "early": ForwardMsg.FINISHED_EARLY_FOR_RERUN}


# The app is done when every script run the page asked for has finished and been rendered: the
# server reported a finished run after the page's last rerun request, the root's script state
# changed after that request (the frontend drew the run) and now reads notRunning/CONNECTED, no
# status widget shows a run, no media file the run drew is still being fetched (a later run drops
# it: a 404), and the caller's own condition (`until`, a JS expression) holds.
_DONE = """(until) => {
    const t = window.__onepane, app = document.querySelector('[data-testid="stApp"]');
    if (!t || !app || !document.querySelector('[data-testid="stMain"]')) return false;
    const state = (app.getAttribute('data-test-script-state') || '') + '/'
                + (app.getAttribute('data-test-connection-state') || '');
    const w = document.querySelector('[data-testid="stStatusWidget"]');
    if (w && w.innerText.match(/Running|Connecting|Stop/)) return false;
    if (!(state.startsWith('notRunning/') && state.endsWith('CONNECTED'))) return false;
    if (t.fromStart && !t.asked) return false;           // a page asks for its first run on connect
    if (t.asked && !(t.finished > t.asked && t.rendered > t.asked)) return false;
    if (t.media) return false;
    return until ? !!(new Function('return (' + until + ')'))() : true;
}"""


def wait_for_app(page, timeout_ms: int = 30000, until: str | None = None) -> None:
    """Wait until every script run the page asked for (the first one, or the one the last action
    started) has finished and been drawn, and the JS expression `until` (if given) is true.

    An action whose rerun is sent later (a slider commits after a short debounce) is not waited
    for: follow it with a wait on the element the action changes, as the browser tests do."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout_ms)
    if not page.evaluate("() => !!window.__onepane"):        # a page not opened by `browser()`
        page.evaluate(_track_script())
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(_DONE, arg=until, timeout=timeout_ms)
    except PlaywrightTimeout:
        seen = page.evaluate("""() => { const a = document.querySelector('[data-testid="stApp"]');
            const w = document.querySelector('[data-testid="stStatusWidget"]');
            return {runs: window.__onepane, state: a && a.getAttribute('data-test-script-state'),
                    connection: a && a.getAttribute('data-test-connection-state'),
                    status: w && w.innerText}; }""")
        raise AssertionError(f"the app did not finish within {timeout_ms} ms "
                             f"(until={until!r}): {seen}") from None


def screenshots(db_path: Path, config_path: Path | None, out: Path,
                pages: tuple[str, ...] = ("Overview", "Service", "Unit economics"), query: str = "",
                width: int = 1280, height: int = 900) -> list[Path]:
    """Screenshots of the given pages of a real store (for docs/screenshots/):

        python -c "from tests.browser_helpers import screenshots; from pathlib import Path; \\
                   screenshots(Path('demo-data/onepane.duckdb'), Path('demo-data/onepane.toml'), \\
                   Path('docs/screenshots'))"
    """
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with streamlit_server(db_path, config_path) as url, browser() as b:
        page = b.new_page(viewport={"width": width, "height": height})
        page.goto(url + "/" + query)
        wait_for_app(page, timeout_ms=300000)       # the first run computes every cached query
        for name in pages:
            page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
            wait_for_app(page, timeout_ms=180000)
            page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=180000)
            page.wait_for_timeout(1500)          # let plotly finish drawing
            path = out / (name.lower().replace(" ", "_") + ".png")
            page.screenshot(path=str(path))
            saved.append(path)
    return saved
