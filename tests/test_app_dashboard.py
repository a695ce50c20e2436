"""Issue 22, the dashboard at a glance, through AppTest over the hand-countable store
(tests/app_helpers.py): dates people can pick, state in the URL, a pinned end day shown as a
clearable chip, links that keep their context, last month early in a month, and charts whose
colours, axes and annotations read right. Expected values come from the fixture's constants."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests import app_helpers as fx

ROOT = Path(__file__).resolve().parents[1]
MAIN = str(ROOT / "app" / "main.py")


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("dashstore"))


@pytest.fixture
def app_env(fixture_store, monkeypatch):
    monkeypatch.setenv("ONEPANE_DB", str(fixture_store.store.db_path))
    monkeypatch.setenv("ONEPANE_CONFIG", str(fixture_store.config_path))
    return fixture_store


def run_page(page: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(f"pages/{page}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def chart(at: AppTest, title: str) -> dict:
    return next(s for s in specs(at) if s["layout"]["title"]["text"].startswith(title))


def reload(at: AppTest, page: str | None = None) -> AppTest:
    """A new session on the URL `at` ended on (as a browser reload does). Also how these tests read
    the sidebar after an interaction: AppTest (1.67) drops the sidebar's elements on a rerun."""
    return run_page(page, **dict(at.query_params))


def params(at: AppTest) -> dict[str, list[str]]:
    return {k: at.query_params[k] if isinstance(at.query_params[k], list) else [at.query_params[k]]
            for k in at.query_params}


def caption_text(at: AppTest) -> str:
    return " ".join(c.value for c in at.sidebar.caption) + " " + " ".join(c.value for c in at.caption)


# ---- dates people can pick ------------------------------------------------------------------
def test_an_absolute_week_is_exactly_its_seven_days(app_env):
    """from=2026-10-26 to=2026-11-01 (both included): the cost chart has those 7 days and no others,
    and the sidebar shows the dates in its from/to pickers."""
    at = run_page(**{"from": "2026-10-26", "to": "2026-11-01"})
    cost = chart(at, "Effective cost per day by service (USD)")
    ranker = next(t for t in cost["data"] if t.get("name") == "ranker")
    days = sorted(x[:10] for x in ranker["x"])
    assert days == [str(date(2026, 10, 26) + timedelta(days=i)) for i in range(7)]
    assert sum(ranker["y"]) == pytest.approx(7 * float(fx.RANKER_DAILY))
    assert at.sidebar.selectbox(key="f_range").value == "custom"
    assert at.sidebar.date_input(key="f_from").value == date(2026, 10, 26)
    assert at.sidebar.date_input(key="f_to").value == date(2026, 11, 1)
    assert "Showing 2026-10-26 to 2026-11-01" in caption_text(at)
    assert "Time travel** shows only what the store had loaded" in caption_text(at)   # the one line


def test_picking_dates_in_the_sidebar_writes_them_to_the_url(app_env):
    at = run_page()
    at.sidebar.selectbox(key="f_range").set_value("custom").run()
    # "from … to …" starts from the days shown (the last 30 days up to the newest data)
    assert at.query_params["to"] == f"{fx.LAST_DAY:%Y-%m-%d}"
    assert at.query_params["from"] == f"{fx.LAST_DAY - timedelta(days=29):%Y-%m-%d}"
    at = reload(at)
    at.sidebar.date_input(key="f_from").set_value(date(2026, 10, 26)).run()
    at = reload(at)
    at.sidebar.date_input(key="f_to").set_value(date(2026, 11, 1)).run()
    assert not at.exception
    assert at.query_params["from"] == "2026-10-26" and at.query_params["to"] == "2026-11-01"
    ranker = next(t for t in chart(at, "Effective cost per day by service (USD)")["data"]
                  if t.get("name") == "ranker")
    assert len(ranker["x"]) == 7
    # back to a preset: the absolute dates go away
    at = reload(at)
    at.sidebar.selectbox(key="f_range").set_value(7).run()
    assert "from" not in at.query_params and "to" not in at.query_params
    assert at.query_params["window"] == "7"


def test_an_empty_range_says_where_the_data_is(app_env):
    at = run_page(**{"from": "2026-09-01", "to": "2026-09-07"})
    text = " ".join(i.value for i in at.info)
    assert "No cost between 2026-09-01 and 2026-09-07" in text
    assert f"runs from {fx.FIRST_DAY:%Y-%m-%d} to {fx.LAST_DAY:%Y-%m-%d}" in text
    assert "yet" not in text


