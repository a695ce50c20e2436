"""The dashboard in a real browser: every page opens with no exception box and no console error,
one control per page works, and each page leaves a screenshot under artifacts/screenshots/."""
from __future__ import annotations

import csv

import pytest

from tests import app_helpers as fx
from tests.browser_helpers import browser, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def served(tmp_path_factory):
    f = fx.build(tmp_path_factory.mktemp("browser"))
    with streamlit_server(f.store.db_path, f.config_path) as url:
        yield url


@pytest.fixture(scope="module")
def chrome():
    with browser() as b:
        yield b


def open_page(chrome, url, errors, nav: str | None = None):
    """Open the app at `url`, then (when given) click the sidebar navigation link `nav`.

    Pages are reached through the navigation as a user does: a deep link's first load makes
    Streamlit's frontend probe <page>/_stcore/health for a base path, a 404 it logs itself."""
    page = chrome.new_page(viewport={"width": 1400, "height": 1000})
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url)
    wait_for_app(page)
    if nav:
        page.locator('[data-testid="stSidebarNav"]').get_by_text(nav, exact=True).click()
        wait_for_app(page)
    return page


def assert_clean(page, errors):
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()
    assert not errors, errors


def test_overview_shows_charts_and_filters_by_service(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/", errors)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=30000)
    assert page.get_by_text("Effective cost per day by service (USD)").count() >= 1
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text().endswith("EUR")
    (artifacts / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts / "screenshots" / "overview.png"), full_page=True)
    # control: pick one service in the sidebar; the month total becomes that service's
    page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.click()
    page.get_by_role("option", name="assistant").click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    expected = f"{fx.ASSISTANT_DAILY * 10:,.2f} USD"
    page.wait_for_function(f"""() => [...document.querySelectorAll('[data-testid="stMetricValue"]')]
                                      .some(e => e.innerText.includes('{expected}'))""", timeout=30000)
    assert "service=assistant" in page.url
    page.screenshot(path=str(artifacts / "screenshots" / "overview_assistant.png"), full_page=True)
    assert_clean(page, errors)


