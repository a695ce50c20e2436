-- name: wc_span
-- grain: one row: first and last sample time of the service's data in [$start, $end), per input
-- inputs: stg_telemetry, stg_kpis, stg_model_health, stg_cost
SELECT 'telemetry' AS input, min(sampled_at) AS first_at, max(sampled_at) AS last_at, count(*) AS n
FROM stg_telemetry WHERE service = $service AND sampled_at >= $start::TIMESTAMPTZ AND sampled_at < $end::TIMESTAMPTZ
UNION ALL
SELECT 'kpis', min(observed_at), max(observed_at), count(*)
FROM stg_kpis WHERE service = $service AND observed_at >= $start::TIMESTAMPTZ AND observed_at < $end::TIMESTAMPTZ
UNION ALL
SELECT 'model_health', min(window_start), max(window_start), count(*)
FROM stg_model_health WHERE service = $service AND window_start >= $start::TIMESTAMPTZ AND window_start < $end::TIMESTAMPTZ
UNION ALL
SELECT 'cost', min(charge_period_start), max(charge_period_start), count(*)
FROM stg_cost WHERE x_service = $service AND charge_period_start >= $start::TIMESTAMPTZ AND charge_period_start < $end::TIMESTAMPTZ
