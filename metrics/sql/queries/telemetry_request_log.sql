-- name: telemetry_request_log
-- grain: model_version of one service in [$start, $end)
-- inputs: stg_requests
-- What request logs say per version: fallback/abstain (which telemetry counters rarely report), and
-- for a version with no telemetry counters everything the summary shows: requests, errors (status
-- >= 500 or error/failed/failure/fail/5xx), latency p50/p95 (exact, over the logged latencies,
-- interpolated like quantile_cont) and mean, tokens.
SELECT model_version,
       count(*) AS requests,
       count(*) FILTER (WHERE status IS NOT NULL) AS with_status,
       count(*) FILTER (WHERE try_cast(status AS INTEGER) >= 500
                          OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx')) AS errors,
       sum(fallback::INT) AS fallbacks,
       sum(abstained::INT) AS abstains,
       quantile_cont(latency_s, 0.5) AS latency_p50_s,
       quantile_cont(latency_s, 0.95) AS latency_p95_s,
       avg(latency_s) AS latency_mean_s,
       sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0))
           FILTER (WHERE prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL) AS tokens
FROM stg_requests
WHERE service = $service AND arrived_at >= $start AND arrived_at < $end
GROUP BY model_version
ORDER BY model_version;
