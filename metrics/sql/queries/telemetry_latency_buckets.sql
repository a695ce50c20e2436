-- name: telemetry_latency_buckets
-- grain: model_version, le of one service in [$start, $end)
-- inputs: _window (metrics/sql/queries/telemetry_window.sql: stg_telemetry_delta of one service and window)
-- Cumulative request counts per histogram bucket bound over the window (for histogram_quantile).
SELECT model_version,
       CASE WHEN le IN ('+Inf', 'Inf', '+inf') THEN 'Infinity'::DOUBLE ELSE try_cast(le AS DOUBLE) END AS le,
       sum(increase) AS count
FROM _window
WHERE model_version IS NOT NULL AND metric = 'inference_request_duration_seconds_bucket'
GROUP BY ALL
HAVING le IS NOT NULL
ORDER BY model_version, le;
