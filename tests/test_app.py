"""The dashboard through streamlit.testing.v1.AppTest over a small hand-countable store.

Expected values come from the fixture's constants (tests/app_helpers.py) by plain arithmetic.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests import app_helpers as fx

ROOT = Path(__file__).resolve().parents[1]
MAIN = str(ROOT / "app" / "main.py")
PAGES = ROOT / "app" / "pages"


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("appstore"))


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


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def month_table(at: AppTest):
    return next(d.value for d in at.dataframe if "billing_currency" in d.value.columns)


def ranker_requests_by_day() -> dict:
    """Prometheus increase() by hand: per series, the sum of the steps between samples."""
    out: dict = {}
    prev: dict = {}
    for r in fx.counter_samples().sort("sampled_at").iter_rows(named=True):
        key = r["labels_hash"]
        if key in prev:
            day = r["sampled_at"].date()
            out[day] = out.get(day, 0) + r["value"] - prev[key]
        prev[key] = r["value"]
    return out


# ---- overview -----------------------------------------------------------------------------
def test_overview_month_totals_and_forecast(app_env):
    at = run_page()
    m = metrics(at)
    nov_days = 10                                 # 2026-11-01 .. 2026-11-10 in the fixture
    usd = (fx.RANKER_DAILY + fx.ASSISTANT_DAILY + fx.UNALLOCATED_DAILY) * nov_days
    assert m["Cost this month (USD)"] == f"{usd:,.2f} USD"
    assert m["Forecast for the month (USD)"] == f"{usd / nov_days * 30:,.2f} USD"
    assert m["Budgets set (USD)"] == "500.00 USD"          # ranker 400 + assistant 100
    # EUR is never added to USD. Its one line (11-05) gives 5 complete days before the last day
    # (11-05..11-09), fewer than 7: month-end = month-to-date + their mean day × the 21 days left
    assert m["Cost this month (EUR)"] == f"{fx.EUR_LINE:,.2f} EUR"
    assert m["Forecast for the month (EUR)"] == f"{fx.EUR_LINE + fx.EUR_LINE / 5 * 21:,.2f} EUR"
    assert m["Budgets set (EUR)"] == "none"


def test_overview_cost_per_prediction_per_service(app_env):
    at = run_page()
    table = month_table(at).set_index(["service", "billing_currency"])
    by_day = ranker_requests_by_day()
    nov = sum(v for d, v in by_day.items() if d.month == 11)
    oct_ = sum(v for d, v in by_day.items() if d.month == 10)
    ranker = table.loc[("ranker", "USD")]
    assert ranker["requests"] == nov
    assert float(ranker["cost_per_1k_predictions"]) == pytest.approx(1000 * float(fx.RANKER_DAILY * 10) / nov)
    prev = float(fx.RANKER_DAILY * 7) / oct_                    # 2026-10-25 .. 10-31
    assert float(ranker["cost_per_prediction_change"]) == pytest.approx(
        (float(fx.RANKER_DAILY * 10) / nov) / prev - 1)
    assert float(ranker["forecast_vs_budget"]) == pytest.approx(float(fx.RANKER_DAILY) * 30 / 400)
    assert "service?service=ranker" in ranker["open"] and ranker["open"].endswith("#open")
    # untagged cost is a row of its own, named in words and with no "open service" link: its
    # Details link opens the Costs page, where unallocated cost is a line of its own
    unallocated = table.loc[("__unallocated__", "USD")]
    assert unallocated["shown"] == "untagged cost"
    assert unallocated["open"].startswith("costs?") and unallocated["open"].endswith("#costs")


def test_overview_money_is_readable(app_env):
    """The cells shown (the `_text` columns in the grid's column order) have thousands separators and
    the row's currency, "—" for a missing number (never "None": the grid draws a missing number so,
    whatever a Styler says), and the forecast / budget cell is red where the forecast is over budget
    (assistant: 4.25 x 30 > 100)."""
    at = run_page()
    frame = next(d for d in at.dataframe if "billing_currency" in d.value.columns)
    data = frame.value.data if hasattr(frame.value, "data") else frame.value
    order = list(frame.proto.column_order)
    assert order[0] == "shown" and order[-1] == "open" and all(c.endswith("_text") for c in order[1:-1])
    shown = data[order]
    row = {s: i for i, s in enumerate(zip(data["service"], data["billing_currency"]))}
    by_day = ranker_requests_by_day()
    nov = sum(v for d, v in by_day.items() if d.month == 11)
    ranker = shown.iloc[row[("ranker", "USD")]]
    assert ranker["month_to_date_text"] == f"{fx.RANKER_DAILY * 10:,.2f} USD"
    assert ranker["requests_text"] == f"{nov:,.0f}"
    assert ranker["cost_per_1k_predictions_text"] == f"{1000 * float(fx.RANKER_DAILY * 10) / nov:,.2f} USD"
    eur = shown.iloc[row[("assistant", "EUR")]]
    assert eur["budget_text"] == "—" and eur["forecast_vs_budget_text"] == "—"
    assert shown.notna().all().all(), shown                 # no missing cell: the grid would say None
    assert "None" not in shown.to_string()
    styles = frame.proto.arrow_data.styler.styles
    over = row[("assistant", "USD")]                   # 127.50 forecast against 100 budget
    col = list(data.columns).index("forecast_vs_budget_text")
    assert re.search(rf"#T_\w+_row{over}_col{col}\s*{{[^}}]*background-color: #c53030", styles), styles
    ok = row[("ranker", "USD")]
    assert not re.search(rf"#T_\w+_row{ok}_col{col}\s*{{[^}}]*background-color", styles)


def test_overview_charts_cost_per_day_and_request_rate(app_env):
    at = run_page()
    specs = charts(at)
    titles = [s["layout"]["title"]["text"] for s in specs]
    assert "Effective cost per day by service (USD)" in titles
    assert "Request rate by service (predictions per day)" in titles
    cost = specs[titles.index("Effective cost per day by service (USD)")]
    ranker = next(t for t in cost["data"] if t.get("name") == "ranker")
    assert set(ranker["y"]) == {float(fx.RANKER_DAILY)}
    assert len(ranker["y"]) == fx.DAYS                          # the 30-day window covers all 17 days
    reqs = specs[titles.index("Request rate by service (predictions per day)")]
    fraud = next(t for t in reqs["data"] if t.get("name") == "fraud")
    assert set(fraud["y"]) == {fx.FRAUD_PER_DAY}                # from request logs
    ranker = next(t for t in reqs["data"] if t.get("name") == "ranker")
    assert sum(ranker["y"]) == sum(ranker_requests_by_day().values())
    # ranker's deploy is drawn on every chart that shows ranker, and only there
    for s in specs:
        has_ranker = any(t.get("name") == "ranker" for t in s["data"])
        drawn = any(sh.get("type") == "line" for sh in s["layout"].get("shapes", []))
        assert drawn == has_ranker, s["layout"]["title"]
    assert any(s["layout"]["title"]["text"] == "Effective cost per day by service (EUR)" for s in specs)


def test_overview_service_filter(app_env):
    at = run_page(service="assistant")
    m = metrics(at)
    assert m["Cost this month (USD)"] == f"{fx.ASSISTANT_DAILY * 10:,.2f} USD"
    assert set(month_table(at)["service"]) == {"assistant"}


def test_overview_as_of_before_any_load_explains_time_travel_not_no_data(app_env):
    """Time travel to before the loads: the store knew nothing then, but it has data now; the page
    says so and where the data lies, instead of claiming there is no data yet."""
    at = run_page(as_of="2026-10-31T00:00:00Z")
    text = " ".join(i.value for i in at.info)
    assert "No cost or traffic data yet" not in text
    assert "held no cost or traffic data as of 2026-10-31T00:00:00Z" in text
    assert f"from {fx.FIRST_DAY:%Y-%m-%d} to {fx.LAST_DAY:%Y-%m-%d}" in text
    assert "Days to show" in text


# ---- data health --------------------------------------------------------------------------
def test_data_health_runs_and_failures(app_env):
    at = run_page("data_health.py")
    m = metrics(at)
    # services, bills, prom, fraud-logs, drift, kpis, deploys, kpi-export (failed)
    assert m["Sources"] == "8"
    assert m["Last run failed"] == "1"
    rows = (3 + fx.DAYS * 3 + 1 + len(fx.counter_samples()) + fx.DAYS * fx.FRAUD_PER_DAY
            + fx.DAYS * (1 + len(fx.FEATURES)) + fx.DAYS * 2 + 1)
    assert m["Rows loaded"] == f"{rows:,}"
    failures = at.dataframe[2].value
    assert failures["error"].tolist() == ["kpis.csv:3:2: not a number: 'abc'"]
    assert failures["source_file"].tolist() == ["kpis.csv"]
    fresh = at.dataframe[0].value.set_index(["layer", "service"])
    assert fresh.loc[("requests", "fraud"), "rows"] == fx.DAYS * fx.FRAUD_PER_DAY
    assert fresh.loc[("cost", "ranker"), "freshness_slo"] == "2d"      # from the ranker's slo
    assert fresh.loc[("cost", "assistant"), "freshness_slo"] == "1d"   # the default
    # the fixture's data ended 2026-11-11, long before the test runs: stale, except the event log
    assert fresh.loc[("cost", "ranker"), "status"] == "stale"
    assert fresh.loc[("events", "ranker"), "status"].startswith("n/a")
    assert m["Stale"] == str(len(fresh) - 1)


def test_data_health_as_of_hides_later_failure(app_env):
    at = run_page("data_health.py", as_of=app_env.loaded_before_failure.isoformat())
    m = metrics(at)
    assert m["Last run failed"] == "0"
    assert m["Sources"] == "7"
    assert any("No failed collector runs" in s.value for s in at.success)


# ---- empty store: every page says how to collect, never an error --------------------------
@pytest.fixture
def empty_env(store, tmp_path, monkeypatch):
    monkeypatch.setenv("ONEPANE_DB", str(store.db_path))
    monkeypatch.delenv("ONEPANE_CONFIG", raising=False)
    return store


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.py")))
def test_every_page_has_an_empty_state(empty_env, page):
    at = run_page(page)
    text = " ".join(i.value for i in at.info)
    assert "yet" in text and "onepane " in text, text
    # the page stopped early and the run still ended with its marker (the browser tests wait on
    # it): the second run of this session, the first being the default page
    assert list(at.main)[-1].proto.body == '<div data-onepane-run="2" hidden></div>'



def test_missing_store_is_explained_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ONEPANE_DB", str(tmp_path / "nothing.duckdb"))
    monkeypatch.delenv("ONEPANE_CONFIG", raising=False)
    at = run_page()
    assert any("onepane demo" in w.value for w in at.sidebar.warning)
    assert any("onepane ingest billing" in i.value for i in at.info)
    assert not (tmp_path / "nothing.duckdb").exists(), "the app never creates or writes the store"


# ---- conventions --------------------------------------------------------------------------
SQL_WORDS = re.compile(r"\b(SELECT|FROM|GROUP BY|JOIN)\b[^\n]*\b(FROM|WHERE|BY|ON)\b")


@pytest.mark.parametrize("page", sorted(PAGES.glob("*.py")), ids=lambda p: p.name)
def test_pages_contain_no_sql_and_no_duckdb(page):
    text = page.read_text(encoding="utf-8")
    assert "duckdb" not in text, f"{page.name} imports or mentions duckdb"
    assert "metrics.store" not in text and "metrics.queries" not in text, "pages go through app/data.py"
    assert not SQL_WORDS.search(text), f"{page.name} contains SQL: {SQL_WORDS.search(text).group(0)}"


# ---- service ------------------------------------------------------------------------------
def test_service_page_three_panes_share_axis_and_events(app_env):
    at = run_page("service.py", service="ranker")
    assert at.selectbox(key="svc_pick").value == "ranker"
    specs = charts(at)
    tech = next(s for s in specs if s["layout"]["title"]["text"] == "Technical health of ranker")
    # error rate per day by hand: 5 of 255 per interval, in percent
    err = [t for t in tech["data"] if t["hovertemplate"].endswith("<extra>Error rate (%)</extra>")]
    values = {round(v, 6) for t in err for v in t["y"]}
    assert values == {round(100 * fx.ERR_PER_INTERVAL / (fx.OK_PER_INTERVAL + fx.ERR_PER_INTERVAL), 6)}
    assert {t["name"] for t in err} == {"ranker-v1", "ranker-v2"}          # split by version
    # every panel shares the window's axis and carries the deploy line
    axes = [k for k in tech["layout"] if k.startswith("xaxis")]
    assert len({tuple(tech["layout"][a]["range"]) for a in axes}) == 1
    deploys = [sh for sh in tech["layout"]["shapes"] if sh["type"] == "line" and sh["x0"] == sh["x1"]
               and str(sh["x0"]).startswith(fx.DEPLOY_AT.strftime("%Y-%m-%dT%H:%M"))]
    assert len(deploys) == len(axes)
    model = next(s for s in specs if s["layout"]["title"]["text"].startswith("Model health of ranker"))
    drift = [v for t in model["data"] for v in t["y"]]
    assert sorted(set(drift)) == [0.1, 0.6]
    assert any(sh["type"] == "line" for sh in model["layout"]["shapes"])


def test_service_page_version_split_off_merges_versions(app_env):
    at = run_page("service.py", service="ranker")
    at.toggle(key="split").set_value(False).run()
    assert not at.exception
    tech = next(s for s in charts(at) if s["layout"]["title"]["text"] == "Technical health of ranker")
    names = {t["name"] for t in tech["data"] if t.get("hovertemplate", "").endswith("(predictions per day)</extra>")}
    assert names == {"(all)"}


def test_service_page_week_over_week_overlay(app_env):
    at = run_page("service.py", service="fraud")
    at.toggle(key="wow").set_value(True).run()
    tech = next(s for s in charts(at) if s["layout"]["title"]["text"] == "Technical health of fraud")
    names = {t["name"] for t in tech["data"]}
    assert {"fraud-v7", "fraud-v7 (week before)"} <= names
    # the shifted week lands on this window's axis: its first point is 7 days after the data start
    before = next(t for t in tech["data"] if t["name"] == "fraud-v7 (week before)")
    assert min(before["x"]).startswith(str((fx.FIRST_DAY + timedelta(days=7)).date()))


# ---- unit economics -----------------------------------------------------------------------
def test_unit_economics_lift_and_instant_what_if(app_env):
    at = run_page("unit_economics.py", service="ranker")
    m = metrics(at)
    rate = {v: c / fx.IMPRESSIONS_PER_DAY for v, c in fx.CLICKS_PER_DAY.items()}
    lift_bp = (rate["ranker-v2"] - rate["ranker-v1"]) * 10_000
    assert m["Lift of ranker-v2 over ranker-v1 (clicks per impressions)"] == f"{lift_bp:,.1f} bp"
    ledger = at.dataframe[0].value.set_index("model_version")
    assert ledger.loc["ranker-v1", "kpi_rate"] == pytest.approx(rate["ranker-v1"])
    assert ledger.loc["ranker-v2", "kpi_rate"] == pytest.approx(rate["ranker-v2"])
    # all ranker cost lands on its versions: 10.50 a day for 17 days
    assert float(ledger["cost"].astype(float).sum()) == pytest.approx(float(fx.RANKER_DAILY) * fx.DAYS)
    base = at.dataframe[1].value.set_index("measure")
    assert base.loc["Daily cost", "today"] == pytest.approx(float(fx.RANKER_DAILY))
    assert (base["today"] == base["scenario"]).all()          # no change, same numbers
    # the controls recompute: prices +10 %, traffic +100 %
    at.slider(key="ue_price").set_value(10).run()
    at.slider(key="ue_traffic").set_value(100).run()
    assert not at.exception
    after = at.dataframe[1].value.set_index("measure")
    assert after.loc["Predictions per day", "scenario"] == pytest.approx(2 * base.loc["Predictions per day", "today"])
    # cost = (fixed + variable x predictions) x 1.1 >= today's cost x 1.1, <= twice that
    cost = after.loc["Daily cost", "scenario"]
    assert 1.1 * float(fx.RANKER_DAILY) - 1e-9 <= cost <= 2.2 * float(fx.RANKER_DAILY) + 1e-9
    at.slider(key="ue_kpi_drop").set_value(100).run()
    gone = at.dataframe[1].value.set_index("measure")
    assert gone.loc["Lift of B over A (bp)", "scenario"] == pytest.approx(0, abs=1e-9)   # no lift left


# ---- costs --------------------------------------------------------------------------------
def test_costs_allocation_budgets_and_invoices(app_env):
    at = run_page("costs.py")
    frames = [d.value for d in at.dataframe]
    totals = next(t for t in frames if "line" in t.columns and "ranker" in set(t["service"]))
    by_service = totals.groupby("service")["effective_cost"].apply(lambda s: sum(float(x) for x in s))
    assert by_service["ranker"] == pytest.approx(float(fx.RANKER_DAILY) * fx.DAYS)
    assert by_service["__unallocated__"] == pytest.approx(float(fx.UNALLOCATED_DAILY) * fx.DAYS)
    budgets = next(t for t in frames if "forecast_low" in t.columns).set_index("name")
    assert budgets.loc["ranker", "month_to_date"] == pytest.approx(float(fx.RANKER_DAILY) * 10)
    assert budgets.loc["ranker", "budget"] == 400
    inv = next(t for t in frames if "estimated_lines" in t.columns)
    usd_nov = inv[(inv["billing_currency"] == "USD") & (inv["billing_month"].dt.month == 11)]
    assert float(usd_nov["estimated"].iloc[0]) == pytest.approx(
        float(fx.RANKER_DAILY + fx.ASSISTANT_DAILY + fx.UNALLOCATED_DAILY) * 10)   # no invoice ids yet
    m = metrics(at)
    before, after = (float(m[f"{k} (USD)"].split()[0].replace(",", "")) for k in ("Before", "After"))
    parts = sum(float(m[f"{k} (USD)"].split()[0].replace(",", "")) for k in ("Price", "Volume", "Mix"))
    assert parts == pytest.approx(after - before)              # the decomposition adds up
    # month over month: 2026-11-01..10 against 2026-10-01..10 (no bills yet then)
    assert after == pytest.approx(float(fx.RANKER_DAILY + fx.ASSISTANT_DAILY + fx.UNALLOCATED_DAILY) * 10)
    assert before == 0


def test_costs_allocate_by_team(app_env):
    at = run_page("costs.py")
    at.radio(key="costs_by").set_value("team").run()
    teams = set().union(*(set(d.value["team"]) for d in at.dataframe if "team" in d.value.columns))
    assert {"search", "support"} <= teams


# ---- model health -------------------------------------------------------------------------
def test_model_health_heatmap_is_features_by_window(app_env):
    at = run_page("model_health.py", service="ranker")
    at.radio(key="version").set_value("ranker-v2").run()
    heat = next(s for s in charts(at) if s["data"][0]["type"] == "heatmap")["data"][0]
    assert heat["y"] == sorted(fx.FEATURES)
    after_days = sum(1 for d in fx.days() if d >= fx.DEPLOY_AT)
    assert len(heat["x"]) == after_days
    for feature, row in zip(heat["y"], heat["z"]):
        assert set(row) == {fx.FEATURES[feature][1]}


# ---- what changed -------------------------------------------------------------------------
def test_what_changed_ranks_the_deploy_and_links_to_the_service_page(app_env):
    at = run_page("what_changed.py", service="ranker")
    at.date_input(key="wc_date").set_value(fx.DEPLOY_AT.date() + timedelta(days=1)).run()
    at.time_input(key="wc_time").set_value(fx.DEPLOY_AT.time()).run()
    at.selectbox(key="wc_window").set_value("1d").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "deploy" in text and "ranker-v2" in text, text
    # the link opens the Service page in this tab, centred on the deploy (2026-11-03 12:00)
    links = [e.proto for e in at.get("page_link")]
    deploy = next(p for p in links if "2026-11-03" in p.label)
    assert "service" in deploy.page and not deploy.external
    assert "service=ranker&from=2026-10-31&to=2026-11-06&window=7" in deploy.query_string


BADGE = re.compile(r":(\w+)-badge\[([^\]]+)\]")


def lights_table(at: AppTest) -> dict[str, dict[str, tuple[str, str]]]:
    """The Overview's lights, from its markdown table: service -> layer -> (colour, word)."""
    md = next(m.value for m in at.markdown if m.value.startswith("| Service | Technical"))
    out = {}
    for line in md.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        service = re.match(r"\[([^\]]+)\]", cells[0]).group(1)
        out[service] = {layer: BADGE.search(cell).groups()
                        for layer, cell in zip(("technical", "model", "business"), cells[1:])}
    return out


