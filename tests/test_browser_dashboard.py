"""Issue 22 in a real browser (Streamlit + Playwright on Debian's chromium) over the hand-countable
store: the stale-feed light is grey with its word, an absolute week, a reload restoring the view,
the pinned-date chip, one colour per service across two charts, the month table at 1280 px, and
What changed's link opening the Service page in the same tab."""
from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests import app_helpers as fx
from tests.browser_helpers import browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser

# fraud's request log ends 2026-11-10 19:30: 40 h old at this clock, over the 1-day default SLO
NOW = "2026-11-12T11:30:00Z"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    f = fx.build(tmp_path_factory.mktemp("browser_dash"))
    old = os.environ.get("ONEPANE_NOW")
    os.environ["ONEPANE_NOW"] = NOW               # the server process inherits the pinned clock
    try:
        with streamlit_server(f.store.db_path, f.config_path) as url:
            yield url
    finally:
        if old is None:
            os.environ.pop("ONEPANE_NOW", None)
        else:
            os.environ["ONEPANE_NOW"] = old


@pytest.fixture(scope="module")
def chrome():
    with browser() as b:
        yield b


def open_page(chrome, url, errors, nav: str | None = None, width: int = 1400):
    page = chrome.new_page(viewport={"width": width, "height": 1000})
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(url)
    wait_for_app(page, timeout_ms=120000)
    if nav:
        page.locator('[data-testid="stSidebarNav"]').get_by_text(nav, exact=True).click()
        wait_for_app(page, timeout_ms=120000)
    return page


FIND = """(t) => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .find(c => { const g = c.querySelector('.gtitle'); return g && g.textContent.startsWith(t); })"""


def wait_for_chart(page, title: str) -> None:
    page.wait_for_function(f"(t) => !!({FIND})(t)", arg=title, timeout=120000)


def legend_colours(page, title: str) -> dict[str, str]:
    """Legend name -> the colour of its swatch (fill of a bar, stroke of a line), from the SVG."""
    return page.evaluate(f"""(t) => Object.fromEntries([...({FIND})(t).querySelectorAll('.legend .traces')]
        .map(e => {{ const p = e.querySelector('.legendpoints path') || e.querySelector('.legendlines path');
                     const s = p ? getComputedStyle(p) : null;
                     const c = s ? (s.fill && s.fill !== 'none' ? s.fill : s.stroke) : '';
                     return [e.querySelector('.legendtext').textContent, c]; }}))""", title)


def assert_clean(page, errors):
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors


def background(locator) -> str:
    """The first non-transparent background colour of the element or its ancestors."""
    return locator.evaluate("""e => { for (let n = e; n; n = n.parentElement) {
        const c = getComputedStyle(n).backgroundColor;
        if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; } return ''; }""")


def rgb(text: str) -> tuple[int, int, int]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def test_stale_feed_light_is_grey_with_its_word(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/", errors)
    row = page.locator('[data-testid="stMarkdown"] tr').filter(has_text="fraud")
    row.first.wait_for(timeout=120000)
    stale = row.get_by_text("◷ stale")
    assert stale.count() == 1 and "newest data 40 h old" in row.first.inner_text()
    r, g, b = rgb(background(stale.first))
    assert max(r, g, b) - min(r, g, b) < 25, (r, g, b)            # grey, not green/amber/red
    breach = page.locator('[data-testid="stMarkdown"] tr').filter(has_text="ranker").get_by_text("✖ breach").first
    r, g, b = rgb(background(breach))
    assert r > g and r > b, (r, g, b)                               # a red pill for what is bad
    r, g, b = rgb(breach.evaluate("e => getComputedStyle(e).color"))
    assert r > g + 50 and r > b + 50, (r, g, b)
    (artifacts / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts / "screenshots" / "overview_lights.png"), full_page=True)
    assert_clean(page, errors)


def test_month_table_fits_at_1280_px(served, chrome):
    errors: list[str] = []
    page = open_page(chrome, served + "/", errors, width=1280)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for(timeout=120000)
    fits = """e => { const s = e.querySelector('.dvn-scroller');
                     return s && s.clientWidth > 0 ? [s.scrollWidth, s.clientWidth] : null; }"""
    try:       # the grid sizes its columns after it is attached: wait until it is laid out and fits
        page.wait_for_function(f"(e) => {{ const r = ({fits})(e); return r && r[0] <= r[1] + 2; }}",
                               arg=grid.element_handle(), timeout=15000)
    except PlaywrightTimeout:
        pass
    scroll = grid.evaluate(fits)
    assert scroll and scroll[0] <= scroll[1] + 2, scroll
    assert_clean(page, errors)


