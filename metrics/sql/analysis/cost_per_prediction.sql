-- name: cost_per_prediction
-- grain: one row per currency: effective cost and requests of one service in [$start, $end)
-- inputs: stg_cost, stg_telemetry
WITH c AS (
    SELECT billing_currency AS currency, sum(effective_cost) AS cost FROM stg_cost
    WHERE x_service = $service AND charge_period_start >= $start::TIMESTAMPTZ
      AND charge_period_start < $end::TIMESTAMPTZ
    GROUP BY ALL
),
r AS (
    SELECT sum(d) AS requests FROM (
        SELECT CASE WHEN value >= lag(value) OVER w THEN value - lag(value) OVER w
                    WHEN lag(value) OVER w IS NULL THEN NULL ELSE value END AS d, sampled_at
        FROM stg_telemetry
        WHERE service = $service AND metric = 'inference_requests_total'
          AND sampled_at >= $start::TIMESTAMPTZ - INTERVAL 1 HOUR AND sampled_at < $end::TIMESTAMPTZ
        WINDOW w AS (PARTITION BY labels_hash ORDER BY sampled_at))
    WHERE sampled_at >= $start::TIMESTAMPTZ
)
SELECT c.currency, c.cost, r.requests FROM c, r ORDER BY c.cost DESC
