-- name: wc_telemetry
-- grain: bucket, metric, model_version, le, status, kind, gpu (one row per group of samples)
-- inputs: stg_telemetry
-- params: $service, $start, $end, $origin (epoch seconds of bucket 0), $bucket_s, $gpus (labels
--         values that mean a GPU of this service), $own_unlabelled (TRUE: GPU series without a
--         service label belong to $service because it is the only service with telemetry)
-- Counters (names ending _total, _count, _sum, _bucket) become increases between consecutive
-- samples of one series (a drop is a counter reset: the new value is the increase), assigned to the
-- bucket of the later sample; gauges are averaged. `busy_s` is Σ value/100 × seconds-to-next-sample
-- for utilisation gauges (GPU-busy seconds), `idle_s` the seconds with utilisation ≤ 1 %; the
-- last sample of a series covers as long as the interval before it (capped at 60 s).
WITH s AS (
    SELECT sampled_at, metric, labels, labels_hash, model_version, value,
           json_extract_string(labels, '$.le') AS le,
           json_extract_string(labels, '$.status') AS status,
           json_extract_string(labels, '$.kind') AS kind,
           coalesce(json_extract_string(labels, '$.UUID'), json_extract_string(labels, '$.gpu'),
                    json_extract_string(labels, '$.Hostname')) AS gpu
    FROM stg_telemetry
    WHERE sampled_at >= $start::TIMESTAMPTZ - INTERVAL 10 MINUTE AND sampled_at < $end::TIMESTAMPTZ
      AND (service = $service
           OR (metric LIKE 'DCGM\_%' ESCAPE '\' AND (
                 json_extract_string(labels, '$.UUID') IN (SELECT unnest($gpus::VARCHAR[]))
                 OR json_extract_string(labels, '$.Hostname') IN (SELECT unnest($gpus::VARCHAR[]))
                 OR (service IS NULL AND $own_unlabelled))))
),
d AS (
    SELECT *,
           CASE WHEN regexp_matches(metric, '(_total|_count|_sum|_bucket)$') THEN
                CASE WHEN value >= lag(value) OVER w THEN value - lag(value) OVER w
                     WHEN lag(value) OVER w IS NULL THEN NULL ELSE value END END AS delta,
           least(coalesce(epoch(lead(sampled_at) OVER w) - epoch(sampled_at),
                          epoch(sampled_at) - epoch(lag(sampled_at) OVER w)), 60.0) AS dt
    FROM s
    WINDOW w AS (PARTITION BY metric, labels_hash ORDER BY sampled_at)
)
SELECT floor((epoch(sampled_at) - $origin) / $bucket_s)::BIGINT AS b,
       metric, model_version, le, status, kind, gpu,
       sum(delta) AS delta,
       avg(value) AS mean,
       sum(value / 100.0 * dt) AS busy_s,
       sum(CASE WHEN value <= 1 THEN dt END) AS idle_s,
       sum(dt) AS covered_s,
       count(*) AS samples,
       count(*) FILTER (WHERE value IS NULL) AS nulls
FROM d
WHERE sampled_at >= $start::TIMESTAMPTZ
GROUP BY ALL
