-- name: slo_cost_days
-- grain: one row per UTC day and currency in [$start, $end): effective cost and requests of one service
-- inputs: stg_cost, stg_telemetry
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
    SELECT date_trunc('day', sampled_at) AS day, sum(d) AS requests FROM (
        SELECT CASE WHEN value >= lag(value) OVER w THEN value - lag(value) OVER w
                    WHEN lag(value) OVER w IS NULL THEN NULL ELSE value END AS d, sampled_at
        FROM stg_telemetry
        WHERE service = $service AND metric = 'inference_requests_total'
          AND sampled_at >= $start::TIMESTAMPTZ - INTERVAL 1 HOUR AND sampled_at < $end::TIMESTAMPTZ
        WINDOW w AS (PARTITION BY labels_hash ORDER BY sampled_at))
    WHERE sampled_at >= $start::TIMESTAMPTZ
    GROUP BY ALL
)
SELECT epoch(c.day) AS day, c.currency, c.cost, r.requests
FROM c JOIN r USING (day)
ORDER BY day, c.cost DESC