def test_overview_traffic_lights(app_env, monkeypatch):
    monkeypatch.setenv("ONEPANE_NOW", "2026-11-11T06:00:00Z")     # every feed of the fixture is fresh
    at = run_page()
    lights = lights_table(at)
    # ranker: 5 errors per 255 requests against slo.error_rate 1 %
    err = fx.ERR_PER_INTERVAL / (fx.OK_PER_INTERVAL + fx.ERR_PER_INTERVAL)
    assert err > 0.01 and lights["ranker"]["technical"] == ("red", "✖ breach")
    # newest drift window is 'drifted'
    assert lights["ranker"]["model"] == ("red", "✖ breach")
    # funnel: the last 7 days are all ranker-v2 (330/10k); the week before mixes v1 and v2
    assert lights["ranker"]["business"] == ("green", "● ok")
    # fraud: 2 of 40 fail, the default SLO is 1 %
    assert lights["fraud"]["technical"] == ("red", "✖ breach")
    assert lights["assistant"]["technical"] == ("gray", "– no data")
    assert "__unallocated__" not in lights


def test_overview_stale_feed_greys_its_light(app_env, monkeypatch):
    """fraud's newest request log is 2026-11-10 19:30 (40 a day, every 30 minutes from midnight); at
    2026-11-12 11:30 it is 40 h old, over the default 1-day freshness SLO: its technical light is
    grey "stale" although its last error rate breached. ranker's feeds (slo.freshness 2d) are at
    most 41.5 h old there (last sample 18:00): still judged."""
    monkeypatch.setenv("ONEPANE_NOW", "2026-11-12T11:30:00Z")
    at = run_page()
    lights = lights_table(at)
    assert lights["fraud"]["technical"] == ("gray", "◷ stale")
    md = next(m.value for m in at.markdown if m.value.startswith("| Service | Technical"))
    assert "newest data 40 h old" in next(line for line in md.splitlines() if line.startswith("| [fraud]"))
    assert lights["ranker"]["technical"] == ("red", "✖ breach")
    assert lights["ranker"]["business"] == ("green", "● ok")
    # Data health, same clock, says the same thing (one definition of fresh)
    health = run_page("data_health.py")
    fresh = health.dataframe[0].value.set_index(["layer", "service"])
    assert fresh.loc[("requests", "fraud"), "status"] == "stale"
    assert fresh.loc[("telemetry", "ranker"), "status"] == "fresh"
    assert fresh.loc[("kpis", "ranker"), "status"] == "fresh"


