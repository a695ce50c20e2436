-- name: telemetry_window
-- grain: one sample of one series of service $service in [$start, $end)
-- inputs: stg_telemetry (de-duplicated at write; differenced here as stg_telemetry_delta does)
-- params: $service, $start, $end, $from (<= $start: how far back the previous sample of each series
--         is looked for; metrics/telemetry.py widens it to all history when a series needs it)
-- The samples the telemetry summary reads, computed once per summary into the temporary table
-- `_window`. Filter first: the service and time filters sit directly on the Parquet scan (day
-- partitions and row-group statistics prune everything else), then the same de-duplication
-- (newest load per metric, series and instant) and the same increase/dt_s rules as
-- stg_telemetry_delta, over the service's samples in [$from, $end) only. The increase of the
-- first sample in the window accounts for the series' sample before it (found in [$from, $start)).
-- Only the series the summary reads (request, latency, fallback/abstain, token counters and the
-- DCGM utilisation/power/energy series): a GPU exporter's other series are never read.
WITH raw AS (
    SELECT sampled_at, metric, labels, labels_hash, model_version, value, metric_type, series_start,
           _load_id
    FROM stg_telemetry
    WHERE service = $service AND sampled_at >= $from AND sampled_at < $end
      AND metric IN ('inference_requests_total', 'inference_request_duration_seconds_count',
                     'inference_request_duration_seconds_sum', 'inference_request_duration_seconds_bucket',
                     'inference_fallback_total', 'inference_abstain_total', 'inference_tokens_total',
                     'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_POWER_USAGE',
                     'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total')
),
s AS (
    SELECT r.*,
           (r.metric = 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION'
            OR ((r.metric_type IS NULL OR r.metric_type IN ('counter', 'histogram', 'summary', 'unknown', 'untyped'))
                AND (r.metric LIKE '%\_total' ESCAPE '\' OR r.metric LIKE '%\_bucket' ESCAPE '\'
                     OR r.metric LIKE '%\_count' ESCAPE '\' OR r.metric LIKE '%\_sum' ESCAPE '\'))
           ) AS cumulative,
           lag(r.value IGNORE NULLS) OVER w AS prev_value,
           lag(r.sampled_at) OVER w AS prev_at
    FROM raw r
    WINDOW w AS (PARTITION BY r.metric, r.labels_hash ORDER BY r.sampled_at)
)
SELECT sampled_at, metric, labels_hash, model_version, value,
       CASE WHEN NOT cumulative OR value IS NULL OR isnan(value) THEN NULL
            WHEN prev_value IS NULL OR isnan(prev_value) THEN CASE WHEN coalesce(series_start, false) THEN value ELSE 0 END
            WHEN value < prev_value THEN value
            ELSE value - prev_value END AS increase,
       CASE WHEN prev_at IS NULL OR epoch(sampled_at) - epoch(prev_at) > 300 THEN NULL
            ELSE epoch(sampled_at) - epoch(prev_at) END AS dt_s,
       CASE WHEN metric LIKE '%requests%' THEN
            coalesce(json_extract_string(labels, '$.status'), json_extract_string(labels, '$.code')) END AS status,
       CASE WHEN metric LIKE '%\_bucket' ESCAPE '\' THEN json_extract_string(labels, '$.le') END AS le,
       cumulative AND value IS NOT NULL AND prev_value IS NULL AS no_prev   -- may need older history
FROM s
WHERE sampled_at >= $start
