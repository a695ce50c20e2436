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


@contextlib.contextmanager
def browser():
    """A headless Debian chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} missing: apt-get install chromium (make test does this)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# A script run is done when the app has drawn its run marker (app/run_marker.py: a hidden
# `data-onepane-run` div, the last element of every run not cut short, numbered per session)
# above the last one a wait saw in this document, and Streamlit's root reads the script not running
# on a connected page (stale elements of the run before are gone then), no element shows the
# skeleton Streamlit draws while an element's code loads (a chart, a table, ...), and every plotly
# chart has drawn its svg (plotly draws after that). The number seen is kept in the document, so a reload
# or a new page starts from zero. No time window: each is a condition.
# Returns what is still pending (empty when done); records the run seen when done.
_PENDING = """() => {
    const seen = window.__onepaneSeen || 0;
    const runs = [...document.querySelectorAll('[data-onepane-run]')].map(e => +e.dataset.onepaneRun);
    const run = Math.max(0, ...runs);
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app ? (app.getAttribute('data-test-script-state') + '/'
                         + app.getAttribute('data-test-connection-state')) : 'no Streamlit root';
    const pending = [];
    const idle = state === 'notRunning/CONNECTED';
    if (run <= seen) pending.push((seen ? `no run marker above run ${seen}, the last a wait saw`
                                        : 'no run marker in this document yet')
        + (idle ? ' (the script is not running: no rerun since, or a page used st.stop() instead'
                  + ' of run_marker.stop())' : ''));
    if (!idle) pending.push(`script/connection state ${state}`);
    const loading = document.querySelectorAll('[data-testid="stSkeleton"]').length;
    if (loading) pending.push(`${loading} element(s) still loading (their code arrives after the run)`);
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
    const undrawn = charts.filter(c => !c.querySelector('.main-svg')).length;
    if (undrawn) pending.push(`${undrawn} of ${charts.length} plotly chart(s) without their svg`);
    if (!pending.length) window.__onepaneSeen = run;
    return pending;
}"""


def wait_for_app(page, timeout_ms: int = 120000) -> None:
    """Wait until a script run that started after the last wait on this page (on a new document:
    its first run) has finished and is drawn: every element of that run is in the DOM, the previous
    run's leftovers are gone. Call it once after each action that reruns the script (a click, a
    selection, a navigation, a reload); an action that does not rerun it makes the wait time out,
    naming what is pending. Plotly charts are drawn too; a dataframe draws its grid later (a test
    that reads one waits for it).

    An action whose rerun is sent late (a slider commits after a debounce) is waited for too: the
    wait needs a new run, not a quiet moment. Keys pressed in a row may rerun more than once; the
    test then waits for the value it reads."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"() => ({_PENDING})().length === 0", timeout=timeout_ms)
    except PlaywrightTimeout:
        pending = page.evaluate(f"() => ({_PENDING})()")
        raise AssertionError(f"the app did not finish a run within {timeout_ms} ms: pending "
                             f"{pending}; page {page.url}") from None



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
            path = out / (name.lower().replace(" ", "_") + ".png")
            page.screenshot(path=str(path))
            saved.append(path)
    return saved
