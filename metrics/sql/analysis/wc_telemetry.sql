-- name: wc_telemetry
-- grain: bucket, metric, model_version, le, status, kind, gpu (one row per group of samples)
-- inputs: stg_telemetry, stg_requests
-- params: $service, $start, $end, $gap_start, $gap_end (skipped), $origin (epoch seconds of bucket 0),
--         $bucket_s, $gpus (labels
--         values that mean a GPU of this service), $own_unlabelled (TRUE: GPU series without a
--         service label belong to $service because it is the only service with telemetry)
-- Counters (names ending _total, _count, _sum, _bucket): the increase in a bucket is the series'
-- last value in it minus its last value in the bucket before (a drop is a reset: the new value is
-- the increase; in the first bucket or after a gap, the change within it, or the whole value when the series
-- started while observed, `series_start`). Working per bucket, not per sample, keeps this fast.
-- Gauges are averaged. Each sample of a series stands for its sampling interval (`step`: span /
-- (samples - 1) over the range), so `busy_s` = Σ value/100 × step is GPU-busy seconds for
-- utilisation, `idle_s` the seconds at ≤ 1 % and `covered_s` the seconds observed.
-- A service without request counters in the range (its only technical source is a request log)
-- gets the same rows from stg_requests: per bucket, requests per status, fallbacks, abstains and a
-- latency histogram over fixed bounds (5 ms .. 120 s, +Inf), so its latency quantiles are as
-- precise as those bounds (what-changed compares them between periods).
WITH s AS (
    -- stg_telemetry is de-duplicated at write: the range filter reaches the Parquet scan
    SELECT sampled_at, metric, labels, labels_hash, model_version, value, series_start
    FROM stg_telemetry
    WHERE sampled_at >= $start::TIMESTAMPTZ - INTERVAL 10 MINUTE AND sampled_at < $end::TIMESTAMPTZ
      -- the stretch between a far reference window (a week earlier) and the analysed range
      AND NOT (sampled_at >= $gap_start::TIMESTAMPTZ AND sampled_at < $gap_end::TIMESTAMPTZ)
      AND metric IN ('inference_requests_total', 'inference_request_duration_seconds_bucket',
                     'inference_request_duration_seconds_count', 'inference_tokens_total',
                     'inference_fallback_total', 'inference_queue_depth',
                     'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_POWER_USAGE')
      AND (service = $service
           OR (metric LIKE 'DCGM\_%' ESCAPE '\' AND (
                 list_contains($gpus::VARCHAR[], json_extract_string(labels, '$.UUID'))
                 OR list_contains($gpus::VARCHAR[], json_extract_string(labels, '$.Hostname'))
                 OR (service IS NULL AND $own_unlabelled))))
),
per AS (
    -- one row per series and bucket: its last value, and how densely it was sampled
    SELECT metric, labels_hash, floor((epoch(sampled_at) - $origin) / $bucket_s)::BIGINT AS b,
           any_value(model_version) AS model_version, any_value(labels) AS labels,
           arg_max(value, sampled_at) AS last_v, arg_min(value, sampled_at) AS first_v,
           bool_or(series_start) AS started, avg(value) AS mean, sum(value) AS sum_v,
           count(*) AS samples, count(*) FILTER (WHERE value IS NULL) AS nulls,
           count(*) FILTER (WHERE value <= 1) AS low, min(sampled_at) AS t0, max(sampled_at) AS t1
    FROM s
    GROUP BY metric, labels_hash, b
),
d AS (
    SELECT *,
           CASE WHEN regexp_matches(metric, '(_total|_count|_sum|_bucket)$') THEN
                CASE WHEN lag(last_v) OVER w IS NULL OR b - lag(b) OVER w > 1 THEN
                          CASE WHEN started THEN last_v ELSE last_v - first_v END
                     WHEN last_v >= lag(last_v) OVER w THEN last_v - lag(last_v) OVER w
                     ELSE last_v END END AS delta,
           -- the series' sampling interval over the whole range (regular scrapes)
           (epoch(max(t1) OVER s) - epoch(min(t0) OVER s)) / nullif(sum(samples) OVER s - 1, 0) AS step
    FROM per
    WINDOW w AS (PARTITION BY metric, labels_hash ORDER BY b),
           s AS (PARTITION BY metric, labels_hash)
),
log_rows AS (
    SELECT floor((epoch(arrived_at) - $origin) / $bucket_s)::BIGINT AS b, model_version, status,
           latency_s, fallback, abstained
    FROM stg_requests
    WHERE service = $service AND arrived_at >= $start::TIMESTAMPTZ AND arrived_at < $end::TIMESTAMPTZ
      AND NOT (arrived_at >= $gap_start::TIMESTAMPTZ AND arrived_at < $gap_end::TIMESTAMPTZ)
      AND NOT EXISTS (SELECT 1 FROM s WHERE metric IN ('inference_requests_total',
                                                       'inference_request_duration_seconds_count'))
),
bounds AS (
    SELECT unnest([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0,
                   1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0,
                   'infinity'::DOUBLE]) AS le
),
from_logs AS (
    SELECT b, 'inference_requests_total' AS metric, model_version, NULL AS le, status, count(*)::DOUBLE AS delta
    FROM log_rows GROUP BY ALL
    UNION ALL
    SELECT b, 'inference_fallback_total', model_version, NULL, NULL, count(*) FILTER (WHERE fallback)::DOUBLE
    FROM log_rows GROUP BY ALL HAVING count(fallback) > 0
    UNION ALL
    SELECT b, 'inference_abstain_total', model_version, NULL, NULL, count(*) FILTER (WHERE abstained)::DOUBLE
    FROM log_rows GROUP BY ALL HAVING count(abstained) > 0
    UNION ALL
    SELECT r.b, 'inference_request_duration_seconds_bucket', r.model_version,
           CASE WHEN isinf(k.le) THEN '+Inf' ELSE k.le::VARCHAR END, NULL,
           count(*) FILTER (WHERE r.latency_s <= k.le)::DOUBLE
    FROM log_rows r, bounds k
    WHERE r.latency_s IS NOT NULL
    GROUP BY ALL
)
SELECT b, metric, model_version, le, status, NULL AS kind, NULL AS gpu, delta,
       NULL::DOUBLE AS mean, NULL::DOUBLE AS busy_s, NULL::DOUBLE AS idle_s, NULL::DOUBLE AS covered_s,
       NULL::BIGINT AS samples, 0::BIGINT AS nulls
FROM from_logs
WHERE b >= 0
UNION ALL
SELECT b, metric, model_version,
       json_extract_string(labels, '$.le') AS le,
       coalesce(json_extract_string(labels, '$.status'), json_extract_string(labels, '$.code')) AS status,
       json_extract_string(labels, '$.kind') AS kind,
       coalesce(json_extract_string(labels, '$.UUID'), json_extract_string(labels, '$.gpu'),
                json_extract_string(labels, '$.Hostname')) AS gpu,
       sum(delta) AS delta,
       avg(mean) AS mean,
       sum(sum_v / 100.0 * step) AS busy_s,
       sum(low * step) AS idle_s,
       sum(samples * step) AS covered_s,
       sum(samples) AS samples,
       sum(nulls) AS nulls
FROM d
WHERE b >= 0
GROUP BY b, metric, model_version, labels
