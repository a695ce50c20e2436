"""The What changed page in a real browser: each ranked item shows its evidence as a chart (a plot
per item, drawn), the incident note is there to copy, and nothing errors."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests import app_helpers as fx
from tests.browser_helpers import browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    f = fx.build(tmp_path_factory.mktemp("wc_browser"))
    with streamlit_server(f.store.db_path, f.config_path) as url:
        yield url


def test_each_item_has_a_chart(served, artifacts):
    at = (fx.DEPLOY_AT + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    errors: list[str] = []
    with browser() as chrome:
        page = chrome.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        # the link an alert carries: the page at the alert's time (a deep link's first load makes
        # Streamlit probe <page>/_stcore/health, a 404 it logs itself: errors count from here on)
        page.goto(served + f"/what_changed?service=ranker&at={at}&wc_window=1d")
        wait_for_app(page, 180000)
        page.get_by_text("Time from the link", exact=False).first.wait_for(timeout=120000)
        errors.clear()
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60000)
        wait_for_app(page, 180000)
        # one chart per ranked item, each drawn (an svg inside), in the items' order
        titles = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="— score")
        plots = page.locator('[data-testid="stPlotlyChart"]')
        n = titles.count()
        assert n >= 1
        assert plots.count() == n
        for i in range(n):
            assert plots.nth(i).locator(".main-svg").count() >= 1, titles.nth(i).inner_text()
            # the chart sits below its item's title
            assert plots.nth(i).bounding_box()["y"] > titles.nth(i).bounding_box()["y"]
        assert page.get_by_text("Copy as incident note").count() == 1
        (artifacts / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "screenshots" / "what_changed_charts.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not errors, errors