def test_an_absolute_week_shows_those_days(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/?from=2026-10-26&to=2026-11-01", errors)
    page.get_by_text("Showing 2026-10-26 to 2026-11-01 (UTC days).").wait_for(timeout=120000)
    wait_for_chart(page, "Effective cost per day by service (USD)")
    points = page.evaluate(f"""(t) => [...({FIND})(t).querySelectorAll('.barlayer .trace')]
        .map(tr => tr.querySelectorAll('.point').length)""", "Effective cost per day by service (USD)")
    assert points and set(points) == {7}, points          # every service: one bar per day of the week
    from_box = page.locator('[data-testid="stSidebar"] [data-testid="stDateInput"]').first
    assert "2026" in from_box.inner_text() or from_box.count() == 1
    assert_clean(page, errors)


def test_a_reload_restores_the_service_view(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/?service=ranker", errors, nav="Service")
    page.get_by_text("Technical health of ranker").first.wait_for(timeout=120000)
    page.get_by_text("Week-over-week overlay").click()
    wait_for_app(page, timeout_ms=120000)
    # with the week before drawn (dotted), a version keeps its colour
    page.wait_for_function(f"(t) => {{ const c = ({FIND})(t); return c && c.textContent.includes('(week before)'); }}",
                           arg="Technical health of ranker", timeout=120000)
    tech = legend_colours(page, "Technical health of ranker")
    assert tech["ranker-v2"] == tech["ranker-v2 (week before)"] and tech["ranker-v2"], tech
    assert "None" not in tech and tech["ranker-v1"] != tech["ranker-v2"], tech
    page.get_by_role("tab", name="Model").click()            # a tab does not rerun the script
    page.wait_for_function("() => location.search.includes('tab=Model') && location.search.includes('wow=')",
                           timeout=120000)
    url = page.url
    assert "service=ranker" in url
    page.reload()
    wait_for_app(page, timeout_ms=120000)
    page.get_by_text("Technical health of ranker").first.wait_for(state="attached", timeout=120000)
    assert page.get_by_role("tab", name="Model").get_attribute("aria-selected") == "true"
    assert page.locator('[data-testid="stCheckbox"]').filter(has_text="Week-over-week").locator(
        "input").first.is_checked()
    assert page.url == url
    # red is kept for "bad": the selected service's tag (Streamlit's accent colour) is the palette's blue
    r, g, b = rgb(background(page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]')
                              .get_by_text("ranker", exact=True).first))
    assert b > r + 50, (r, g, b)
    assert not [e for e in errors if e.startswith("pageerror")], errors


def test_a_pinned_end_day_is_a_chip_that_clears(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/?service=ranker&window=7&to=2026-11-03", errors)
    chip = page.get_by_role("button", name="× ending 2026-11-03")
    chip.wait_for(timeout=120000)
    page.get_by_text("Showing 2026-10-28 to 2026-11-03 (UTC days).").wait_for(timeout=120000)
    page.screenshot(path=str(artifacts / "screenshots" / "pinned_chip.png"))
    chip.click()
    wait_for_app(page, timeout_ms=120000)
    page.get_by_text(f"Showing 2026-11-04 to {fx.LAST_DAY:%Y-%m-%d} (UTC days).").wait_for(timeout=120000)
    assert "to=" not in page.url and "service=ranker" in page.url
    assert page.get_by_role("button", name="× ending 2026-11-03").count() == 0
    assert_clean(page, errors)


def test_each_service_has_one_colour_on_two_charts(served, chrome):
    errors: list[str] = []
    page = open_page(chrome, served + "/", errors)
    wait_for_chart(page, "Effective cost per day by service (USD)")
    wait_for_chart(page, "Request rate by service")
    colours = {t: legend_colours(page, t) for t in ("Effective cost per day by service (USD)",
                                                     "Request rate by service (predictions per day)")}
    cost = colours["Effective cost per day by service (USD)"]
    reqs = colours["Request rate by service (predictions per day)"]
    assert cost["ranker"] == reqs["ranker"], (cost, reqs)
    assert cost["ranker"] != cost["assistant"]
    assert_clean(page, errors)


def test_what_changed_link_opens_the_service_page_in_this_tab(served, chrome):
    errors: list[str] = []
    page = open_page(chrome, served + "/?service=ranker", errors, nav="What changed")
    page.get_by_text("Explaining [", exact=False).first.wait_for(timeout=120000)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Or explain a change event").click()
    page.get_by_role("option").first.click()
    wait_for_app(page, timeout_ms=120000)
    link = page.get_by_text("Open the Service page around 2026-11-03 12:00").first
    link.wait_for(timeout=120000)
    pages_before = len(page.context.pages)
    link.click()
    wait_for_app(page, timeout_ms=120000)
    page.get_by_text("Technical health of ranker").first.wait_for(timeout=120000)
    assert len(page.context.pages) == pages_before
    assert "from=2026-10-31" in page.url and "to=2026-11-06" in page.url
    assert_clean(page, errors)


def test_marginal_cost_does_not_move_with_the_sidebar_window(served, chrome):
    """Unit economics at 30 days, then "last 7 days" picked in the sidebar: the marginal cost per bp
    and the lift are the experiment's own (its window named), so both read the same."""
    errors: list[str] = []
    page = open_page(chrome, served + "/?service=ranker&window=30", errors, nav="Unit economics")
    metric = page.locator('[data-testid="stMetric"]')
    marginal = metric.filter(has_text="Marginal cost per bp").locator('[data-testid="stMetricValue"]')
    lift = metric.filter(has_text="Lift of ranker-v2 over ranker-v1").locator('[data-testid="stMetricValue"]')
    marginal.wait_for(timeout=120000)
    before = (marginal.inner_text(), lift.inner_text())
    page.get_by_text("Experiment window:", exact=False).first.wait_for(timeout=120000)
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
        has_text="Days to show").click()
    page.get_by_role("option", name="last 7 days").click()
    last = fx.LAST_DAY.date()
    page.get_by_text(f"Showing {last - timedelta(days=6):%Y-%m-%d} to {last:%Y-%m-%d} (UTC days).").wait_for(
        timeout=120000)
    wait_for_app(page, timeout_ms=120000)
    assert "window=7" in page.url
    marginal.wait_for(timeout=120000)
    assert (marginal.inner_text(), lift.inner_text()) == before
    rate = {v: c / fx.IMPRESSIONS_PER_DAY for v, c in fx.CLICKS_PER_DAY.items()}
    assert before[1] == f"{(rate['ranker-v2'] - rate['ranker-v1']) * 10_000:,.1f} bp", before
    assert re.fullmatch(r"-?[\d,]+\.\d{4} USD", before[0]), before
    assert_clean(page, errors)


def _metric_text(page, label: str) -> str:
    value = page.locator('[data-testid="stMetric"]').filter(has_text=label).locator(
        '[data-testid="stMetricValue"]').first
    value.wait_for(timeout=120000)
    return value.inner_text()


def test_one_forecast_as_read_on_the_overview_and_the_costs_page(served, chrome):
    """The month-end forecast as a user reads it (the pages' metric text, not the canvas grid), for
    one service on the Overview and on the Costs page. ranker's bill is flat at 10.50 a day, so its
    November forecast is 30 × 10.50 by hand; assistant's reads the same on both pages."""
    errors: list[str] = []
    read = {}
    for service in ("ranker", "assistant"):
        page = open_page(chrome, served + f"/?service={service}", errors)
        over = _metric_text(page, "Forecast for the month (USD)")
        page.goto(served + f"/costs?service={service}")
        wait_for_app(page, timeout_ms=120000)
        costs = _metric_text(page, f"Forecast for the month: {service} (USD)")
        labels = [t for t in page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
                  if t.startswith("Forecast for the month: ")]
        assert labels and all(t.startswith(f"Forecast for the month: {service} (") for t in labels), labels
        read[service] = (over, costs)
        assert_clean(page, errors)
        page.close()
    assert read["ranker"] == (f"{float(fx.RANKER_DAILY) * 30:,.2f} USD",) * 2, read
    assert read["assistant"][0] == read["assistant"][1] and read["assistant"][0].endswith(" USD"), read
