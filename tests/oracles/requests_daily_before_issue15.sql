-- requests_daily as it was before issue 15's rollups branch (stg_telemetry_delta over the whole
-- store, filtered afterwards): the oracle tests/test_telemetry_rollups.py compares the rewrite with.
-- name: requests_daily
-- grain: day, service, model_version
-- inputs: stg_telemetry_delta (inference_requests_total), stg_requests
-- params: $start, $end (half-open), $services (VARCHAR[]; empty = all: the `-- when: services` line is dropped)
-- Predictions served per day: the increase of the cumulative counter `inference_requests_total`
-- (stg_telemetry_delta: per sample since the previous one; a drop is a counter reset), attributed
-- to the day of the sample, like Prometheus' increase(). Where a service has no counter for a
-- day, request logs (one row per request) are counted instead; never both.
-- Errors, as in the telemetry summary: status >= 500 or error/failed/failure/fail/5xx.
WITH counter AS (
    SELECT date_trunc('day', sampled_at) AS day, service, model_version,
           sum(increase) AS requests,
           coalesce(sum(increase) FILTER (WHERE try_cast(status AS INTEGER) >= 500
                                          OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx')), 0) AS errors
    FROM stg_telemetry_delta
    WHERE metric = 'inference_requests_total'
      AND sampled_at >= $start AND sampled_at < $end
      AND list_contains($services::VARCHAR[], service)   -- when: services
    GROUP BY ALL
),
logs AS (
    SELECT date_trunc('day', arrived_at) AS day, service, model_version,
           count(*)::DOUBLE AS requests,
           count(*) FILTER (WHERE try_cast(status AS INTEGER) >= 500
                              OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx'))::DOUBLE AS errors
    FROM stg_requests
    WHERE arrived_at >= $start AND arrived_at < $end
      AND list_contains($services::VARCHAR[], service)   -- when: services
    GROUP BY ALL
)
SELECT day, service, model_version, requests, errors, 'telemetry' AS measured_by FROM counter
UNION ALL
SELECT l.day, l.service, l.model_version, l.requests, l.errors, 'request_logs' FROM logs l
WHERE NOT EXISTS (SELECT 1 FROM counter c WHERE c.day = l.day AND c.service = l.service)
ORDER BY day, service, model_version
