"""Golden totals: every shared billing export reproduces ../shared/data/billing/GOLDEN.json.

Expected values come from GOLDEN.json (computed by the data's curators with Python csv + decimal),
never from onepane. Each file is loaded into its own fresh store and read back through `focus`.
"""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from collectors.billing import ingest_billing
from tests.conftest import SHARED

# no fallback: without the shared data the module fails to import, so the run fails (never skips)
GOLDEN = json.loads((SHARED / "billing" / "GOLDEN.json").read_text())
FILES = sorted(GOLDEN["files"])
TOL = Decimal("0.000001")


def _totals(store, measure: str, where: str = "true") -> dict:
    df = store.query(f"""
        SELECT coalesce(BillingCurrency, 'UNSPECIFIED') AS cur,
               strftime(BillingPeriodStart, '%Y-%m') AS month, sum({measure}) AS total,
               count({measure}) AS n
        FROM focus WHERE {where} GROUP BY ALL""")
    return {(r["cur"], r["month"]): (r["total"], r["n"]) for r in df.to_dicts()}


@pytest.mark.parametrize("rel", FILES)
def test_golden_totals(store, shared, rel):
    g = GOLDEN["files"][rel]
    assert g["expect"] == "parse"
    results = ingest_billing(store, [shared / rel])
    assert len(results) == 1 and not results[0]["skipped"]
    gcp = g["format"] == "gcp"
    usage = "ChargeCategory IS DISTINCT FROM 'Credit'" if gcp else "true"
    rows = store.query(f"SELECT count(*) AS n FROM focus WHERE {usage}")["n"][0]
    assert rows == g["rows"]
    for measure in ("BilledCost", "EffectiveCost"):
        got = _totals(store, measure, usage)
        expected = g["totals_exact"].get(measure)
        if expected is None:
            assert all(v[1] == 0 for v in got.values()), f"{measure} must stay NULL for {rel}"
            continue
        want = {(cur, month): Decimal(v) for cur, months in expected.items() for month, v in months.items()}
        have = {k: v[0] for k, v in got.items() if v[1]}
        assert set(have) == set(want), (measure, have, want)
        for k, v in want.items():
            assert abs(have[k] - v) <= TOL, (measure, k, have[k], v)
        counts = g["non_null_cost_values"][measure]
        assert {k: v[1] for k, v in got.items() if v[1]} == {
            (cur, m): n for cur, months in counts.items() for m, n in months.items()}
    if gcp:
        credits = _totals(store, "BilledCost", "ChargeCategory = 'Credit'")
        everything = _totals(store, "BilledCost")
        for cur, months in g["gcp_credits_amount"].items():
            for month, v in months.items():
                assert abs(credits[(cur, month)][0] - Decimal(str(v))) <= TOL
        for cur, months in g["gcp_cost_plus_credits"].items():
            for month, v in months.items():
                assert abs(everything[(cur, month)][0] - Decimal(str(v))) <= TOL
        assert store.query("SELECT count(*) AS n FROM focus WHERE ChargeCategory = 'Credit' "
                           "AND BilledCost >= 0")["n"][0] == 0, "credits are negative"


def test_focus_parquet_matches_golden(store, shared, tmp_path):
    """The same FOCUS sample as typed Parquet (written by plain DuckDB) gives the golden totals."""
    import duckdb

    rel = "billing/focus-1.0/focus_sample.csv"
    pq = tmp_path / "focus_sample.parquet"
    duckdb.connect().execute(f"COPY (SELECT * FROM read_csv('{shared / rel}', nullstr = 'NULL')) "
                             f"TO '{pq}' (FORMAT parquet)")
    ingest_billing(store, [pq])
    want = GOLDEN["files"][rel]["totals_exact"]
    for measure in ("BilledCost", "EffectiveCost"):
        got = _totals(store, measure)
        for cur, months in want[measure].items():
            for month, v in months.items():
                assert abs(got[(cur, month)][0] - Decimal(v)) <= TOL


def test_focus_sample_tags_keys_trimmed_and_lowercased(store, shared):
    ingest_billing(store, [shared / "billing/focus-1.0/focus_sample.csv"])
    keys = store.query("SELECT DISTINCT unnest(json_keys(Tags)) AS k FROM focus WHERE Tags IS NOT NULL")["k"].to_list()
    assert keys and all(k == k.strip().lower() for k in keys)
    assert "org" in keys
    untagged = store.query("SELECT count(*) AS n FROM focus WHERE Tags IS NULL")["n"][0]
    assert untagged == 289          # SOURCE.md: Tags is NULL on 289 rows
    assert store.query("SELECT count(*) AS n FROM focus WHERE x_service = '__unallocated__'")["n"][0] >= untagged