def test_a_url_opens_the_view_it_names(app_env):
    """Every piece of the Service page's state is read from the URL: service, dates, tab and both
    toggles (the browser test checks that clicking writes them and a reload restores them)."""
    fresh = run_page("service.py", service="ranker", tab="Model", wow="true", split="false",
                     **{"from": "2026-10-30", "to": "2026-11-05"})
    assert fresh.selectbox(key="svc_pick").value == "ranker"
    assert fresh.session_state["tab"] == "Model"
    assert fresh.toggle(key="wow").value is True and fresh.toggle(key="split").value is False
    tech = chart(fresh, "Technical health of ranker")
    axes = [k for k in tech["layout"] if k.startswith("xaxis")]
    assert {tuple(tech["layout"][a]["range"]) for a in axes} == {("2026-10-30T00:00:00+00:00",
                                                                  "2026-11-06T00:00:00+00:00")}
    assert {t["name"] for t in tech["data"] if t.get("showlegend", True) and "line" in t} >= {"(all)"}


def test_a_pinned_end_day_shows_as_a_chip_and_clears(app_env):
    """A link pinned to=2026-11-03 (What changed's old links): the sidebar says so, and one click
    goes back to the days up to the newest data."""
    at = run_page(service="ranker", to="2026-11-03", window="7")
    chip = at.sidebar.button(key="f_pin")
    assert chip.label == "× ending 2026-11-03"
    assert "Showing 2026-10-28 to 2026-11-03" in caption_text(at)
    chip.click().run()
    assert not at.exception
    assert "to" not in at.query_params
    at = reload(at)
    assert f"to {fx.LAST_DAY:%Y-%m-%d}" in caption_text(at)
    assert not [b for b in at.sidebar.button if b.key == "f_pin"]


def test_the_service_link_is_centred_on_the_change_and_opens_its_layer(app_env):
    from app.components import filters

    at = datetime(2026, 11, 3, 12, tzinfo=timezone.utc)
    link = filters.service_link("ranker", at, "model", days=7)
    assert link == "service?service=ranker&from=2026-10-31&to=2026-11-06&window=7&tab=Model"
    view = run_page("service.py", **dict(p.split("=") for p in link.split("?")[1].split("&")))
    assert view.tabs[0].label == "Technical"
    assert view.session_state["tab"] == "Model"
    tech = chart(view, "Technical health of ranker")
    # the deploy (2026-11-03 12:00) sits in the middle of the 7 days shown
    lo, hi = (datetime.fromisoformat(x) for x in tech["layout"]["xaxis"]["range"])
    assert lo + (hi - lo) / 2 == datetime(2026, 11, 3, 12, tzinfo=timezone.utc)


def test_early_in_a_month_the_overview_shows_how_last_month_ended(app_env):
    """Through 2026-11-02: October's total (7 days of ranker + assistant + unallocated) against the
    500 USD of budgets, and which services went over (none: ranker 73.50 < 400, assistant 29.75 < 100)."""
    at = run_page(to="2026-11-02")
    m = {x.label: x.value for x in at.metric}
    october = (fx.RANKER_DAILY + fx.ASSISTANT_DAILY + fx.UNALLOCATED_DAILY) * 7
    assert m["Cost last month (USD)"] == f"{october:,.2f} USD"
    assert m["Budgets set (USD, last month)"] == "500.00 USD"
    result = next(x.value for x in at.markdown if x.value.startswith("**Budget result**"))
    assert f"{float(october) / 500:.0%} of budget: within budget" in result and ":green-badge[" in result
    assert any(s.value.startswith("Last month (October 2026)") for s in at.subheader)
    # on the 10th it is no longer "early"
    later = run_page()
    assert not any(s.value.startswith("Last month") for s in later.subheader)


# ---- charts that read right -----------------------------------------------------------------
def colours(spec: dict) -> dict[str, str]:
    out = {}
    for t in spec["data"]:
        c = (t.get("line") or {}).get("color") or (t.get("marker") or {}).get("color")
        if t.get("name") and isinstance(c, str) and t.get("showlegend", True) is not False:
            out[t["name"]] = c
    return out


