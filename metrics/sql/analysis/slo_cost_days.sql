-- name: slo_cost_days
-- grain: one row per UTC day and currency in [$start, $end): effective cost and requests of one service
-- inputs: stg_cost, request_increases (included)
-- params: $service, $start, $end (UTC midnights; the store's sessions run in UTC)
-- Requests are the increases of inference_requests_total, assigned to the day of the sample that saw them.
WITH c AS (
    SELECT date_trunc('day', charge_period_start) AS day, billing_currency AS currency,
           sum(effective_cost) AS cost
    FROM stg_cost
    WHERE x_service = $service AND charge_period_start >= $start::TIMESTAMPTZ
      AND charge_period_start < $end::TIMESTAMPTZ
    GROUP BY ALL
),
r AS (
    SELECT date_trunc('day', sampled_at) AS day, sum(d) AS requests FROM {request_increases}
    GROUP BY ALL
)
SELECT epoch(c.day) AS day, c.currency, c.cost, r.requests
FROM c JOIN r USING (day)
ORDER BY day, c.cost DESC