def test_auth_configured_requires_login_before_any_page(app_env, tmp_path, monkeypatch):
    cfg = tmp_path / "auth.toml"
    cfg.write_text(fx.CONFIG + '\n[auth]\nprovider = "company-sso"\n', encoding="utf-8")
    monkeypatch.setenv("ONEPANE_CONFIG", str(cfg))
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.metric and not at.get("plotly_chart"), "no data before login"


def test_unit_economics_never_shows_infinite_ratios(app_env):
    at = run_page("unit_economics.py")
    ledger = at.dataframe[0].value
    assistant = ledger[ledger["service"] == "assistant"]          # cost, but no predictions measured
    assert assistant["cost_per_prediction"].isna().all()
    assert not (ledger.select_dtypes("number").abs() == float("inf")).any().any()


def test_what_changed_jumps_to_a_change_event(app_env):
    at = run_page("what_changed.py", service="ranker")
    at.selectbox(key="wc_event").set_value(0).run()             # the deploy of ranker-v2
    assert not at.exception and not at.warning
    assert at.date_input(key="wc_date").value == (fx.DEPLOY_AT + timedelta(days=1)).date()
    assert "deploy" in " ".join(m.value for m in at.markdown)


def test_what_changed_defaults_to_the_latest_firing_alert(tmp_path, monkeypatch):
    import polars as pl

    from metrics.lake import Load

    f = fx.build(tmp_path)
    fired = fx.DEPLOY_AT + timedelta(hours=6)
    with Load(f.store, "raw_alert_state", collector="alerts", source="check") as load:
        load.write(pl.DataFrame([
            {"alert_key": "slo_burn:ranker", "rule": "slo_burn", "subject": "ranker", "status": "firing",
             "severity": "page", "summary": "error budget burning", "changed_at": fired},
            {"alert_key": "budget:fraud", "rule": "budget_forecast", "subject": "fraud", "status": "firing",
             "severity": "ticket", "summary": "x", "changed_at": fired + timedelta(days=2)}]))
    monkeypatch.setenv("ONEPANE_DB", str(f.store.db_path))
    monkeypatch.setenv("ONEPANE_CONFIG", str(f.config_path))
    at = run_page("what_changed.py", service="ranker")
    assert at.date_input(key="wc_date").value == fired.date()
    assert at.time_input(key="wc_time").value == fired.time()
    assert any("latest firing alert" in c.value for c in at.caption)
