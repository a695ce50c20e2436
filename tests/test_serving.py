"""One serving rule, however the app is started: a non-loopback address needs [auth]; with
[auth] every page - deep links included - shows only the login screen to an anonymous visitor.

Nothing here listens beyond 127.0.0.1: the launchers refuse before binding, and the app's own
check is proven on a loopback server that reports 0.0.0.0 as its address (tests/serve_wide.py).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser_helpers import browser, free_port, wait_for_app
from tests.conftest import ROOT, cli_env

PAGES = ("", "overview", "unit_economics", "costs", "service", "what_changed", "model_health",
         "data_health")
AUTH = '[auth]\nprovider = "company-sso"\n'


def test_loopback_rule_by_hand():
    from app.serve import check_address, is_loopback
    from metrics.config import parse_settings
    from metrics.errors import ConfigError

    assert [is_loopback(a) for a in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost")] == [True] * 5
    assert [is_loopback(a) for a in ("0.0.0.0", "", None, "::", "10.0.0.5", "myhost")] == [False] * 6
    with pytest.raises(ConfigError, match="without \\[auth\\]"):
        check_address("0.0.0.0", parse_settings({}))
    check_address("0.0.0.0", parse_settings({"auth": {"provider": "sso"}}))
    check_address("127.0.0.1", parse_settings({}))


def test_launchers_refuse_a_wide_address_without_auth_before_listening(run_cli, tmp_path):
    r = run_cli("serve", "--address", "0.0.0.0", "--port", str(free_port()), timeout=60)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "without [auth]" in r.stderr
    r = subprocess.run([sys.executable, "-m", "app.launch", "run", str(ROOT / "app" / "main.py"),
                        "--server.address", "0.0.0.0", "--server.port", str(free_port())],
                       cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "without [auth]" in r.stderr


def _server(module: list[str], tmp_path: Path, config: Path, log_name: str):
    from metrics.store import Store

    db = tmp_path / "s.duckdb"
    Store(db).ensure()
    port = free_port()
    env = cli_env(ONEPANE_DB=str(db), ONEPANE_CONFIG=str(config))
    log = open(tmp_path / log_name, "w")
    proc = subprocess.Popen([sys.executable, "-m", *module, "run", str(ROOT / "app" / "main.py"),
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false",
                             "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, (tmp_path / log_name).read_text()
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            assert time.monotonic() < deadline, "streamlit did not start"
            time.sleep(0.3)
    return proc, url


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def test_with_auth_every_page_shows_only_the_login_screen(tmp_path):
    """A plain `streamlit run app/main.py` (no launcher), and the very first visit a deep link:
    the old pages-folder mode would have run that page without the login check."""
    cfg = tmp_path / "onepane.toml"
    cfg.write_text(AUTH)
    proc, url = _server(["streamlit"], tmp_path, cfg, "auth.log")
    try:
        with browser() as b:
            for name in ("data_health", *PAGES):          # data_health first: a fresh server
                page = b.new_page()
                page.goto(f"{url}/{name}")
                page.get_by_text("This dashboard requires a login.").wait_for(timeout=60000)
                wait_for_app(page)
                text = _main_text(page)
                assert "requires a login" in text, (name, text)
                assert page.get_by_role("button", name="Log in").count() == 1
                assert page.locator('[data-testid="stSidebarNav"]').count() == 0, name
                assert page.locator('[data-testid="stPlotlyChart"], [data-testid="stDataFrame"], '
                                    '[data-testid="stMetric"]').count() == 0, name
                page.close()
    finally:
        _stop(proc)


def test_the_app_itself_refuses_a_wide_address_without_auth(tmp_path):
    cfg = tmp_path / "onepane.toml"
    cfg.write_text("")
    from tests.serve_wide import WIDENED

    proc, url = _server(["tests.serve_wide"], tmp_path, cfg, "wide.log")
    try:
        deadline = time.monotonic() + 60                 # the address flips once healthy
        while WIDENED not in (tmp_path / "wide.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "wide.log").read_text()
            time.sleep(0.05)
        with browser() as b:
            for name in ("data_health", "", "costs"):
                page = b.new_page()
                page.goto(f"{url}/{name}")
                page.get_by_text("without [auth]", exact=False).wait_for(timeout=60000)
                wait_for_app(page)
                text = _main_text(page)
                assert "refusing to serve on 0.0.0.0 without [auth]" in text, (name, text)
                assert page.locator('[data-testid="stSidebarNav"]').count() == 0
                assert page.locator('[data-testid="stPlotlyChart"], [data-testid="stDataFrame"], '
                                    '[data-testid="stMetric"]').count() == 0
                page.close()
    finally:
        _stop(proc)
