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


# The app is idle when Streamlit's root says so (`data-test-script-state` = notRunning, connected)
# and no status widget shows a run; the state must hold for `quiet` ms counted from the call, so a
# rerun that the last action started (it announces itself within that time) is waited for too.
_IDLE = """(quiet) => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) return false;
    const state = (app.getAttribute('data-test-script-state') || '') + '/'
                + (app.getAttribute('data-test-connection-state') || '');
    const w = document.querySelector('[data-testid="stStatusWidget"]');
    const busy = !!(w && w.innerText.match(/Running|Connecting|Stop/));
    const now = performance.now();
    if (window.__onepaneState !== state + busy) { window.__onepaneState = state + busy; window.__onepaneSince = now; }
    return state.startsWith('notRunning/') && state.endsWith('CONNECTED') && !busy
        && now - window.__onepaneSince >= quiet;
}"""


def wait_for_app(page, timeout_ms: int = 30000, quiet_ms: int = 700) -> None:
    """Wait until the script run finished: the main block is rendered and the app has been idle
    (script not running, connected, no status widget) for `quiet_ms` since this call."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout_ms)
    page.evaluate("() => { window.__onepaneState = null; }")
    page.wait_for_function(_IDLE, arg=quiet_ms, timeout=timeout_ms)


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
