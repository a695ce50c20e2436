-- name: stg_technical_minute
-- grain: minute, service, model_version
-- inputs: stg_telemetry_delta
-- Technical health per minute and model version from the cumulative series (their increase in the
-- minute): requests, errors (5xx/error status), request-seconds and count from the latency
-- histogram, fallbacks, abstains, tokens. Latency quantiles need the buckets: see
-- metrics/sql/queries/telemetry_latency_buckets.sql. Same names as the telemetry summary.
CREATE OR REPLACE VIEW stg_technical_minute AS
SELECT time_bucket(INTERVAL 1 minute, sampled_at) AS minute, service, model_version, any_value(team) AS team,
       sum(increase) FILTER (WHERE metric = 'inference_requests_total') AS requests,
       sum(increase) FILTER (WHERE metric = 'inference_requests_total'
                             AND (try_cast(status AS INTEGER) >= 500
                                  OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx'))) AS errors,
       sum(increase) FILTER (WHERE metric = 'inference_request_duration_seconds_sum') AS request_seconds,
       sum(increase) FILTER (WHERE metric = 'inference_request_duration_seconds_count') AS latency_count,
       sum(increase) FILTER (WHERE metric = 'inference_fallback_total') AS fallbacks,
       sum(increase) FILTER (WHERE metric = 'inference_abstain_total') AS abstains,
       sum(increase) FILTER (WHERE metric = 'inference_tokens_total') AS tokens,
       max(value) FILTER (WHERE metric = 'inference_queue_depth') AS queue_depth_max
FROM stg_telemetry_delta
WHERE service IS NOT NULL AND model_version IS NOT NULL AND metric LIKE 'inference\_%' ESCAPE '\'
GROUP BY ALL;
