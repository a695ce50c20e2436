-- name: requests_daily
-- grain: day, service, model_version
-- inputs: stg_telemetry (inference_requests_total), stg_requests
-- params: $start, $end (half-open), $services (VARCHAR[]; empty = all)
-- Predictions served per day: the increase of the cumulative counter `inference_requests_total`
-- between consecutive samples of each series (a drop is a counter reset: the new value counts),
-- attributed to the day of the later sample, like Prometheus' increase(). Where a service has no
-- counter for a day, request logs (one row per request) are counted instead; never both.
-- Errors are requests whose status is 4xx/5xx or error/failed/timeout.
WITH samples AS (
    SELECT sampled_at, service, model_version, value,
           lower(coalesce(json_extract_string(labels, '$.status'), '')) AS status,
           lag(value) OVER (PARTITION BY labels_hash ORDER BY sampled_at) AS prev
    FROM stg_telemetry
    WHERE metric = 'inference_requests_total'
      AND sampled_at < $end
      AND (len($services::VARCHAR[]) = 0 OR list_contains($services::VARCHAR[], service))
),
counter AS (
    SELECT date_trunc('day', sampled_at) AS day, service, model_version,
           sum(CASE WHEN prev IS NULL THEN 0 WHEN value >= prev THEN value - prev ELSE value END) AS requests,
           sum(CASE WHEN prev IS NULL OR NOT (regexp_matches(status, '^[45]')
                                              OR status IN ('error', 'failed', 'timeout')) THEN 0
                    WHEN value >= prev THEN value - prev ELSE value END) AS errors
    FROM samples
    WHERE sampled_at >= $start
    GROUP BY ALL
),
logs AS (
    SELECT date_trunc('day', arrived_at) AS day, service, model_version,
           count(*)::DOUBLE AS requests,
           count(*) FILTER (WHERE regexp_matches(lower(coalesce(status, '')), '^[45]')
                              OR lower(status) IN ('error', 'failed', 'timeout'))::DOUBLE AS errors
    FROM stg_requests
    WHERE arrived_at >= $start AND arrived_at < $end
      AND (len($services::VARCHAR[]) = 0 OR list_contains($services::VARCHAR[], service))
    GROUP BY ALL
)
SELECT day, service, model_version, requests, errors, 'telemetry' AS measured_by FROM counter
UNION ALL
SELECT l.day, l.service, l.model_version, l.requests, l.errors, 'request_logs' FROM logs l
WHERE NOT EXISTS (SELECT 1 FROM counter c WHERE c.day = l.day AND c.service = l.service)
ORDER BY day, service, model_version
