"""Azure cost exports -> FOCUS: EA / MCA cost details ("v2", PascalCase or camelCase), legacy
pay-as-you-go usage details ("v1", `PreTaxCost`), localized headers (`Kosten (CostInBillingCurrency)`),
actual or amortized. Azure's own FOCUS export is detected as `focus`.

BilledCost = CostInBillingCurrency (else `Cost`, else `PreTaxCost`); an *amortized* export (file
name contains "amortized") fills EffectiveCost and leaves BilledCost NULL. The month is
BillingPeriodStartDate, else the usage date. Tags may be a JSON object without its braces.
"""
from __future__ import annotations

from pathlib import Path

from collectors.billing.focus import Columns, Exprs, Mapping

COST = ("CostInBillingCurrency", "PreTaxCost", "Cost", "CostInUsd", "Kosten")
DATE = ("Date", "UsageDateTime", "UsageDate", "UsageStart", "Datum")


def detect(cols: Columns) -> bool:
    c = cols.canon_set()
    azure_marks = {"subscriptionguid", "subscriptionid", "metercategory", "meterid",
                   "consumedservice", "resourcegroup", "instanceid"}
    return bool(c & {"costinbillingcurrency", "pretaxcost"}) or (
        "cost" in c and len(c & azure_marks) >= 2)


def mapping(cols: Columns, e: Exprs, path: Path) -> Mapping:
    money, ts, text = e.money, e.ts, e.text
    cost = money(*COST)
    day = ts(*DATE)
    period_start = ts("BillingPeriodStartDate", "BillingPeriodStart")
    period_end = ts("BillingPeriodEndDate", "BillingPeriodEnd")
    amortized = "amortized" in path.name.lower()
    tags_col = text("Tags")
    tags = None
    if tags_col:
        tags = (f"CASE WHEN {tags_col} IS NULL THEN NULL WHEN starts_with({tags_col}, '{{') "
                f"THEN {tags_col} ELSE '{{' || {tags_col} || '}}' END")
    # the usage date is a day; an inclusive period end date (9/30/2023) ends at the next midnight
    exprs = {
        "billed_cost": None if amortized else cost,
        "effective_cost": cost if amortized else None,
        "billing_currency": text("BillingCurrencyCode", "BillingCurrency", "Currency",
                                 "Waehrung", "Währung"),
        "billing_period_start": (f"coalesce({period_start}, date_trunc('month', {day}))"
                                 if period_start and day else period_start),
        "billing_period_end": (f"{period_end} + INTERVAL 1 DAY" if period_end else None),
        "charge_period_start": day,
        "charge_period_end": f"{day} + INTERVAL 1 DAY" if day else None,
        "consumed_quantity": money("Quantity", "UsageQuantity", "ConsumedQuantity", "Menge"),
        "pricing_quantity": money("Quantity", "UsageQuantity", "Menge"),
        "consumed_unit": text("UnitOfMeasure", "Unit"),
        "pricing_unit": text("UnitOfMeasure", "Unit"),
        "list_unit_price": money("PayGPrice"),
        "contracted_unit_price": money("UnitPrice", "ResourceRate"),
        "charge_category": f"coalesce({text('ChargeType') or 'NULL'}, 'Usage')",
        "charge_frequency": text("Frequency"),
        "pricing_category": text("PricingModel"),
        "billing_account_id": text("BillingAccountId", "SubscriptionGuid", "SubscriptionId"),
        "billing_account_name": text("BillingAccountName"),
        "sub_account_id": text("SubscriptionId", "SubscriptionGuid"),
        "sub_account_name": text("SubscriptionName"),
        "invoice_id": text("InvoiceId"),
        "provider_name": "'Microsoft'",
        "publisher_name": text("PublisherName") or "'Microsoft'",
        "invoice_issuer_name": "'Microsoft'",
        "service_name": text("MeterCategory", "ServiceName", "ConsumedService"),
        "service_subcategory": text("MeterSubCategory", "MeterSubcategory"),
        "resource_id": text("ResourceId", "InstanceId", "InstanceName"),
        "resource_name": text("ResourceName"),
        "resource_type": text("ResourceType"),
        "region_id": text("ResourceLocation", "MeterRegion", "Location"),
        "availability_zone": text("AvailabilityZone"),
        "sku_id": text("MeterId", "ProductId"),
        "sku_price_id": text("PartNumber"),
        "charge_description": text("MeterName", "ProductName", "Product"),
        "commitment_discount_id": text("ReservationId", "benefitId"),
    }
    exprs = {k: v for k, v in exprs.items() if v is not None}
    has_period = period_start is not None
    m = Mapping("azure", exprs, tags=tags, invoice_expected=cols.has("InvoiceId"),
                complete=has_period)     # v1 usage files are daily/ranged pulls: partial
    if cost is None:
        m.required["cost"] = "CostInBillingCurrency or Cost or PreTaxCost"
    if day is None and period_start is None:
        m.required["date"] = "Date or UsageDateTime or BillingPeriodStartDate"
    return m
