"""The unit-economics ledger on hand-computed fixtures: every expected number is plain arithmetic
on the rows written in the test."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from metrics.config import parse_settings
from metrics.ledger import team_economics, unit_economics
from tests.ledger_helpers import put_costs, put_counter, put_kpis, put_requests

SERVICES = [
    {"name": "search", "team": "discovery", "model_versions": ["v1", "v2"], "baseline_version": "v1",
     "kpis": ["impressions", "purchases"],
     "funnel": {"action": "purchases", "denominator": "impressions", "attribution_window": "1d"}},
    {"name": "chat", "team": "discovery", "kind": "llm", "model_versions": ["c1"]},
]
CONFIG = parse_settings({"services": SERVICES})


def approx(x):
    return pytest.approx(float(x), rel=1e-12)


@pytest.fixture
def ledger_store(store, tmp_path):
    # search (USD): direct cost per version + untagged service cost spread by predictions
    put_costs(store, [
        ("2026-01-01", "search", "v1", "USD", "10.00", "11.00"),
        ("2026-01-01", "search", "v2", "USD", "15.00", "15.00"),
        ("2026-01-01", "search", None, "USD", "3.00", "3.00"),
        ("2026-01-02", "search", "v1", "USD", "8.00", "8.00"),
        ("2026-01-02", "search", "v2", "USD", None, "6.00"),      # no effective cost: billed used
        ("2026-01-03", "search", "v1", "USD", "9.00", "9.00"),
        ("2026-01-03", "search", "v2", "USD", "4.00", "4.00"),
        ("2026-01-01", "chat", "c1", "EUR", "2.00", "2.00"),
        ("2026-01-02", "chat", "c1", "EUR", "2.00", "2.00"),
        ("2026-01-03", "chat", "c1", "EUR", "2.00", "2.00"),
    ])
    put_requests(store, {("2026-01-01", "search", "v1"): 100, ("2026-01-01", "search", "v2"): 50,
                         ("2026-01-02", "search", "v1"): 80, ("2026-01-02", "search", "v2"): 40,
                         ("2026-01-03", "search", "v1"): 90, ("2026-01-03", "search", "v2"): 10})
    # chat has no request log: predictions from the counter, flat on day 2, reset on day 3
    put_counter(store, "chat", "c1", [("2026-01-01T00:00:00Z", 0), ("2026-01-01T08:00:00Z", 10),
                                      ("2026-01-01T16:00:00Z", 25), ("2026-01-02T08:00:00Z", 25),
                                      ("2026-01-02T16:00:00Z", 25), ("2026-01-03T08:00:00Z", 5),
                                      ("2026-01-03T16:00:00Z", 12)])
    put_kpis(store, tmp_path, [
        ("2026-01-01", "search", "v1", "impressions", 1000), ("2026-01-01", "search", "v1", "purchases", 30),
        ("2026-01-01", "search", "v2", "impressions", 500), ("2026-01-01", "search", "v2", "purchases", 20),
        ("2026-01-02", "search", "v1", "impressions", 800), ("2026-01-02", "search", "v1", "purchases", 24),
        ("2026-01-02", "search", "v2", "impressions", 400), ("2026-01-02", "search", "v2", "purchases", 8),
        ("2026-01-03", "search", "v1", "impressions", 900), ("2026-01-03", "search", "v1", "purchases", 18),
        ("2026-01-03", "search", "v2", "impressions", 100), ("2026-01-03", "search", "v2", "purchases", 0),
    ], CONFIG)
    return store


def _rows(df):
    return {(r["service"], r["model_version"], r["day"].isoformat()): r for r in df.to_dicts()}


def test_cost_per_prediction_and_improved_action(ledger_store):
    rows = _rows(unit_economics(ledger_store, CONFIG, service="search"))
    # day 1: the untagged 3.00 is spread 100:50 -> 2.00 to v1, 1.00 to v2
    v1, v2 = rows[("search", "v1", "2026-01-01")], rows[("search", "v2", "2026-01-01")]
    assert v1["cost"] == Decimal("10.00") + Decimal("3.00") * 100 / 150
    assert v2["cost"] == Decimal("15.00") + Decimal("3.00") * 50 / 150
    assert v1["currency"] == v2["currency"] == "USD"
    assert v1["predictions"] == 100 and v2["predictions"] == 50
    assert v1["cost_per_prediction"] == approx(12 / 100)
    assert v2["cost_per_1k_predictions"] == approx(1000 * 16 / 50)
    # funnel: baseline rate 30/1000; v2's incremental purchases 20 - 500 * 0.03 = 5
    assert v2["funnel_actions"] == 20 and v2["improved_actions"] == approx(20 - 500 * 30 / 1000)
    assert v2["cost_per_improved_action"] == approx(16 / 5)
    assert v2["cost_per_funnel_action"] == approx(16 / 20)
    assert v1["improved_actions"] == 0 and v1["cost_per_improved_action"] is None   # the baseline


def test_negative_lift_and_no_conversions_stay_empty(ledger_store):
    rows = _rows(unit_economics(ledger_store, CONFIG, service="search"))
    d2 = rows[("search", "v2", "2026-01-02")]
    assert d2["improved_actions"] == approx(8 - 400 * 24 / 800)          # = -4
    assert d2["cost_per_improved_action"] is None and "negative lift" in d2["note"]
    # effective cost missing: the billed 6.00 is used and flagged
    assert d2["cost"] == Decimal("6.00") and d2["used_billed_cost"]
    d3 = rows[("search", "v2", "2026-01-03")]
    assert d3["funnel_actions"] == 0
    assert d3["cost_per_funnel_action"] is None                         # no conversions: empty, not inf
    assert d3["improved_actions"] == approx(0 - 100 * 18 / 900)
    assert d3["cost_per_improved_action"] is None


def test_counter_increases_zero_traffic_and_reset(ledger_store):
    rows = _rows(unit_economics(ledger_store, CONFIG, service="chat"))
    d1, d2, d3 = (rows[("chat", "c1", f"2026-01-0{i}")] for i in (1, 2, 3))
    assert d1["predictions"] == (10 - 0) + (25 - 10)
    assert d1["cost_per_prediction"] == approx(2 / 25)
    assert d2["predictions"] == 0 and d2["cost_per_prediction"] is None
    assert "zero traffic" in d2["note"]
    # reset on day 3: 25 -> 5 counts 5 (restart from zero), then 5 -> 12 counts 7
    assert d3["predictions"] == 5 + 7 and d3["cost_per_prediction"] == approx(2 / 12)
    assert d1["currency"] == "EUR" and d1["funnel_actions"] is None
    assert d1["predictions_source"] == "telemetry"


def test_currencies_never_summed_without_fx(ledger_store):
    team = team_economics(ledger_store, CONFIG)
    d1 = {r["currency"]: r for r in team.filter(team["day"] == date(2026, 1, 1)).to_dicts()}
    assert set(d1) == {"USD", "EUR"}
    assert d1["USD"]["cost"] == Decimal("28.00") and d1["EUR"]["cost"] == Decimal("2.00")


def test_fx_converts_to_reporting_currency_and_says_so(ledger_store):
    cfg = parse_settings({"services": SERVICES, "fx": {"EUR": "1.10"}, "reporting_currency": "USD"})
    rows = _rows(unit_economics(ledger_store, cfg, service="chat"))
    d1 = rows[("chat", "c1", "2026-01-01")]
    assert d1["currency"] == "USD" and d1["cost"] == Decimal("2.00") * Decimal("1.10")
    assert d1["fx_converted"] and "converted to reporting currency" in d1["note"]
    team = team_economics(ledger_store, cfg)
    d = team.filter(team["day"] == date(2026, 1, 1)).to_dicts()
    assert len(d) == 1 and d[0]["cost"] == Decimal("28.00") + Decimal("2.20")
    assert d[0]["predictions"] == 150 + 25


def test_attribution_window_widens_the_baseline(ledger_store):
    cfg = parse_settings({"services": [dict(SERVICES[0], funnel={
        "action": "purchases", "denominator": "impressions", "attribution_window": "2d"})]})
    rows = _rows(unit_economics(ledger_store, cfg, service="search"))
    rate = (30 + 24) / (1000 + 800)                    # baseline over days 1 and 2
    assert rows[("search", "v2", "2026-01-02")]["baseline_rate"] == approx(rate)
    assert rows[("search", "v2", "2026-01-02")]["improved_actions"] == approx(8 - 400 * rate)


def test_missing_funnel_kpi_is_flagged_not_zero(store, tmp_path):
    put_costs(store, [("2026-01-01", "search", "v1", "USD", "5", "5")])
    put_requests(store, {("2026-01-01", "search", "v1"): 10})
    r = put_kpis(store, tmp_path, [("2026-01-01", "search", "v1", "impressions", 100)], CONFIG)
    assert any("purchases" in w for w in r.warnings)
    row = unit_economics(store, CONFIG, service="search").to_dicts()[0]
    assert row["funnel_actions"] is None and row["cost_per_funnel_action"] is None
    assert "funnel action KPI missing" in row["note"]


def test_as_of_reproduces_figures_before_a_restatement(ledger_store):
    before = ledger_store.query("SELECT max(finished_at) AS t FROM _onepane_loads")["t"][0]
    put_costs(ledger_store, [("2026-01-01", "chat", "c1", "EUR", "4.00", "4.00")], scope="bill",
              supersede=True)
    now = _rows(unit_economics(ledger_store, CONFIG, service="chat"))
    old = _rows(unit_economics(ledger_store, CONFIG, service="chat", as_of=before))
    assert now[("chat", "c1", "2026-01-01")]["cost"] == Decimal("4.00")
    assert ("chat", "c1", "2026-01-02") not in now or now[("chat", "c1", "2026-01-02")]["cost"] is None
    assert old[("chat", "c1", "2026-01-01")]["cost"] == Decimal("2.00")


def test_cli_unit_economics_json_and_csv(ledger_store, run_cli, tmp_path):
    cfg = tmp_path / "onepane.toml"
    cfg.write_text("""
