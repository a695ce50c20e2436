-- name: wc_model_health
-- grain: bucket, metric, feature (mean of the windows starting in the bucket)
-- inputs: stg_model_health
-- params: $service, $start, $end, $origin (epoch seconds of bucket 0), $bucket_s
SELECT floor((epoch(window_start) - $origin) / $bucket_s)::BIGINT AS b,
       metric, feature, avg(value) AS value, sum(sample_size) AS sample_size,
       -- the collector's own verdict (e.g. Evidently's drift test): NULL when it gave none
       bool_or(status = 'drifted') FILTER (WHERE status IS NOT NULL) AS drifted
FROM stg_model_health
WHERE service = $service AND window_start >= $start::TIMESTAMPTZ AND window_start < $end::TIMESTAMPTZ
  AND value IS NOT NULL AND isfinite(value)
GROUP BY ALL
ORDER BY metric, feature, b
