-- name: cost_daily
-- grain: day, currency, service, team, sku (exact DECIMAL sum of effective cost)
-- inputs: stg_cost
-- params: $start, $end
SELECT date_trunc('day', charge_period_start) AS day, billing_currency AS currency,
       x_service AS service, x_team AS team,
       coalesce(sku_id, service_name, charge_description, '(none)') AS sku,
       sum(effective_cost) AS cost
FROM stg_cost
WHERE charge_period_start >= $start::TIMESTAMPTZ AND charge_period_start < $end::TIMESTAMPTZ
GROUP BY ALL
ORDER BY day