[[services]]
name = "search"
team = "discovery"
baseline_version = "v1"
[services.funnel]
action = "purchases"
denominator = "impressions"
""")
    out = run_cli("unit-economics", "--service", "search", "--from", "2026-01-01", "--to", "2026-01-02",
                  "--format", "json", "--db", ledger_store.db_path, "--config", cfg, check=True)
    rows = json.loads(out.stdout)
    assert [r["model_version"] for r in rows] == ["v1", "v2"]
    for col in ("service", "model_version", "day", "currency", "cost", "predictions",
                "cost_per_prediction", "funnel_actions", "improved_actions", "cost_per_improved_action"):
        assert col in rows[0]
    assert rows[0]["cost_per_improved_action"] is None
    assert rows[1]["cost_per_improved_action"] == pytest.approx(16 / 5)
    csv_out = run_cli("unit-economics", "--service", "search", "--format", "csv",
                      "--db", ledger_store.db_path, "--config", cfg, check=True).stdout
    lines = csv_out.splitlines()
    assert lines[0].startswith("service,model_version,day,currency,cost,predictions,cost_per_prediction")
    assert len(lines) == 1 + 6
    assert ",inf" not in csv_out.lower() and ",nan" not in csv_out.lower()


def test_variants_map_to_versions_through_the_experiment_event(store, tmp_path):
    from collectors.events import add_event
    from collectors.kpi import ingest_kpis

    add_event(store, kind="experiment_start", service="search", model_version="v2",
              at="2026-01-01T00:00:00Z", attributes={"control": "v1", "treatment": "v2"})
    put_costs(store, [("2026-01-02", "search", "v1", "USD", "10", "10"),
                      ("2026-01-02", "search", "v2", "USD", "12", "12")])
    p = tmp_path / "ab.csv"
    p.write_text("time,service,variant,kpi,value\n"
                 "2026-01-02,search,control,impressions,1000\n2026-01-02,search,control,purchases,30\n"
                 "2026-01-02,search,treatment,impressions,1000\n2026-01-02,search,treatment,purchases,40\n")
    ingest_kpis(store, p, config=CONFIG)
    rows = _rows(unit_economics(store, CONFIG, service="search"))
    v2 = rows[("search", "v2", "2026-01-02")]
    assert v2["funnel_actions"] == 40 and v2["improved_actions"] == approx(40 - 1000 * 30 / 1000)
    assert v2["cost_per_improved_action"] == approx(12 / 10)
    assert rows[("search", "v1", "2026-01-02")]["improved_actions"] == 0
