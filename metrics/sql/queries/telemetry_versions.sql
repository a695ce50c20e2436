-- name: telemetry_versions
-- grain: model_version of one service in [$start, $end)
-- inputs: _window (metrics/sql/queries/telemetry_window.sql: stg_telemetry_delta of one service and window)
-- Requests, errors, fallbacks/abstains, tokens and request-seconds per model version, from the
-- increase of the cumulative series (canonical names: see collectors/prometheus.py QUERY_SETS).
SELECT model_version,
       sum(increase) FILTER (WHERE metric = 'inference_requests_total') AS requests,
       sum(increase) FILTER (WHERE metric = 'inference_requests_total'
                             AND (try_cast(status AS INTEGER) >= 500
                                  OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx'))) AS errors,
       sum(increase) FILTER (WHERE metric = 'inference_request_duration_seconds_count') AS histogram_count,
       sum(increase) FILTER (WHERE metric = 'inference_request_duration_seconds_sum') AS request_seconds,
       sum(increase) FILTER (WHERE metric = 'inference_fallback_total') AS fallbacks,
       sum(increase) FILTER (WHERE metric = 'inference_abstain_total') AS abstains,
       sum(increase) FILTER (WHERE metric = 'inference_tokens_total') AS tokens
FROM _window
WHERE model_version IS NOT NULL
GROUP BY model_version
ORDER BY model_version;
