-- name: stg_fallbacks
-- grain: minute, service, model_version, source_kind
-- inputs: stg_telemetry_delta, stg_requests
-- Fallback/abstain as a technical-health series: per minute, requests answered and how many of them
-- a fallback or abstain path answered. From telemetry counters (inference_requests_total,
-- inference_fallback_total, inference_abstain_total) and from request logs (fallback/abstained).
-- Rates are fallbacks / requests; a source that does not report fallbacks has NULL there.
CREATE OR REPLACE VIEW stg_fallbacks AS
SELECT time_bucket(INTERVAL 1 minute, sampled_at) AS minute, service, model_version, team,
       'telemetry' AS source_kind,
       sum(increase) FILTER (WHERE metric = 'inference_requests_total') AS requests,
       sum(increase) FILTER (WHERE metric = 'inference_fallback_total') AS fallbacks,
       sum(increase) FILTER (WHERE metric = 'inference_abstain_total') AS abstains
FROM stg_telemetry_delta
WHERE metric IN ('inference_requests_total', 'inference_fallback_total', 'inference_abstain_total')
GROUP BY ALL
UNION ALL
SELECT time_bucket(INTERVAL 1 minute, arrived_at) AS minute, service, model_version, team,
       'request_log' AS source_kind,
       count(*)::DOUBLE AS requests,             -- DOUBLE like the telemetry side (ClickHouse
       sum(fallback::INT)::DOUBLE AS fallbacks,  -- finds no common type for UInt64 and Float64)
       sum(abstained::INT)::DOUBLE AS abstains
FROM stg_requests
GROUP BY ALL;
