"""A generated lake for the engine proof and benchmark: line items and request logs written in
DuckDB SQL through the lake's own Load (so the run log, scopes and restatement are real).

Several months, tags (five services, one untagged share), two currencies, amounts with 18
decimals, and a restated month (a second delivery superseding the first one's scope).
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from metrics.lake import Load
from metrics.store import Store

MONTHS = ["2026-05", "2026-06", "2026-07", "2026-08"]
RESTATED = "2026-07"
SERVICES = ["ranker", "assistant", "fraud", "vision", "speech"]


def line_items_sql(n: int, month: str, seed: int) -> str:
    """n line items of one billing month: deterministic, from range(); every 11th untagged."""
    svc = ", ".join(f"'{s}'" for s in SERVICES)
    return f"""
SELECT 'acct-1' AS billing_account_id,
       CASE WHEN i % 3 = 0 THEN 'EUR' ELSE 'USD' END AS billing_currency,
       TIMESTAMPTZ '{month}-01 00:00:00+00' AS billing_period_start,
       TIMESTAMPTZ '{month}-01 00:00:00+00' + INTERVAL 1 MONTH AS billing_period_end,
       TIMESTAMPTZ '{month}-01 00:00:00+00' + to_days((i % 28)::INTEGER) AS charge_period_start,
       TIMESTAMPTZ '{month}-01 00:00:00+00' + to_days((i % 28)::INTEGER + 1) AS charge_period_end,
       ((i * {seed}) % 100003)::DECIMAL(38,18) * 0.000127 + 0.000000000000000001 AS billed_cost,
       ((i * {seed}) % 100003)::DECIMAL(38,18) * 0.000127 + 0.000000000000000001 AS effective_cost,
       'Usage' AS charge_category,
       (i % 24 + 1)::DECIMAL(38,18) AS pricing_quantity, 'Hours' AS pricing_unit,
       'Compute' AS service_name, 'sku-' || (i % 7) AS sku_id, 'region-' || (i % 3) AS region_id,
       CASE WHEN i % 11 = 0 THEN NULL ELSE ([{svc}])[(i % 5) + 1] END AS x_service,
       CASE WHEN i % 11 = 0 THEN NULL ELSE 'team-' || (i % 5) END AS x_team,
       CASE WHEN i % 11 = 0 THEN NULL ELSE 'v' || (i % 2) END AS x_model_version,
       CASE WHEN i % 11 = 0 THEN NULL ELSE '{{"service": "' || ([{svc}])[(i % 5) + 1] || '"}}' END AS tags,
       'gen' AS x_source, FALSE AS x_invoice_expected,
       TIMESTAMPTZ '{month}-01 00:00:00+00' + INTERVAL 1 MONTH AS x_finalizes_at
FROM range({n}) t(i)"""


def requests_sql(n: int) -> str:
    svc = ", ".join(f"'{s}'" for s in SERVICES)
    return f"""
SELECT 'r' || i AS request_id,
       TIMESTAMPTZ '{MONTHS[0]}-01 00:00:00+00' + to_seconds(i * 97 % (120 * 86400)) AS arrived_at,
       ([{svc}])[(i % 5) + 1] AS service, 'v' || (i % 2) AS model_version,
       CASE WHEN i % 53 = 0 THEN '500' ELSE '200' END AS status,
       (i % 1000) / 1000.0 + 0.01 AS latency_s, (i % 400)::BIGINT AS prompt_tokens,
       FALSE AS fallback, (i % 97 = 0) AS abstained, 'gen' AS source
FROM range({n}) t(i)"""


def telemetry_sql(n: int) -> str:
    """n samples: per service and model version a request counter per status code (cumulative,
    reset every 50,000 samples) and a GPU utilisation gauge, every 15 s from the first month on."""
    svc = ", ".join(f"'{s}'" for s in SERVICES)
    series = len(SERVICES) * 2 * 3
    return f"""
SELECT TIMESTAMPTZ '{MONTHS[0]}-01 00:00:00+00' + to_seconds((i // {series}) * 15) AS sampled_at,
       CASE WHEN i % 3 = 2 THEN 'gpu_utilization' ELSE 'inference_requests_total' END AS metric,
       CASE WHEN i % 3 = 2 THEN '{{"gpu": "g' || (i % {series}) || '"}}'
            ELSE '{{"code": "' || CASE WHEN i % 3 = 0 THEN '200' ELSE '503' END || '"}}' END AS labels,
       'h' || (i % {series}) AS labels_hash,
       ([{svc}])[(i // 6) % 5 + 1] AS service, 'v' || ((i // 3) % 2) AS model_version,
       CASE WHEN i % 3 = 2 THEN ((i * 7) % 100) / 100.0
            ELSE (((i // {series}) % 50000) * (1 + i % 3))::DOUBLE END AS value,
       'gen' AS source,
       CASE WHEN i % 3 = 2 THEN 'gauge' ELSE 'counter' END AS metric_type, FALSE AS series_start
FROM range({n}) t(i)"""


def build(folder: Path, line_items: int, requests: int = 100_000, samples: int = 0) -> Store:
    """A store under `folder` with `line_items` line items spread evenly over MONTHS, a restated
    RESTATED (its second delivery has different amounts and half the rows), request logs and
    `samples` telemetry samples."""
    store = Store(folder / "gen.duckdb").ensure()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    per = line_items // len(MONTHS)
    try:
        for k, month in enumerate(MONTHS):
            sql = line_items_sql(per, month, 7 + k)
            with Load(store, "raw_focus", collector="billing", source="gen") as load:
                cols = [d[0] for d in con.execute(f"DESCRIBE {sql}").fetchall()]
                load.write_query(con, sql, cols, scope=f"gen/acct-1/{month}")
        sql = line_items_sql(per // 2, RESTATED, 13)
        with Load(store, "raw_focus", collector="billing", source="gen") as load:
            cols = [d[0] for d in con.execute(f"DESCRIBE {sql}").fetchall()]
            load.write_query(con, sql, cols, scope=f"gen/acct-1/{RESTATED}")
            load.supersede_scopes()
        if requests:
            sql = requests_sql(requests)
            with Load(store, "raw_requests", collector="requests", source="gen") as load:
                cols = [d[0] for d in con.execute(f"DESCRIBE {sql}").fetchall()]
                load.write_query(con, sql, cols, scope="gen")
        if samples:
            sql = telemetry_sql(samples)
            with Load(store, "raw_telemetry", collector="openmetrics", source="gen") as load:
                cols = [d[0] for d in con.execute(f"DESCRIBE {sql}").fetchall()]
                load.write_query(con, sql, cols, scope="gen")
    finally:
        con.close()
    return store
