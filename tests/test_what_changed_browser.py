"""The What changed page in a real browser: each ranked item shows its evidence as a chart (a plot
per item, drawn), the incident note is there to copy, the page defaults to "All services" when the
link names no service, and nothing errors."""
from __future__ import annotations

import re
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
        n = _each_item_has_a_chart(page)
        assert n >= 1
        assert page.get_by_text("Copy as incident note").count() == 1
        (artifacts / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "screenshots" / "what_changed_charts.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not errors, errors
        # without a service in the link the page explains all services: the picker says so and
        # each item names its service and has its chart
        page.goto(served + f"/what_changed?at={at}&wc_window=1d")
        wait_for_app(page, 180000)
        page.get_by_text("Time from the link", exact=False).first.wait_for(timeout=120000)
        errors.clear()                         # the deep link's health probe again
        label = page.locator('[data-testid="stWidgetLabel"]').filter(has_text=re.compile(r"^\s*Service\s*$"))
        picker = page.locator('[data-testid="stSelectbox"]').filter(has=label)
        assert picker.count() == 1
        # the chosen option is drawn as text or as the value of the picker's search input
        shown = picker.inner_text() + " " + " ".join(i.input_value() for i in picker.locator("input").all())
        assert "All services" in shown, picker.inner_html()
        n = _each_item_has_a_chart(page)
        titles = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="— score")
        assert any(" · ranker — score" in titles.nth(i).inner_text() for i in range(n))
        page.screenshot(path=str(artifacts / "screenshots" / "what_changed_all_services.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not errors, errors


def _each_item_has_a_chart(page) -> int:
    """One drawn chart per ranked item, below its title, in the items' order; returns the count."""
    titles = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="— score")
    plots = page.locator('[data-testid="stPlotlyChart"]')
    n = titles.count()
    assert n >= 1
    assert plots.count() == n
    for i in range(n):
        assert plots.nth(i).locator(".main-svg").count() >= 1, titles.nth(i).inner_text()
        assert plots.nth(i).bounding_box()["y"] > titles.nth(i).bounding_box()["y"]
    return n
