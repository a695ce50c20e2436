-- name: service_cost
-- grain: day, model_version, charge (ServiceName), billing_currency
-- inputs: stg_cost
-- params: $service, $start, $end (half-open)
-- One service's effective cost per day, by the model version it was tagged with and what was charged.
SELECT day, coalesce(x_model_version, '(untagged)') AS model_version,
       coalesce(service_name, '(unknown)') AS charge, billing_currency,
       sum(effective_cost) AS effective_cost
FROM stg_cost
WHERE x_service = $service AND charge_period_start >= $start AND charge_period_start < $end
GROUP BY ALL
ORDER BY day, model_version, charge
