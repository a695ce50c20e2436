"""`make demo`'s promise in a real browser: the demo store's overview page shows a chart with the
demo company's numbers (Playwright on Debian's chromium; a screenshot lands in artifacts/)."""
from __future__ import annotations

import json

import pytest

from tests.browser_helpers import browser, streamlit_server, wait_for_app
from tests.foundation_helpers import demo_store  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_demo_overview_shows_a_chart_of_the_demo_services(demo_store, artifacts):
    out, run = demo_store
    assert run.returncode == 0, run.stderr[-3000:]
    services = json.loads((out / "ground_truth.json").read_text())["services"]
    errors: list[str] = []
    with streamlit_server(out / "onepane.duckdb", out / "onepane.toml", timeout=120) as url, browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.goto(url + "/")
        wait_for_app(page, timeout_ms=60000)
        (artifacts / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "screenshots" / "demo_overview.png"), full_page=True)
        text = page.locator('[data-testid="stMain"]').inner_text()
        legend = " ".join(page.locator('[data-testid="stPlotlyChart"] .legendtext').all_text_contents())
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not errors, errors
    assert all(s in text + legend for s in services), (services, legend, text[:1000])