def test_each_service_keeps_one_colour_across_charts_and_red_is_not_a_series_colour(app_env):
    at = run_page()
    cost = colours(chart(at, "Effective cost per day by service (USD)"))
    reqs = colours(chart(at, "Request rate by service"))
    both = set(cost) & set(reqs)
    assert {"ranker"} <= both
    assert all(cost[s] == reqs[s] for s in both), (cost, reqs)
    shown = {**cost, **reqs}
    assert len({shown[s] for s in ("ranker", "assistant", "fraud") if s in shown}) == len(
        [s for s in ("ranker", "assistant", "fraud") if s in shown])       # distinct services
    assert "#c53030" not in shown.values() and "#e53e3e" not in shown.values()
    # a version keeps its colour with the week-over-week overlay on (dotted, same colour)
    svc = run_page("service.py", service="ranker", wow="true")
    tech = chart(svc, "Technical health of ranker")
    by_name = {t["name"]: t["line"]["color"] for t in tech["data"] if t.get("line")}
    assert by_name["ranker-v2"] == by_name["ranker-v2 (week before)"]
    assert "None" not in by_name


def test_error_rate_axis_starts_at_zero_with_the_slo_line_and_buckets_are_named(app_env):
    at = run_page("service.py", service="ranker", window="7")
    tech = chart(at, "Technical health of ranker")
    titles = [a["text"] for a in tech["layout"]["annotations"]]
    assert "Throughput (predictions per hour)" in titles            # 7 days: hourly buckets
    row = titles.index("Error rate (%)") + 1
    axis = tech["layout"][f"yaxis{row if row > 1 else ''}"]
    assert axis["range"][0] == 0
    slo = [sh for sh in tech["layout"]["shapes"] if sh.get("y0") == 1.0 and sh.get("y1") == 1.0]
    assert slo, "the SLO (slo.error_rate 1 %) is drawn at 1.0 on the error-rate panel"
    assert axis["range"][1] >= 100 * fx.ERR_PER_INTERVAL / (fx.OK_PER_INTERVAL + fx.ERR_PER_INTERVAL)
    month = run_page("service.py", service="ranker", window="30")
    assert any(a["text"] == "Throughput (predictions per day)" for a in
               chart(month, "Technical health of ranker")["layout"]["annotations"])


def test_event_labels_stay_inside_the_plot_and_on_their_service(app_env):
    at = run_page(service="fraud")                                 # fraud has no events
    cost_free = chart(at, "Request rate by service")
    assert not [sh for sh in cost_free["layout"].get("shapes", []) if sh.get("type") == "line"]
    at = run_page()
    reqs = chart(at, "Request rate by service")
    labels = [a for a in reqs["layout"]["annotations"] if a["text"] == "deploy"]
    assert labels and all(a["yanchor"] == "top" and a["y"] == 1 for a in labels)


def test_drift_heatmap_colour_scale_is_anchored_to_the_threshold(app_env):
    """Scores 0.02 .. 0.40 against a threshold of 0.1: the scale runs from 0, and the colour of the
    threshold is where orange starts; below it (0.02, 0.03, 0.05) stays white to pale yellow."""
    at = run_page("model_health.py", service="ranker", version="ranker-v1")
    heat = next(s for s in specs(at) if s["data"][0]["type"] == "heatmap")["data"][0]
    assert heat["zmin"] == 0
    top = max(2 * 0.1, *(v for row in heat["z"] for v in row if v is not None))
    assert heat["zmax"] == pytest.approx(top)
    stops = heat["colorscale"]
    cut = next(p for p, c in stops if c == "#f6ad55")
    assert cut == pytest.approx(0.1 / top, abs=1e-5)
    assert all(c in ("#ffffff", "#fefcbf") for p, c in stops if p < cut - 1e-5)
    assert re.search(r"threshold 0\.1", heat["colorbar"]["title"]["text"])


