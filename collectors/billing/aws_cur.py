"""AWS Cost and Usage Report -> FOCUS: legacy CUR (`lineItem/UnblendedCost`) and CUR 2.0 / Data
Exports (`line_item_unblended_cost`, CSV or Parquet). Both spellings are matched through `canon`.

BilledCost = UnblendedCost; EffectiveCost by line item type as the FinOps focus_converters do
(SavingsPlanCoveredUsage -> SavingsPlanEffectiveCost, DiscountedUsage -> reservation EffectiveCost,
RIFee -> unused amortized upfront + unused recurring fee, else UnblendedCost). Resource tags come
from `resourceTags/user:<key>` columns or a CUR 2.0 `resource_tags` map/JSON column.
"""
from __future__ import annotations

import json
from pathlib import Path

from collectors.billing.focus import Columns, Exprs, Mapping, lit, q

CHARGE_CATEGORY = {   # lineItem/LineItemType -> FOCUS ChargeCategory
    "Usage": "Usage", "DiscountedUsage": "Usage", "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage", "SavingsPlanUpfrontFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase", "RIFee": "Purchase", "Fee": "Purchase",
    "Tax": "Tax", "Credit": "Credit", "Refund": "Credit", "BundledDiscount": "Credit",
    "Discount": "Credit", "EdpDiscount": "Credit", "PrivateRateDiscount": "Credit",
}


def detect(cols: Columns) -> bool:
    return cols.has("lineItem/UnblendedCost", "line_item_unblended_cost")


def _c(*names: str) -> tuple[str, ...]:
    """Column names to try; `canon` makes `lineItem/UnblendedCost` match `line_item_unblended_cost`."""
    return names


def manifest_for(path: Path) -> dict | None:
    """The delivery manifest next to a report (`<name>-Manifest.json` listing it), if any."""
    for man in sorted(path.parent.glob("*Manifest.json")):
        try:
            data = json.loads(man.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        keys = [str(k) for k in data.get("reportKeys", [])]
        if any(k.endswith(path.name) for k in keys) or not keys:
            return data
    return None


def mapping(cols: Columns, e: Exprs, path: Path) -> Mapping:
    money, ts, text = e.money, e.ts, e.text
    unblended = money(*_c("lineItem/UnblendedCost"))
    typ = text(*_c("lineItem/LineItemType")) or "NULL"
    sp_eff = money(*_c("savingsPlan/SavingsPlanEffectiveCost"))
    ri_eff = money(*_c("reservation/EffectiveCost"))
    ri_up = money(*_c("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"))
    ri_rec = money(*_c("reservation/UnusedRecurringFee"))
    whens = ((f"WHEN 'SavingsPlanCoveredUsage' THEN {sp_eff} " if sp_eff else "")
             + (f"WHEN 'DiscountedUsage' THEN {ri_eff} " if ri_eff else "")
             + (f"WHEN 'RIFee' THEN coalesce({ri_up or 'NULL'}, 0) + coalesce({ri_rec or 'NULL'}, 0) "
                if (ri_up or ri_rec) else ""))
    effective = (f"CASE {typ} {whens}ELSE {unblended} END" if whens else unblended) if unblended else None
    cat_case = ("CASE " + " ".join(f"WHEN {typ} = {lit(k)} THEN {lit(v)}"
                                   for k, v in CHARGE_CATEGORY.items())
                + f" ELSE {typ} END")
    start = ts(*_c("lineItem/UsageStartDate"))
    exprs = {
        "billed_cost": unblended,
        "effective_cost": effective,
        "list_cost": money(*_c("pricing/publicOnDemandCost")),
        "list_unit_price": money(*_c("pricing/publicOnDemandRate")),
        "consumed_quantity": money(*_c("lineItem/UsageAmount")),
        "pricing_quantity": money(*_c("lineItem/UsageAmount")),
        "billing_currency": text(*_c("lineItem/CurrencyCode")),
        "billing_period_start": ts(*_c("bill/BillingPeriodStartDate")),
        "billing_period_end": ts(*_c("bill/BillingPeriodEndDate")),
        "charge_period_start": start,
        "charge_period_end": ts(*_c("lineItem/UsageEndDate")),
        "charge_category": cat_case,
        "charge_description": text(*_c("lineItem/LineItemDescription")),
        "consumed_unit": text(*_c("pricing/unit")),
        "pricing_unit": text(*_c("pricing/unit")),
        "pricing_category": text(*_c("pricing/term")),
        "billing_account_id": text(*_c("bill/PayerAccountId")),
        "sub_account_id": text(*_c("lineItem/UsageAccountId")),
        "sub_account_name": text(*_c("lineItem/UsageAccountName")),
        "invoice_id": text(*_c("bill/InvoiceId")),
        "invoice_issuer_name": text(*_c("bill/InvoicingEntity", "bill/BillingEntity")),
        "provider_name": "'AWS'",
        "publisher_name": text(*_c("product/publisher", "bill/BillingEntity")) or "'AWS'",
        "service_name": text(*_c("product/ProductName", "product/servicename",
                                 "lineItem/ProductCode")),
        "service_subcategory": text(*_c("lineItem/ProductCode", "product/servicecode")),
        "resource_id": text(*_c("lineItem/ResourceId")),
        "region_id": text(*_c("product/regionCode", "product/region")),
        "region_name": text(*_c("product/location")),
        "availability_zone": text(*_c("lineItem/AvailabilityZone")),
        "sku_id": text(*_c("product/sku")),
        "sku_price_id": text(*_c("pricing/RateId")),
        "commitment_discount_id": (
            f"coalesce({text(*_c('savingsPlan/SavingsPlanARN')) or 'NULL'}, "
            f"{text(*_c('reservation/ReservationARN')) or 'NULL'})"),
    }
    exprs = {k: v for k, v in exprs.items() if v is not None}
    tag_cols = [c for c in cols.names if c.lower().startswith(("resourcetags/", "resource_tags_"))]
    tags = None
    if tag_cols:
        pairs = ", ".join(f"{lit(c.split('/', 1)[-1] if '/' in c else c[len('resource_tags_'):])}, "
                          f"{e.text(c)}" for c in tag_cols)
        tags = f"CAST(json_object({pairs}) AS VARCHAR)"
        # json_object keeps NULL values; the normalizer drops them
    elif cols.has("resource_tags"):
        # CUR 2.0: a map (Parquet) or JSON text (CSV) whose user tags are keyed `user_<tag>`
        col = cols.find("resource_tags")
        if cols.types[col].startswith("MAP"):
            tags = (f"CAST(to_json(map_from_entries(list_transform(map_entries({e.ref(col)}), "
                    f"lambda x: (regexp_replace(x.key, '^user_', ''), x.value)))) AS VARCHAR)")
        else:
            t = e.text(col)
            tags = f"regexp_replace({t}, '\"user_', '\"', 'g')"
    man = manifest_for(path)
    m = Mapping("aws-cur", exprs, tags=tags,
                invoice_expected=cols.has(*_c("bill/InvoiceId")), complete=True)
    if man is not None:
        m.warnings.append({"kind": "manifest", "assemblyId": man.get("assemblyId"),
                           "billingPeriod": man.get("billingPeriod")})
    if unblended is None:
        m.required["cost"] = "lineItem/UnblendedCost or line_item_unblended_cost"
    if start is None and "billing_period_start" not in exprs:
        m.required["date"] = "lineItem/UsageStartDate or bill/BillingPeriodStartDate"
    return m
