"""Google Cloud billing export -> FOCUS (CSV dumped from BigQuery with dotted headers such as
`service.description`, or newline-delimited JSON with nested records, flattened on read).

BilledCost = `cost` (gross). Credits - a list in `credits`, as JSON or as a Python repr
(`[{'name': ..., 'amount': -5e-06, 'full_name': None, ...}]`) - become separate rows with
ChargeCategory = 'Credit' and the negative amount, as Google's own FOCUS view does; so usage rows
sum to the gross cost and all rows to cost + credits. The month is `invoice.month` (YYYYMM).
Labels (a list of {key, value}, JSON or Python repr) become the tags. Billing exports are
date-ranged pulls, so a file is a partial delivery (de-duplicated by row identity).
"""
from __future__ import annotations

from pathlib import Path

from collectors.billing.focus import MONEY, Check, Columns, Exprs, Mapping

CREDIT = '[{"name":"VARCHAR","amount":"VARCHAR","full_name":"VARCHAR","id":"VARCHAR","type":"VARCHAR"}]'
LABELS = '[{"key":"VARCHAR","value":"VARCHAR"}]'


def detect(cols: Columns) -> bool:
    c = cols.canon_set()
    return "cost" in c and ("invoicemonth" in c or ("skuid" in c and "usagestarttime" in c))


def _json(x: str) -> str:
    """JSON text of a list given as JSON or as a Python repr."""
    return f"onepane_pyjson({x})"


def mapping(cols: Columns, e: Exprs, path: Path) -> Mapping:
    money, ts, text = e.money, e.ts, e.text
    cost = money("cost")
    start = ts("usage_start_time")
    month = text("invoice.month")
    month_ts = None
    if month:
        month_ts = (f"coalesce(try_strptime({month}, '%Y%m'), "
                    f"CASE WHEN {month} IS NULL THEN NULL ELSE error('onepane-bad-value' || chr(31) "
                    f"|| 'invoice.month' || chr(31) || 'month' || chr(31) || {month}) END)")
        e.checks.append(Check("invoice.month", "month (YYYYMM)",
                              f"({month} IS NOT NULL AND try_strptime({month}, '%Y%m') IS NULL)"))
    labels = text("labels")
    tags = None
    if labels:
        tags = (f"CASE WHEN starts_with({labels}, '{{') THEN {labels} ELSE CAST(to_json("
                f"map_from_entries(list_transform(from_json({_json(labels)}, '{LABELS}'), "
                f"lambda x: (x.key, x.value)))) AS VARCHAR) END")
    exprs = {
        "billed_cost": cost,
        "billing_currency": text("currency"),
        "billing_period_start": month_ts,
        "billing_period_end": f"{month_ts} + INTERVAL 1 MONTH" if month_ts else None,
        "charge_period_start": start,
        "charge_period_end": ts("usage_end_time"),
        "consumed_quantity": money("usage.amount"),
        "consumed_unit": text("usage.unit"),
        "pricing_quantity": money("usage.amount_in_pricing_units"),
        "pricing_unit": text("usage.pricing_unit"),
        "billing_account_id": text("billing_account_id"),
        "sub_account_id": text("project.id"),
        "sub_account_name": text("project.name"),
        "provider_name": "'Google Cloud'",
        "publisher_name": "'Google Cloud'",
        "invoice_issuer_name": "'Google Cloud'",
        "service_name": text("service.description"),
        "sku_id": text("sku.id"),
        "charge_description": text("sku.description"),
        "region_id": text("location.region", "location.location"),
        "availability_zone": text("location.zone"),
        "resource_id": text("resource.global_name", "resource.name"),
        "resource_name": text("resource.name"),
        "charge_category": (f"CASE lower({text('cost_type') or 'NULL'}) WHEN 'tax' THEN 'Tax' "
                            "WHEN 'adjustment' THEN 'Adjustment' ELSE 'Usage' END"),
    }
    exprs = {k: v for k, v in exprs.items() if v is not None}
    m = Mapping("gcp", exprs, tags=tags, invoice_expected=False, complete=False)
    credits = text("credits")
    if credits:
        amount = (f"coalesce(TRY_CAST(cr.c.amount AS {MONEY}), "
                  f"error('onepane-bad-value' || chr(31) || 'credits' || chr(31) || 'number' "
                  f"|| chr(31) || coalesce(cr.c.amount, 'null')))")
        m.extra_rows.append((
            {"billed_cost": amount, "charge_category": "'Credit'",
             "charge_description": "coalesce(cr.c.full_name, cr.c.name)",
             "commitment_discount_id": "cr.c.id", "pricing_category": "cr.c.type",
             "consumed_quantity": "NULL", "pricing_quantity": "NULL"},
            f", UNNEST(from_json({_json(credits)}, '{CREDIT}')) AS cr(c)"))
        m.extra_filter = f"{credits} IS NOT NULL AND {credits} NOT IN ('[]', '')"
    if cost is None:
        m.required["cost"] = "cost"
    if start is None and month_ts is None:
        m.required["date"] = "usage_start_time or invoice.month"
    return m