def test_data_health_lists_failure_and_time_travel_hides_it(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/", errors, nav="Data health")
    page.get_by_text("kpis.csv:3:2", exact=False).first.wait_for(state="attached", timeout=30000)
    page.screenshot(path=str(artifacts / "screenshots" / "data_health.png"), full_page=True)
    # control: time travel to before anything was loaded: no runs yet
    page.get_by_text("Time travel (as of)").click()
    wait_for_app(page)
    # type every segment (the calendar opens on today's month otherwise), then commit from the
    # calendar, which now shows November 2020 whatever the real date is
    for segment, value in (("year", "2020"), ("month", "11"), ("day", "15")):
        page.get_by_role("spinbutton", name=f"{segment}, As of date (UTC)").click()
        page.keyboard.type(value)
    page.get_by_role("button", name="November 15, 2020").click()
    wait_for_app(page)
    page.get_by_text("No collector runs yet", exact=False).first.wait_for(timeout=30000)
    assert "as_of=2020-11-15T" in page.url
    assert_clean(page, errors)


def test_service_page_panes_and_version_toggle(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/?service=ranker", errors, nav="Service")
    page.get_by_text("Technical health of ranker").first.wait_for(timeout=30000)
    assert page.get_by_text("Latency p50 (s)").count() == 0           # no histogram in the fixture
    legend = page.locator('[data-testid="stPlotlyChart"] .legend').first
    assert "ranker-v2" in legend.text_content()
    page.screenshot(path=str(artifacts / "screenshots" / "service.png"), full_page=True)
    # control: merge versions; the legend becomes "(all)"
    page.get_by_text("Split by model version").click()
    wait_for_app(page)
    page.wait_for_function("""() => { const l = document.querySelector('[data-testid="stPlotlyChart"] .legend');
                                      return l && l.textContent.includes('(all)'); }""", timeout=30000)
    assert_clean(page, errors)


def test_unit_economics_what_if_slider(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/?service=ranker", errors, nav="Unit economics")
    page.get_by_text("Marginal cost of lift and what-if").first.wait_for(timeout=30000)
    page.get_by_text("Lift of ranker-v2 over ranker-v1", exact=False).first.wait_for(timeout=30000)
    page.screenshot(path=str(artifacts / "screenshots" / "unit_economics.png"), full_page=True)
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stDataFrame"] table')]
                                     .some(t => t.innerText.includes('Predictions per day'))""", timeout=60000)
    before = whatif_table(page)
    assert before["Predictions per day"][0] == before["Predictions per day"][1] > 0   # no change yet
    # control: traffic slider with the keyboard (+1 % per arrow), then the scenario table changes
    slider = page.get_by_role("slider").nth(2)
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    wait_for_app(page)
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stSliderThumbValue"]')]
                                     .some(e => e.innerText.trim() === '5')""", timeout=30000)
    preds = before["Predictions per day"][0]
    page.wait_for_function(f"""() => {{ const t = [...document.querySelectorAll('[data-testid="stDataFrame"] table')]
        .find(t => t.innerText.includes('Predictions per day'));
        const r = t && [...t.querySelectorAll('tr')].find(r => r.innerText.startsWith('Predictions per day'));
        return r && Math.abs(parseFloat(r.querySelectorAll('td')[2].innerText) - {preds * 1.05}) < 1e-6; }}""",
                           timeout=60000)
    after = whatif_table(page)
    assert after["Predictions per day"][1] == pytest.approx(preds * 1.05)          # +5 % traffic
    today_cost, cost = after["Daily cost"]
    assert today_cost == before["Daily cost"][0]
    assert today_cost <= cost <= today_cost * 1.05 + 1e-9, after      # only the variable part grows
    assert after["Improved actions per day"][1] == pytest.approx(before["Improved actions per day"][0] * 1.05)
    assert after["Cost per prediction"][1] == pytest.approx(cost / (preds * 1.05), rel=1e-9)
    # the what-if table's CSV, made when clicked, holds the scenario shown
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").last.click()
    with open(dl.value.path(), encoding="utf-8") as fh:
        got = {r["measure"]: r for r in csv.DictReader(fh)}
    assert dl.value.suggested_filename == "what_if_ranker.csv"
    assert float(got["Predictions per day"]["scenario"]) == pytest.approx(preds * 1.05)
    assert float(got["Daily cost"]["today"]) == pytest.approx(today_cost)
    assert_clean(page, errors)


def whatif_table(page) -> dict[str, tuple[float, float]]:
    """The what-if grid's cells (measure -> today, scenario), from its accessible table."""
    rows = page.evaluate("""() => { const t = [...document.querySelectorAll('[data-testid="stDataFrame"] table')]
        .find(t => t.innerText.includes('Predictions per day'));
        return [...t.querySelectorAll('tbody tr')].map(r => [...r.querySelectorAll('td')].map(c => c.innerText)); }""")
    return {r[0]: (float(r[1]), float(r[2])) for r in rows if r[1] and r[2]}


def test_costs_allocate_by_team(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/", errors, nav="Costs")
    page.get_by_text("Effective cost per day by service and line (USD)").first.wait_for(timeout=60000)
    page.screenshot(path=str(artifacts / "screenshots" / "costs.png"), full_page=True)
    page.locator('[data-testid="stRadio"]').get_by_text("team", exact=True).click()
    wait_for_app(page)
    page.get_by_text("Effective cost per day by team and line (USD)").first.wait_for(timeout=60000)
    assert_clean(page, errors)


def test_model_health_heatmap_and_version(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/?service=ranker", errors, nav="Model health")
    page.locator('[data-testid="stPlotlyChart"] .heatmaplayer, [data-testid="stPlotlyChart"] .hm').first.wait_for(
        state="attached", timeout=30000)
    page.screenshot(path=str(artifacts / "screenshots" / "model_health.png"), full_page=True)
    title = "Drift score per feature and window — ranker ranker-v{}"
    assert page.get_by_text(title.format(1), exact=False).count() == 1        # the first version
    # control: the other version (a click on the chosen one would not rerun the page)
    page.locator('[data-testid="stRadio"]').get_by_text("ranker-v2", exact=True).click()
    wait_for_app(page)
    assert page.get_by_text(title.format(2), exact=False).count() == 1
    assert page.get_by_text(title.format(1), exact=False).count() == 0
    assert_clean(page, errors)


def test_what_changed_window_control(served, chrome, artifacts):
    errors: list[str] = []
    page = open_page(chrome, served + "/?service=ranker", errors, nav="What changed")
    page.get_by_text("Explaining [", exact=False).first.wait_for(timeout=60000)
    page.screenshot(path=str(artifacts / "screenshots" / "what_changed.png"), full_page=True)
    # control: a wider comparison window
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Compare windows of").click()
    page.get_by_role("option", name="7d").click()
    wait_for_app(page)
    page.get_by_text("Explaining [2026-11-0", exact=False).first.wait_for(timeout=60000)
    assert_clean(page, errors)


# Every message from the server reaches the page `window.__lagMs` ms late, in order: the page as
# the users of a loaded server see it. After a click, the app reads idle until the click's run
# arrives, so only a wait on that run's own completion returns with the run drawn.
LAG = """(() => {
    const add = WebSocket.prototype.addEventListener;
    WebSocket.prototype.addEventListener = function (type, listener, options) {
        if (type !== 'message') return add.call(this, type, listener, options);
        const late = (e) => setTimeout(() => listener.call(this, e), window.__lagMs || 0);
        return add.call(this, type, late, options);
    };
})()"""


def drawn(page) -> tuple[str, str]:
    """The page's title and main text as drawn right now (no waiting)."""
    return page.evaluate("""() => [document.querySelector('[data-testid="stMain"] h1')?.innerText || '',
                                   document.querySelector('[data-testid="stMain"]')?.innerText || '']""")


def test_wait_returns_only_once_the_actions_run_is_drawn_on_a_slow_server(served, chrome):
    """The checks read the DOM without waiting, so a wait that returns before the rerun an action
    asked for is drawn fails them: main's earlier wait (idle held for 700 ms) did, here and on a
    loaded machine."""
    errors: list[str] = []
    page = chrome.new_page(viewport={"width": 1400, "height": 1000})
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.add_init_script(LAG)
    page.goto(served + "/")
    wait_for_app(page)
    assert drawn(page)[0] == "Overview"
    page.evaluate("() => { window.__lagMs = 3000; }")
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Costs", exact=True).click()
    wait_for_app(page)
    title, text = drawn(page)
    assert title == "Costs" and "Effective cost per day by service and line (USD)" in text, (title, text[:300])
    page.locator('[data-testid="stRadio"]').get_by_text("team", exact=True).click()
    wait_for_app(page)
    title, text = drawn(page)
    assert "Effective cost per day by team and line (USD)" in text, text[:300]
    assert "by service and line" not in text
    assert_clean(page, errors)


def test_a_wait_without_a_rerun_fails_naming_what_is_pending(served, chrome):
    errors: list[str] = []
    page = open_page(chrome, served + "/", errors)
    with pytest.raises(AssertionError, match=r"within 3000 ms: pending \['no run marker above run \d+, "
                                             r"the last a wait saw \(the script is not running"):
        wait_for_app(page, timeout_ms=3000)          # nothing asked for a run since the last wait
    assert_clean(page, errors)
