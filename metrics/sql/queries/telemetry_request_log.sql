-- name: telemetry_request_log
-- grain: model_version of one service in [$start, $end)
-- inputs: stg_requests
-- What request logs say per version, for what telemetry counters do not report (fallback/abstain).
SELECT model_version,
       count(*) AS requests,
       sum(fallback::INT) AS fallbacks,
       sum(abstained::INT) AS abstains
FROM stg_requests
WHERE service = $service AND arrived_at >= $start AND arrived_at < $end
GROUP BY model_version
ORDER BY model_version;
