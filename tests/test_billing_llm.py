"""LLM vendor bills, token-cost estimates from a genai-prices table, reconciliation, GPU-hour price.

Fixtures follow the vendors' documented admin API schemas (tests/fixtures/billing/README.md);
prices are read from the shared genai-prices table by plain dict lookups and multiplied here.
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from collectors.billing import gpu_hour_price, ingest_billing
from collectors.billing.llm_prices import PriceTable, estimate, reconcile
from metrics.config import parse_settings
from tests.billing_helpers import FOCUS_HEADER, focus_row, write_csv

FIX = Path(__file__).parent / "fixtures" / "billing"


def _model_prices(shared, provider, model_id):
    data = json.loads((shared / "pricing" / "genai-prices-v2-data_slim.json").read_text())
    prov = next(p for p in data if p["id"] == provider)
    return next(m for m in prov["models"] if m["id"] == model_id)["prices"]


def test_openai_costs_and_usage_become_focus_rows(store):
    ingest_billing(store, [FIX / "openai_costs.json", FIX / "openai_usage_completions.json"])
    cost = store.query("SELECT BillingCurrency AS c, sum(BilledCost) AS t FROM focus "
                       "WHERE BilledCost IS NOT NULL GROUP BY 1").to_dicts()
    assert cost == [{"c": "USD", "t": Decimal("0.06") + Decimal("1.2345678901") + Decimal("0.5")}]
    skus = store.query("SELECT DISTINCT SkuId FROM focus WHERE BilledCost IS NOT NULL ORDER BY 1")["SkuId"].to_list()
    assert skus == ["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"]
    usage = dict(store.query("SELECT SkuPriceId, PricingQuantity FROM focus WHERE PricingUnit = 'Tokens'").iter_rows())
    assert usage == {"gpt-4o-2024-08-06:input": 1000000, "gpt-4o-2024-08-06:input_cached": 500000,
                     "gpt-4o-2024-08-06:output": 200000}
    start = store.query("SELECT min(ChargePeriodStart) AS s FROM focus")["s"][0]
    assert start.isoformat() == "2026-09-01T00:00:00+00:00"      # 1788220800


def test_anthropic_cost_amount_is_cents(store):
    ingest_billing(store, [FIX / "anthropic_cost_report.json"])
    assert store.query("SELECT sum(BilledCost) AS t FROM focus")["t"][0] == Decimal("11.2345")


def test_estimate_tiers_and_dated_prices(shared):
    table = PriceTable.load(shared / "pricing" / "genai-prices-v2-data_slim.json")
    p = _model_prices(shared, "anthropic", "claude-sonnet-4-5")
    base_in, tier_in = Decimal(str(p["input_mtok"]["base"])), Decimal(str(p["input_mtok"]["tiers"][0]["price"]))
    small = estimate(table, "claude-sonnet-4-5-20250929", {"input": 1000}, requests=1, provider="anthropic")
    big = estimate(table, "claude-sonnet-4-5-20250929", {"input": 300000}, requests=1, provider="anthropic")
    assert small["cost"] == 1000 * base_in / 1_000_000
    assert big["cost"] == 300000 * tier_in / 1_000_000
    # dated price list: the entry whose start_date is in force wins
    dated = _model_prices(shared, "openrouter", "anthropic/claude-sonnet-5")
    before, after = dated[0]["prices"]["input_mtok"], dated[1]["prices"]["input_mtok"]
    start = dated[1]["constraint"]["start_date"]
    from datetime import date, timedelta
    d0 = date.fromisoformat(start) - timedelta(days=1)
    e0 = estimate(table, "anthropic/claude-sonnet-5", {"input": 10**6}, at=d0, provider="openrouter")
    e1 = estimate(table, "anthropic/claude-sonnet-5", {"input": 10**6}, at=date.fromisoformat(start), provider="openrouter")
    assert (e0["cost"], e1["cost"]) == (Decimal(str(before)), Decimal(str(after)))
    assert estimate(table, "no-such-model-xyz", {"input": 5})["cost"] is None


def test_reconcile_estimate_against_bill(store, shared):
    ingest_billing(store, [FIX / "anthropic_usage_messages.json", FIX / "anthropic_cost_report.json"])
    table = PriceTable.load(shared / "pricing" / "genai-prices-anthropic.yml")
    p = _model_prices(shared, "anthropic", "claude-sonnet-4-0")
    expected = (41150 * Decimal(str(p["input_mtok"])) + 3350 * Decimal(str(p["output_mtok"]))
                + 500 * Decimal(str(p["cache_read_mtok"])) + 2000 * Decimal(str(p["cache_write_mtok"]))
                + 1000 * Decimal(str(p["cache_write_1h_mtok"]))) / 1_000_000
    rows = reconcile(store, table)
    assert len(rows) == 1
    r = rows[0]
    assert r["model"] == "claude-sonnet-4-20250514" and r["estimated"] == expected
    assert r["billed"] == Decimal("11.2345") and r["difference"] == Decimal("11.2345") - expected


def test_gpu_hour_price_from_config_then_from_bill(store, tmp_path):
    cfg = parse_settings({"pricing": {"gpu_hour": "2.75", "currency": "EUR"}})
    assert gpu_hour_price(store, cfg) == (Decimal("2.75"), "EUR")
    header = FOCUS_HEADER + ["PricingQuantity", "PricingUnit", "SkuId"]
    rows = [focus_row("98.32") + ["3", "Hours", "p4d.24xlarge"],
            focus_row("10") + ["100", "GB-Mo", "storage"],
            focus_row("32.77") + ["1", "Hours", "p4d.24xlarge"]]
    ingest_billing(store, [write_csv(tmp_path / "gpu.csv", rows, header)])
    price, cur = gpu_hour_price(store, parse_settings({}))
    assert (price, cur) == ((Decimal("98.32") + Decimal("32.77")) / 4, "USD")


def test_gpu_hour_price_none_without_config_or_bill(store):
    assert gpu_hour_price(store, parse_settings({})) == (None, "USD")


def test_estimate_from_telemetry_token_counters(store, shared):
    """inference_tokens_total{kind=prompt|completion} counters (with a reset) x the price table."""
    from datetime import datetime, timedelta, timezone

    import polars as pl

    from collectors.billing.llm_prices import estimate_from_telemetry
    from metrics.lake import Load

    t0 = datetime(2026, 9, 2, tzinfo=timezone.utc)
    series = {"prompt": [0, 400_000, 900_000, 100_000, 600_000],       # reset after 900k
              "completion": [0, 50_000, 120_000, 20_000, 70_000]}
    rows = []
    for kind, vals in series.items():
        labels = json.dumps({"kind": kind, "model_version": "gpt-4o-2024-08-06", "service": "chat"},
                            sort_keys=True)
        for i, v in enumerate(vals):
            rows.append({"sampled_at": t0 + timedelta(minutes=10 * i), "metric": "inference_tokens_total",
                         "labels": labels, "labels_hash": kind, "service": "chat",
                         "model_version": "gpt-4o-2024-08-06", "value": float(v), "source": "t"})
    with Load(store, "raw_telemetry", collector="test") as load:
        load.write(pl.DataFrame(rows), scope="t")
    table = PriceTable.load(shared / "pricing" / "genai-prices-openai.yml")
    out = estimate_from_telemetry(store, table, provider="openai")
    assert len(out) == 1 and out[0]["service"] == "chat"
    prompt = 900_000 + 100_000 + 500_000          # increase across the reset
    completion = 120_000 + 20_000 + 50_000
    assert out[0]["tokens"] == {"prompt": prompt, "completion": completion}
    matched = out[0]["matched"].split("/", 1)[1]
    import yaml
    doc = yaml.safe_load((shared / "pricing" / "genai-prices-openai.yml").read_text())
    prices = next(m for m in doc["models"] if m["id"] == matched)["prices"]
    if isinstance(prices, list):
        prices = next(p["prices"] for p in prices if not p.get("constraint"))
    want = (prompt * Decimal(str(prices["input_mtok"])) + completion * Decimal(str(prices["output_mtok"]))) / 1_000_000
    assert out[0]["estimated_cost"] == want


# ---- console CSV exports ------------------------------------------------------------------
def _csv_rows(name):
    import csv
    with open(FIX / name, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _tokens(store):
    return dict(store.query("SELECT SkuPriceId, sum(PricingQuantity) AS n FROM focus "
                            "WHERE PricingUnit = 'Tokens' GROUP BY 1").iter_rows())


def test_openai_console_csv_exports(store):
    r = ingest_billing(store, [FIX / "openai_costs_console.csv", FIX / "openai_usage_console.csv"])
    assert [x["format"] for x in r] == ["openai", "openai"]
    costs = [row for row in _csv_rows("openai_costs_console.csv") if row["amount_value"]]
    expected = sum(Decimal(row["amount_value"]).quantize(Decimal("1e-18")) for row in costs)
    got = store.query("SELECT BillingCurrency AS c, sum(BilledCost) AS t, count(*) AS n FROM focus "
                      "WHERE BilledCost IS NOT NULL GROUP BY 1").to_dicts()
    assert got == [{"c": "USD", "t": expected, "n": len(costs)}]       # the empty bucket is no row
    skus = store.query("SELECT DISTINCT SubAccountId FROM focus ORDER BY 1")["SubAccountId"].to_list()
    assert skus == ["proj_ads", "proj_search"]
    usage = [row for row in _csv_rows("openai_usage_console.csv") if row["model"]]
    want = {}
    for row in usage:
        n = {k: int(row[k].replace(",", "")) for k in ("input_tokens", "output_tokens",
                                                        "input_cached_tokens")}
        for kind, v in (("input", n["input_tokens"] - n["input_cached_tokens"]),
                        ("input_cached", n["input_cached_tokens"]), ("output", n["output_tokens"])):
            if v:
                want[f"{row['model']}:{kind}"] = v
    assert _tokens(store) == want
    first = store.query("SELECT min(ChargePeriodStart) AS s, min(ChargePeriodEnd) AS e FROM focus")
    assert first["s"][0].isoformat() == "2026-09-01T00:00:00+00:00"
    assert first["e"][0].isoformat() == "2026-09-02T00:00:00+00:00"


def test_anthropic_console_csv_exports_are_dollars_and_tokens(store):
    r = ingest_billing(store, [FIX / "anthropic_cost_console.csv", FIX / "anthropic_usage_console.csv"])
    assert [x["format"] for x in r] == ["anthropic", "anthropic"]
    dollars = sum(Decimal(row["cost_usd"]) for row in _csv_rows("anthropic_cost_console.csv"))
    assert store.query("SELECT sum(BilledCost) AS t FROM focus")["t"][0] == dollars   # not cents
    names = {"usage_input_tokens_no_cache": "input", "usage_input_tokens_cache_read": "cache_read",
             "usage_input_tokens_cache_write_5m": "cache_write_5m",
             "usage_input_tokens_cache_write_1h": "cache_write_1h", "usage_output_tokens": "output"}
    want = {f"{row['model_version']}:{kind}": int(row[col])
            for row in _csv_rows("anthropic_usage_console.csv") for col, kind in names.items()
            if int(row[col])}
    assert _tokens(store) == want
    day = store.query("SELECT ChargePeriodStart AS s, ChargePeriodEnd AS e FROM focus "
                      "WHERE SkuId = 'claude-haiku-4-5-20251001' LIMIT 1")
    assert (day["s"][0].isoformat(), day["e"][0].isoformat()) == (
        "2026-09-02T00:00:00+00:00", "2026-09-03T00:00:00+00:00")


def test_overlapping_console_exports_do_not_double_count(store, tmp_path):
    rows = (FIX / "anthropic_cost_console.csv").read_text().splitlines()
    first = tmp_path / "sept-1.csv"
    first.write_text("\n".join(rows[:3]) + "\n")                 # header + day 1
    ingest_billing(store, [first])
    ingest_billing(store, [FIX / "anthropic_cost_console.csv"])  # days 1-2 again, re-downloaded
    dollars = sum(Decimal(row["cost_usd"]) for row in _csv_rows("anthropic_cost_console.csv"))
    assert store.query("SELECT sum(BilledCost) AS t FROM focus")["t"][0] == dollars


def test_bad_console_cell_names_line_and_column(store, tmp_path):
    from metrics.errors import InputError
    lines = (FIX / "openai_usage_console.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",4000,", ",4k,")
    bad = tmp_path / "usage.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as e:
        ingest_billing(store, [bad])
    assert (e.value.line, e.value.column) == (4, "input_tokens") and str(bad) in str(e.value)
    assert store.query("SELECT count(*) AS n FROM focus")["n"][0] == 0


def test_forced_vendor_must_match_the_console_export(store):
    from metrics.errors import InputError
    with pytest.raises(InputError, match="not an anthropic console export"):
        ingest_billing(store, [FIX / "openai_costs_console.csv"], format="anthropic")
