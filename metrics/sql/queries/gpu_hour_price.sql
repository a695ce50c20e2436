-- name: gpu_hour_price
-- grain: one row: the currency with the most billed GPU cost in the newest billing month
-- inputs: focus
-- params: $gpu_match (regular expression naming a GPU in SKU, description, service or resource type)
-- Billed GPU lines in hours: price = sum(EffectiveCost, else BilledCost) / sum(PricingQuantity).
WITH g AS (
    SELECT BillingCurrency AS currency, date_trunc('month', BillingPeriodStart) AS month,
           coalesce(EffectiveCost, BilledCost) AS cost, PricingQuantity AS qty
    FROM focus
    WHERE lower(coalesce(PricingUnit, ConsumedUnit, '')) SIMILAR TO '.*(hour|hrs|hr).*'
      AND regexp_matches(concat_ws(' ', SkuId, ChargeDescription, ServiceName, ResourceType, x_extra),
                         $gpu_match)
      AND ChargeCategory = 'Usage' AND PricingQuantity > 0)
SELECT currency, sum(cost) AS cost, sum(qty) AS qty FROM g
WHERE month = (SELECT max(month) FROM g) GROUP BY currency
ORDER BY cost DESC NULLS LAST LIMIT 1
