-- name: slo_freshness_minutes
-- grain: one row per minute (b counted from $origin; minute b is (origin + 60·b, origin + 60·(b+1)],
--        so data at a minute's end counts for it) in which one service has data, with its newest
--        instant (epoch seconds)
-- inputs: stg_telemetry, stg_requests, stg_kpis, stg_model_health (the instants newest_data reads)
-- params: $service, $start, $end, $origin
WITH x AS (
    SELECT sampled_at AS ts FROM stg_telemetry
    WHERE service = $service AND sampled_at > $start::TIMESTAMPTZ AND sampled_at <= $end::TIMESTAMPTZ
    UNION ALL
    SELECT arrived_at FROM stg_requests
    WHERE service = $service AND arrived_at > $start::TIMESTAMPTZ AND arrived_at <= $end::TIMESTAMPTZ
    UNION ALL
    SELECT observed_at FROM stg_kpis
    WHERE service = $service AND observed_at > $start::TIMESTAMPTZ AND observed_at <= $end::TIMESTAMPTZ
    UNION ALL
    SELECT window_end FROM stg_model_health
    WHERE service = $service AND window_end > $start::TIMESTAMPTZ AND window_end <= $end::TIMESTAMPTZ
)
SELECT (ceil((epoch(ts) - $origin) / 60) - 1)::BIGINT AS b, max(epoch(ts)) AS newest
FROM x GROUP BY 1 ORDER BY 1
