-- name: telemetry_latency_buckets
-- grain: model_version, le of one service in [$start, $end)
-- inputs: stg_telemetry_delta
-- Cumulative request counts per histogram bucket bound over the window (for histogram_quantile).
SELECT model_version,
       CASE WHEN json_extract_string(labels, '$.le') IN ('+Inf', 'Inf', '+inf') THEN 'Infinity'::DOUBLE
            ELSE try_cast(json_extract_string(labels, '$.le') AS DOUBLE) END AS le,
       sum(increase) AS count
FROM stg_telemetry_delta
WHERE service = $service AND model_version IS NOT NULL
  AND metric = 'inference_request_duration_seconds_bucket'
  AND sampled_at >= $start AND sampled_at < $end
GROUP BY ALL
HAVING le IS NOT NULL
ORDER BY model_version, le;