# ---- lights that tell the truth -------------------------------------------------------------
def test_a_stale_kpi_feed_greys_the_business_light_whatever_its_last_funnel_said():
    """The issue's case: fraud-detector's business light read "ok" with its KPI feed 161 h stale.
    Each light follows its own layer's feed: a stale KPI feed makes the business light "stale"
    while fresh telemetry keeps the technical verdict; a layer without rows says "no data"."""
    from app import health

    ref = datetime(2026, 11, 12, 12, tzinfo=timezone.utc)
    fresh = pl.DataFrame({
        "layer": ["kpis", "telemetry", "requests", "model_health"],
        "service": ["fraud-detector"] * 4,
        "newest_data_at": [ref - timedelta(hours=161), ref - timedelta(hours=2),
                           ref - timedelta(hours=50), ref - timedelta(hours=30)],
        "rows": [10, 10, 10, 0], "late_rows": [0, 0, 0, 0]})
    status = health.freshness_status(fresh, {"fraud-detector": "1d"}, ref)
    assert status.filter(pl.col("layer") == "kpis")["age_hours"].item() == 161
    row = health.lights(pl.DataFrame([{
        "service": "fraud-detector", "error_rate": 0.001, "slo_error_rate": 0.01, "drift_share": 0.1,
        "slo_drift_share": 0.5, "drift_status": "ok", "funnel_rate": 0.031, "funnel_prev_rate": 0.030}]),
        status).row(0, named=True)
    assert row["business"] == "stale" and row["business_age_hours"] == 161    # +3 % funnel, yet stale
    assert row["technical"] == "ok" and row["technical_age_hours"] == 2       # the fresher feed wins
    assert row["model"] == "no data"                                          # no rows at all


def test_no_chart_has_a_none_legend_a_nameless_bucket_or_another_services_events(app_env):
    """Every chart of every page over the fixture (all services, then ranker and fraud on the
    Service page): no legend entry reads None/null/nan, no axis or title says "per bucket" without
    its size, and the deploy of ranker is drawn on no chart of fraud (which has no events)."""
    seen, by_service, charts_of = 0, {}, {}
    for page, query in ((None, {}), ("service.py", {"service": "ranker", "wow": "true"}),
                        ("service.py", {"service": "fraud"}), ("costs.py", {}),
                        ("unit_economics.py", {"service": "ranker"}),
                        ("model_health.py", {"service": "ranker"})):
        for spec in specs(run_page(page, **query)):
            seen += 1
            lay = spec["layout"]
            names = [t.get("name") for t in spec["data"] if t.get("showlegend", True) is not False
                     and t.get("name") is not None]
            assert not {"None", "null", "nan", "NaN"} & set(names), (page, lay["title"]["text"], names)
            texts = [lay["title"]["text"]] + [a.get("text", "") for a in lay.get("annotations", [])] + [
                (lay[k].get("title") or {}).get("text") or "" for k in lay if k.startswith(("xaxis", "yaxis"))]
            assert not [t for t in texts if "per bucket" in t], texts
            dotted = [s for s in lay.get("shapes", []) if s.get("type") == "line"
                      and s.get("line", {}).get("dash") == "dot"]
            if page == "service.py":
                by_service[query["service"]] = by_service.get(query["service"], 0) + len(dotted)
                charts_of[query["service"]] = charts_of.get(query["service"], 0) + 1
            if query.get("service") == "fraud":
                assert not dotted, lay["title"]["text"]
                assert not [a for a in lay.get("annotations", []) if a.get("text") == "deploy"]
    assert seen >= 8 and charts_of["fraud"] >= 1
    assert by_service["ranker"] >= 1 and by_service["fraud"] == 0       # the check can see a deploy


def test_a_version_that_stops_and_returns_has_a_gap_not_a_line_across():
    """A bad deploy and its rollback: v3 serves hours 0-1 and 4-5, v4 hours 2-3. v3's line breaks
    over hours 2-3 (no value there) instead of a straight line across them; v4's ends where it stopped."""
    from app.components import charts

    t = [datetime(2026, 9, 23, h, tzinfo=timezone.utc) for h in range(6)]
    served = {"v3": [0, 1, 4, 5], "v4": [2, 3]}
    df = pl.DataFrame([{"bucket_at": t[h], "model_version": v, "metric": "requests", "value": 100.0 + h}
                       for v, hours in served.items() for h in hours])
    fig = charts.panels(df, [("requests", "Throughput (predictions per hour)", 1)], "T", t[0], t[-1])
    lines = {tr.name: tr for tr in fig.data}
    assert list(lines["v3"].x) == t and list(lines["v3"].y) == [100.0, 101.0, None, None, 104.0, 105.0]
    assert lines["v3"].connectgaps is not True
    assert list(lines["v4"].x) == t[2:4] and list(lines["v4"].y) == [102.0, 103.0]
