-- name: cost_per_prediction
-- grain: one row per currency: effective cost and requests of one service in [$start, $end)
-- inputs: stg_cost, request_increases (included)
WITH c AS (
    SELECT billing_currency AS currency, sum(effective_cost) AS cost FROM stg_cost
    WHERE x_service = $service AND charge_period_start >= $start::TIMESTAMPTZ
      AND charge_period_start < $end::TIMESTAMPTZ
    GROUP BY ALL
),
r AS (
    SELECT sum(d) AS requests FROM {request_increases}
)
SELECT c.currency, c.cost, r.requests FROM c, r ORDER BY c.cost DESC
