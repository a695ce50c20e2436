-- name: service_health
-- grain: service
-- inputs: stg_services, stg_model_health, stg_kpis, requests_daily.sql (inlined)
-- params: $start (start of the recent week), $prev (start of the week before), $end (exclusive)
-- The numbers behind the Overview's traffic lights, per service:
--   technical: error_rate over [start, end) against slo.error_rate (config JSON)
--   model:     the newest whole-model drift_share (and its status) against slo.drift_share
--   business:  the funnel rate (funnel.action / funnel.denominator) in [start, end) against the
--              week before [prev, start)
WITH svc AS (
    SELECT service,
           TRY_CAST(json_extract_string(config, '$.slo.error_rate') AS DOUBLE)  AS slo_error_rate,
           TRY_CAST(json_extract_string(config, '$.slo.drift_share') AS DOUBLE) AS slo_drift_share,
           json_extract_string(config, '$.funnel.action')      AS action,
           json_extract_string(config, '$.funnel.denominator') AS denominator
    FROM stg_services
),
req AS (
    SELECT service, sum(errors) / nullif(sum(requests), 0) AS error_rate, sum(requests) AS requests
    FROM {requests_daily} rd
    GROUP BY ALL
),
drift AS (
    SELECT service, arg_max(value, window_end) AS drift_share, arg_max(status, window_end) AS drift_status,
           max(window_end) AS drift_window_end
    FROM stg_model_health
    WHERE metric = 'drift_share' AND feature IS NULL AND window_start < $end
    GROUP BY ALL
),
kpi AS (
    SELECT k.service,
           sum(value) FILTER (WHERE kpi = s.action AND observed_at >= $start)
             / nullif(sum(value) FILTER (WHERE kpi = s.denominator AND observed_at >= $start), 0) AS rate,
           sum(value) FILTER (WHERE kpi = s.action AND observed_at < $start)
             / nullif(sum(value) FILTER (WHERE kpi = s.denominator AND observed_at < $start), 0) AS prev_rate
    FROM stg_kpis k JOIN svc s ON s.service = k.service
    WHERE observed_at >= $prev AND observed_at < $end AND kpi IN (s.action, s.denominator)
    GROUP BY ALL
)
SELECT coalesce(s.service, r.service, d.service) AS service,
       r.requests, r.error_rate, s.slo_error_rate,
       d.drift_share, d.drift_status, s.slo_drift_share,
       s.action AS funnel_action, k.rate AS funnel_rate, k.prev_rate AS funnel_prev_rate
FROM svc s
FULL JOIN req r ON r.service = s.service
FULL JOIN drift d ON d.service = coalesce(s.service, r.service)
LEFT JOIN kpi k ON k.service = coalesce(s.service, r.service, d.service)
ORDER BY service
