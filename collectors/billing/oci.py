"""Oracle Cloud Infrastructure cost reports (`reports/cost-csv`) -> FOCUS.

BilledCost = cost/myCost (cost/myCostOverage is empty in practice); currency = cost/currencyCode;
no billing-period column, so the month is the usage interval's month. Tags come from
`tags/<namespace>.<key>` columns (key kept as `namespace.key`, lower-cased). Cost reports arrive
as incremental hourly files, so each file is a partial delivery (de-duplicated by row identity).
"""
from __future__ import annotations

from pathlib import Path

from collectors.billing.focus import Columns, Exprs, Mapping, lit


def detect(cols: Columns) -> bool:
    return cols.has("cost/myCost") and cols.has("lineItem/intervalUsageStart")


def mapping(cols: Columns, e: Exprs, path: Path) -> Mapping:
    money, ts, text = e.money, e.ts, e.text
    cost = money("cost/myCost")
    start = ts("lineItem/intervalUsageStart")
    exprs = {
        "billed_cost": cost,
        "billing_currency": text("cost/currencyCode"),
        "charge_period_start": start,
        "charge_period_end": ts("lineItem/intervalUsageEnd"),
        "consumed_quantity": money("usage/consumedQuantity", "usage/billedQuantity"),
        "pricing_quantity": money("usage/billedQuantity"),
        "pricing_unit": text("cost/skuUnitDescription"),
        "consumed_unit": text("usage/consumedQuantityUnits", "cost/skuUnitDescription"),
        "contracted_unit_price": money("cost/unitPrice"),
        "billing_account_id": text("lineItem/tenantId"),
        "sub_account_id": text("product/compartmentId"),
        "sub_account_name": text("product/compartmentName"),
        "provider_name": "'Oracle'",
        "publisher_name": "'Oracle'",
        "invoice_issuer_name": "'Oracle'",
        "service_name": text("product/service"),
        "resource_id": text("product/resourceId"),
        "region_id": text("product/region"),
        "availability_zone": text("product/availabilityDomain"),
        "sku_id": text("cost/productSku"),
        "charge_description": text("product/Description"),
        "charge_category": (f"CASE WHEN lower({text('lineItem/isCorrection') or 'NULL'}) = 'true' "
                            "THEN 'Adjustment' ELSE 'Usage' END"),
    }
    exprs = {k: v for k, v in exprs.items() if v is not None}
    tag_cols = [c for c in cols.names if c.lower().startswith("tags/")]
    tags = None
    if tag_cols:
        tags = "CAST(json_object(" + ", ".join(
            f"{lit(c[len('tags/'):])}, {text(c)}" for c in tag_cols) + ") AS VARCHAR)"
    m = Mapping("oci", exprs, tags=tags, invoice_expected=False, complete=False)
    if cost is None:
        m.required["cost"] = "cost/myCost"
    if start is None:
        m.required["date"] = "lineItem/intervalUsageStart"
    return m
