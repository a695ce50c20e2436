"""One definition per number on the pages (issues 21 and 22), over the hand-countable app store:
one month-end forecast on the Overview and the Costs page, one lift on the Unit economics page, and
decision numbers that do not move with the sidebar window. Expected values come from the fixture's
constants (tests/app_helpers.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests import app_helpers as fx

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("numbers_appstore"))


@pytest.fixture
def app_env(fixture_store, monkeypatch):
    monkeypatch.setenv("ONEPANE_DB", str(fixture_store.store.db_path))
    monkeypatch.setenv("ONEPANE_CONFIG", str(fixture_store.config_path))
    return fixture_store


def run_page(page: str, **query) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(f"pages/{page}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame(at: AppTest, key: str):
    """The dataframe whose columns identify it (AppTest does not expose element keys)."""
    cols = {"overview_services": {"forecast_vs_budget", "requests"}, "budgets": {"p_over_budget"},
            "ue_whatif": {"measure", "today"}, "ue_ledger": {"model_version", "predictions_text"}}[key]
    for d in at.dataframe:
        v = d.value
        v = v.data if hasattr(v, "data") and not hasattr(v, "columns") else v   # a Styler
        if cols <= set(v.columns):
            return v
    raise AssertionError(f"no dataframe with columns {cols}")


def test_overview_and_costs_show_the_same_month_end_forecast(app_env):
    # ranker costs 10.50 every day of November so far (1..10): a flat series, so the month-end is
    # 10.50 × 30 days; the forecast of both pages must be exactly that one value
    expected = float(fx.RANKER_DAILY) * 30
    over = frame(run_page("overview.py"), "overview_services")
    over = over[over["billing_currency"] == "USD"].set_index("service")
    costs = frame(run_page("costs.py"), "budgets")
    costs = costs[(costs["level"] == "service") & (costs["currency"] == "USD")].set_index("name")
    assert over.loc["ranker", "forecast"] == pytest.approx(expected)
    assert costs.loc["ranker", "forecast"] == pytest.approx(expected)
    assert over.loc["assistant", "forecast"] == pytest.approx(costs.loc["assistant", "forecast"])


def test_unit_economics_one_lift_and_marginal_cost_independent_of_the_window(app_env):
    rate = {v: c / fx.IMPRESSIONS_PER_DAY for v, c in fx.CLICKS_PER_DAY.items()}
    lift_bp = (rate["ranker-v2"] - rate["ranker-v1"]) * 10_000
    seen = []
    for window in ("7", "30"):
        at = run_page("unit_economics.py", service="ranker", window=window)
        m = {x.label: x.value for x in at.metric}
        assert m["Lift of ranker-v2 over ranker-v1 (clicks per impressions)"] == f"{lift_bp:,.1f} bp"
        whatif = frame(at, "ue_whatif").set_index("measure")
        assert whatif.loc["Lift of B over A (bp)", "today"] == pytest.approx(lift_bp)     # one lift
        seen.append((m["Marginal cost per bp (USD per day)"], whatif.loc["Marginal cost per bp", "today"]))
        assert any("Experiment window:" in c.value for c in at.caption)
    assert seen[0] == seen[1]


def test_a_pinned_mid_month_day_ends_this_month_there(app_env):
    """A link pins to=2026-11-05 while the store has November up to the 10th: "this month" is
    November 1..5 (month-to-date as of the pinned day) and the forecast is made from that day, on
    both pages. By hand: 5 days of each daily cost; the flat series forecast is 30 of those days
    (the days after the 5th must be neither counted nor counted twice)."""
    daily = {"ranker": float(fx.RANKER_DAILY), "assistant": float(fx.ASSISTANT_DAILY)}
    at = run_page("overview.py", to="2026-11-05")
    assert any(s.value == "This month (November 2026, through 2026-11-05)" for s in at.subheader)
    # the weekly-review link: the last full ISO week up to Thursday 2026-11-05 is W44 (Oct 26 - Nov 1),
    # and the link keeps the pinned day
    link = [x.value for x in at.markdown if x.value.startswith("[Weekly review")]
    assert len(link) == 1 and link[0].startswith("[Weekly review of the last full week to 2026-11-05: 2026-W44 →](")
    assert "weekly_review?" in link[0] and "to=2026-11-05" in link[0] and "week=2026-W44" in link[0]
    over = frame(at, "overview_services")
    over = over[over["billing_currency"] == "USD"].set_index("service")
    m = {x.label: x.value for x in at.metric}
    usd_total = 5 * float(fx.RANKER_DAILY + fx.ASSISTANT_DAILY + fx.UNALLOCATED_DAILY)
    assert m["Cost this month (USD)"] == f"{usd_total:,.2f} USD"
    costs = frame(run_page("costs.py", to="2026-11-05"), "budgets")
    costs = costs[(costs["level"] == "service") & (costs["currency"] == "USD")].set_index("name")
    for service, per_day in daily.items():
        assert float(over.loc[service, "month_to_date"]) == pytest.approx(5 * per_day)
        assert costs.loc[service, "month_to_date"] == pytest.approx(5 * per_day)
        assert over.loc[service, "forecast"] == pytest.approx(30 * per_day)
        assert costs.loc[service, "forecast"] == pytest.approx(30 * per_day)
    # the EUR line of 2026-11-05 is on the pinned day itself: counted
    eur = frame(at, "overview_services")
    eur = eur[eur["billing_currency"] == "EUR"].set_index("service")
    assert float(eur.loc["assistant", "month_to_date"]) == pytest.approx(float(fx.EUR_LINE))
    # and the predictions of the month so far: ranker's counter (255 per 6 h) over 5 days, less the
    # first sample of the ranker-v2 series (2026-11-03 12:00: a new series has no increase yet)
    assert float(over.loc["ranker", "requests"]) == (5 * fx.SAMPLES_PER_DAY - 1) * (
        fx.OK_PER_INTERVAL + fx.ERR_PER_INTERVAL)


def test_unit_economics_ledger_has_thousands_separators_and_currency(app_env):
    """The ledger is read as text: counts with thousands separators, money with its currency and
    "—" for a missing ratio; each text read back (commas dropped) is the number kept for download."""
    at = run_page("unit_economics.py", service="ranker", window="30")
    led = frame(at, "ue_ledger")
    assert len(led) >= 2
    big = 0
    for r in led.to_dict("records"):
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", r["predictions_text"]), r["predictions_text"]
        assert int(r["predictions_text"].replace(",", "")) == round(r["predictions"])
        big += r["predictions"] >= 1000
        assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2} USD", r["cost_text"]), r["cost_text"]
        assert float(r["cost_text"][:-4].replace(",", "")) == pytest.approx(float(r["cost"]), abs=0.005)
        per_1k = r["cost_per_1k_predictions_text"]
        assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{4} USD", per_1k), per_1k
    assert big >= 1                               # a count that needs a separator is shown with one
    # all ranker cost lands on its versions: 10.50 a day for the fixture's 17 days
    total = sum(float(t[:-4].replace(",", "")) for t in led["cost_text"])
    assert total == pytest.approx(float(fx.RANKER_DAILY) * fx.DAYS)


def test_time_travel_before_the_loads_says_they_came_later_and_where_the_data_is(app_env):
    """Time travel is what the store knew then: as of a time before any load, the Overview does not
    say "no data yet" but that it was loaded later, where today's data starts and ends (the
    fixture's days, by hand), and how to show those days instead."""
    at = run_page("overview.py", as_of="2026-01-01T00:00:00Z")
    info = " ".join(i.value for i in at.info)
    assert "The store held no cost or traffic data as of 2026-01-01T00:00:00Z:** it was loaded later." in info
    assert f"Today it has data from {fx.FIRST_DAY:%Y-%m-%d} to {fx.LAST_DAY:%Y-%m-%d}." in info
    assert "Days to show" in info and not at.dataframe
