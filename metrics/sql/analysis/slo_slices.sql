-- name: slo_slices
-- grain: one time slice (bucket) of one service: requests, errors, latency histogram counts at the
--        SLO threshold, all from counter increases in stg_telemetry
-- inputs: stg_telemetry
-- params: $service, $start, $end, $origin, $bucket_s, $threshold_s (latency SLO; NULL = none)
-- The increase seen by a sample at time t happened before t, so it belongs to the slice ending at
-- t: slice b covers [$origin + b·$bucket_s, $origin + (b+1)·$bucket_s).
-- A request is slow when it is above the histogram bucket `le` = the threshold (or the smallest
-- bucket boundary ≥ the threshold, so a threshold between boundaries errs on the generous side).
WITH s AS (
    -- de-duplicated at write: the range filter reaches the scan
    SELECT sampled_at, metric, labels_hash, value,
           coalesce(json_extract_string(labels, '$.status'), json_extract_string(labels, '$.code')) AS status,
           TRY_CAST(json_extract_string(labels, '$.le') AS DOUBLE) AS le
    FROM stg_telemetry
    WHERE service = $service
      AND metric IN ('inference_requests_total', 'inference_request_duration_seconds_bucket',
                     'inference_request_duration_seconds_count')
      AND sampled_at >= $start::TIMESTAMPTZ - INTERVAL 10 MINUTE AND sampled_at <= $end::TIMESTAMPTZ
),
d AS (
    SELECT *, CASE WHEN value >= lag(value) OVER w THEN value - lag(value) OVER w
                   WHEN lag(value) OVER w IS NULL THEN NULL ELSE value END AS delta
    FROM s WINDOW w AS (PARTITION BY metric, labels_hash ORDER BY sampled_at)
),
cut AS (
    SELECT min(le) AS le FROM s WHERE metric = 'inference_request_duration_seconds_bucket'
      AND le >= $threshold_s
)
SELECT (ceil((epoch(sampled_at) - $origin) / $bucket_s) - 1)::BIGINT AS b,
       sum(delta) FILTER (WHERE metric = 'inference_requests_total') AS requests,
       sum(delta) FILTER (WHERE metric = 'inference_requests_total'
                          AND NOT regexp_matches(coalesce(status, '200'), '^(2|3)\d\d$|^ok$|^success$')) AS errors,
       sum(delta) FILTER (WHERE metric = 'inference_request_duration_seconds_count') AS observed,
       sum(delta) FILTER (WHERE metric = 'inference_request_duration_seconds_bucket'
                          AND le = (SELECT le FROM cut)) AS fast
FROM d
WHERE sampled_at > $start::TIMESTAMPTZ
GROUP BY ALL
ORDER BY b
