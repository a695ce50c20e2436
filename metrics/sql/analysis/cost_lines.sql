-- name: cost_lines
-- grain: currency, window (0 = before, 1 = after), sku, model_version, team, region
-- inputs: stg_cost
-- params: $service (NULL = all), $b0, $b1 (before window), $a0, $a1 (after window)
-- Exact DECIMAL sums of effective cost and of the priced quantity (pricing_quantity, else
-- consumed_quantity; NULL when the line has neither, so its price cannot be split from volume).
SELECT billing_currency AS currency,
       CASE WHEN charge_period_start >= $a0::TIMESTAMPTZ THEN 1 ELSE 0 END AS w,
       coalesce(sku_id, service_name, charge_description, '(none)') AS sku,
       coalesce(x_model_version, '(none)') AS model_version,
       x_team AS team,
       coalesce(region_id, region_name, '(none)') AS region,
       x_service AS service,
       sum(effective_cost) AS cost,
       sum(coalesce(pricing_quantity, consumed_quantity)) AS qty
FROM stg_cost
WHERE ($service IS NULL OR x_service = $service)
  AND ((charge_period_start >= $b0::TIMESTAMPTZ AND charge_period_start < $b1::TIMESTAMPTZ)
    OR (charge_period_start >= $a0::TIMESTAMPTZ AND charge_period_start < $a1::TIMESTAMPTZ))
GROUP BY ALL
