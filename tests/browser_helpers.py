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
    """The Playwright browser; every page it opens (directly or through a context) tracks its
    Streamlit websocket from the first script on (`_TRACK`), in every document it loads."""

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


# What the page asked Streamlit for and what it got, read off the page's own websockets. State
# lives in the document (`window.__onepane`), so a reload or a new page starts from zero by
# construction; a page navigation inside the app (history.pushState) keeps its socket and its
# counts. Each websocket has its own record, created at its first send:
#   asked    - the last `rerun_script` BackMsg the page sent (a widget changed, a page opened; the
#              page sends one when it connects)
#   started  - the last `new_session` ForwardMsg (the server sends it when a run starts)
#   finished - the last `script_finished` that ends a run, i.e. any status but "finished early for
#              a rerun" (then a new run starts and sends its own new_session)
# All three are positions in one sequence over the document, so "after" is well defined; a rerun
# request is answered when a run started after it and finished after that start, on the same
# socket. `frame` counts animation frames, so "drawn" can mean "frames have passed since the
# finish arrived"; `media` counts /media/ fetches in flight (download buttons fetch their file).
# Installed before the page's scripts run (`_Browser`), or late by `wait_for_app` on a foreign page.
_TRACK = """(() => {
  if (window.__onepane) return;
  const t = window.__onepane = {seq: 0, frame: 0, media: 0, sockets: [],
                                fromStart: document.readyState === 'loading'};
  const RERUN_TAG = %(rerun_tag)d, NEW_SESSION = %(new_session)d, FINISHED = %(finished)d,
        EARLY = %(early)d;
  const bytes = (d) => d instanceof ArrayBuffer ? new Uint8Array(d)
      : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : null;
  const kind = (b) => {                 // top-level fields of one ForwardMsg (protobuf wire format)
    let i = 0;
    const varint = () => { let v = 0, m = 1, c; do { c = b[i++]; v += (c & 127) * m; m *= 128; }
                                                while ((c & 128) && i < b.length); return v; };
    while (i < b.length) {
      const tag = varint(), field = Math.floor(tag / 8), wire = tag & 7;
      if (wire === 0) { const v = varint(); if (field === FINISHED) return v === EARLY ? 'early' : 'finished'; }
      else if (wire === 2) { const n = varint(); if (field === NEW_SESSION) return 'started'; i += n; }
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return null;
    }
    return null;
  };
  const track = (ws) => {
    const s = ws.__onepane = {id: t.sockets.length + 1, asks: 0, asked: 0, started: 0, finished: 0,
                              finishedFrame: 0, url: String(ws.url)};
    t.sockets.push(s);
    ws.addEventListener('message', (e) => {
      const b = bytes(e.data), k = b && kind(b);
      if (k === 'started') s.started = ++t.seq;
      else if (k === 'finished') { s.finished = ++t.seq; s.finishedFrame = t.frame; }
    });
    return s;
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    const s = this.__onepane || track(this), b = bytes(d);
    if (b && b.length && b[0] === RERUN_TAG) { s.asks += 1; s.asked = ++t.seq; }
    return send.call(this, d);
  };
  const get = window.fetch;
  window.fetch = function (url, ...rest) {
    if (!String(url && url.url || url).includes('/media/')) return get.call(this, url, ...rest);
    t.media += 1;
    return get.call(this, url, ...rest).finally(() => { t.media -= 1; });
  };
  const tick = () => { t.frame += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})()"""


def _track_script() -> str:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    fields = ForwardMsg.DESCRIPTOR.fields_by_name
    rerun = BackMsg.DESCRIPTOR.fields_by_name["rerun_script"].number
    return _TRACK % {"rerun_tag": rerun << 3 | 2,      # a length-delimited field leads the message
                     "new_session": fields["new_session"].number,
                     "finished": fields["script_finished"].number,
                     "early": ForwardMsg.FINISHED_EARLY_FOR_RERUN}


# What keeps the app from being done, as a list of readable reasons (empty = done): the page is
# done when, on its current websocket (the last one it opened), every rerun it asked for has been
# answered (a run started after the request and finished after that start), no run is going, the
# frontend has drawn the finish (the root reads notRunning/CONNECTED, no element is marked stale,
# no status widget shows a run, two animation frames have passed since the finish arrived), no
# media file the run drew is still being fetched, and the caller's own condition (`until`, a JS
# expression) holds. A document tracked from its start must also have asked for its first run.
_PENDING = """(until) => {
    const t = window.__onepane, app = document.querySelector('[data-testid="stApp"]');
    if (!t) return ['no tracker in this document'];
    if (!app) return ['no Streamlit root'];
    const out = [];
    if (!document.querySelector('[data-testid="stMain"]')) out.push('main block not drawn');
    const state = (app.getAttribute('data-test-script-state') || '') + '/'
                + (app.getAttribute('data-test-connection-state') || '');
    if (!(state.startsWith('notRunning/') && state.endsWith('/CONNECTED'))) out.push('root state ' + state);
    const w = document.querySelector('[data-testid="stStatusWidget"]');
    if (w && w.innerText.match(/Running|Connecting|Stop/)) out.push('status widget: ' + w.innerText.trim());
    const stale = document.querySelectorAll('[data-testid="stMain"] [data-stale="true"]').length;
    if (stale) out.push(stale + ' element(s) still marked stale');
    const s = t.sockets[t.sockets.length - 1];
    if (!s) { if (t.fromStart) out.push('no websocket used yet'); }
    else {
        const tag = 'socket ' + s.id + ': ';
        if (s.id === 1 && t.fromStart && !s.asks) out.push(tag + 'the page has not asked for its first run');
        if (s.asked && s.started < s.asked) out.push(tag + 'rerun asked at #' + s.asked + ', no run started since');
        if (s.started && s.finished < s.started) out.push(tag + 'run started at #' + s.started + ' not finished');
        else if (s.finished && t.frame - s.finishedFrame < 2)
            out.push(tag + 'finish at #' + s.finished + ' not drawn yet');
    }
    if (t.media) out.push(t.media + ' media fetch(es) in flight');
    if (!out.length && until && !(new Function('return (' + until + ')'))()) out.push('until: ' + until);
    return out;
}"""


def wait_for_app(page, timeout_ms: int = 120000, until: str | None = None) -> None:
    """Wait until every script run the page asked for (the first one, or the one the last action
    started) has finished and been drawn, and the JS expression `until` (if given) is true; on
    timeout, fail with what is still pending.

    An action whose rerun is sent later (a slider commits after a short debounce) is not waited
    for: follow it with a wait on the element the action changes, as the browser tests do."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    started = time.monotonic()
    if not page.evaluate("() => !!window.__onepane"):      # a page not opened through `browser()`
        page.add_init_script(_track_script())               # (its next documents are tracked)
        page.evaluate(_track_script())
    try:
        page.wait_for_function(f"(until) => ({_PENDING})(until).length === 0", arg=until,
                               timeout=timeout_ms)
    except PlaywrightTimeout:
        pending = page.evaluate(f"(until) => ({_PENDING})(until)", until)
        runs = page.evaluate("() => window.__onepane && {seq: window.__onepane.seq, "
                             "sockets: window.__onepane.sockets}")
        raise AssertionError(f"the app did not finish within {timeout_ms} ms: pending {pending}; "
                             f"page {page.url}; runs {runs}") from None
    if os.environ.get("ONEPANE_WAIT_LOG"):                  # opt-in timing log (one line a wait)
        with open(os.environ["ONEPANE_WAIT_LOG"], "a") as fh:
            fh.write(f"{time.monotonic() - started:.3f}\n")


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
