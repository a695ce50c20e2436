"""The Weekly review page: the pack of a picked week, download buttons, the decision form
(AppTest), the Overview's link to the latest week, and the page in a real browser."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests import app_helpers as fx
from tests.browser_helpers import browser, streamlit_server, wait_for_app
from tests.test_app import MAIN

LATEST = "2026-W45"          # the fixture's data ends 2026-11-10: the last full week is Nov 2-8


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("reviewstore"))


@pytest.fixture
def app_env(fixture_store, monkeypatch):
    monkeypatch.setenv("ONEPANE_DB", str(fixture_store.store.db_path))
    monkeypatch.setenv("ONEPANE_CONFIG", str(fixture_store.config_path))
    return fixture_store


def _page(**query) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("pages/weekly_review.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_shows_the_latest_week_and_records_a_decision(app_env):
    from metrics.decisions import list_decisions

    at = _page()
    assert at.selectbox(key="review_week").value == LATEST
    html = at.get("iframe")[0].proto.srcdoc
    assert f"Weekly review {LATEST}" in html
    # ranker's week: 7 days of its fixed daily bill, by hand
    assert f"ranker cost {fx.RANKER_DAILY * 7:.2f} USD this week" in html
    assert {b.label for b in at.get("download_button")} == {"Download HTML"}
    at.selectbox[1].set_value("ranker")          # the form's service
    at.selectbox[2].set_value("retire")
    at.text_input[0].input("Retire ranker-v1 after the rollout")
    at.text_input[1].input("ana")
    at.button[1].click().run()                   # [0] is "Prepare PDF"
    assert not at.exception
    assert any("Recorded decision" in s.value for s in at.success)
    got = list_decisions(app_env.store).to_dicts()
    assert [(d["service"], d["kind"], d["text"], d["decided_by"]) for d in got] == [
        ("ranker", "retire", "Retire ranker-v1 after the rollout", "ana")]
    # the pack lists it now (the cache was dropped)
    at.run()
    assert "Retire ranker-v1 after the rollout" in at.get("iframe")[0].proto.srcdoc


def test_overview_links_to_the_latest_week(app_env):
    at = AppTest.from_file(MAIN, default_timeout=120).run()
    assert not at.exception
    link = [m.value for m in at.markdown if m.value.startswith("[Weekly review")]
    assert len(link) == 1 and link[0].startswith(f"[Weekly review of the last full week: {LATEST} →](weekly_review?")
    assert f"week={LATEST}" in link[0] and "to=" not in link[0]      # nothing pinned: none carried


@pytest.mark.browser
def test_weekly_review_page_in_a_browser(tmp_path, artifacts):
    f = fx.build(tmp_path)
    errors: list[str] = []
    with streamlit_server(f.store.db_path, f.config_path, timeout=90) as url, browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.goto(url + "/weekly_review")             # a deep link, as the Overview's link is
        wait_for_app(page, timeout_ms=300000)          # the first build of the pack
        frame = page.frame_locator("iframe").first
        frame.get_by_text(f"Weekly review {LATEST}").wait_for(timeout=240000)
        frame.locator(".chart .main-svg").first.wait_for(timeout=60000)
        assert page.get_by_text("Download HTML").count() == 1
        (artifacts / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "screenshots" / "weekly_review.png"), full_page=True)
        page.get_by_role("textbox", name="Decision", exact=True).fill("Approve ranker-v2 for everyone")
        page.get_by_text("Record decision", exact=True).click()
        page.get_by_text("Recorded decision").wait_for(timeout=300000)
        assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors
    from metrics.decisions import list_decisions
    assert list_decisions(f.store)["text"].to_list() == ["Approve ranker-v2 for everyone"]
