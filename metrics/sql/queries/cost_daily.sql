-- name: cost_daily
-- grain: day, service, billing_currency
-- inputs: stg_cost
-- params: $start, $end (half-open [start, end) on charge_period_start), $services (VARCHAR[]; empty = all: the `-- when: services` line is dropped)
-- Effective (amortised) and billed cost per day and service, never summed across currencies.
SELECT day,
       x_service                 AS service,
       billing_currency,
       sum(effective_cost)       AS effective_cost,
       sum(billed_cost)          AS billed_cost,
       count(*)                  AS line_items
FROM stg_cost
WHERE charge_period_start >= $start AND charge_period_start < $end
  AND list_contains($services::VARCHAR[], x_service)   -- when: services
GROUP BY ALL
ORDER BY day, service, billing_currency
