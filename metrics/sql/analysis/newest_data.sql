-- name: newest_data
-- grain: one row: the newest data point of one service at or before $at, over every input
-- inputs: stg_telemetry, stg_requests, stg_kpis, stg_model_health
SELECT max(x) AS newest_at FROM (
    SELECT max(sampled_at) AS x FROM stg_telemetry WHERE service = $service AND sampled_at <= $at::TIMESTAMPTZ
    UNION ALL
    SELECT max(arrived_at) FROM stg_requests WHERE service = $service AND arrived_at <= $at::TIMESTAMPTZ
    UNION ALL
    SELECT max(observed_at) FROM stg_kpis WHERE service = $service AND observed_at <= $at::TIMESTAMPTZ
    UNION ALL
    SELECT max(window_end) FROM stg_model_health WHERE service = $service AND window_end <= $at::TIMESTAMPTZ
)
