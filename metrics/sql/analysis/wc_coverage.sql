-- name: wc_coverage
-- grain: input, source, bucket: how many rows each source delivered for the service
-- inputs: raw_telemetry (rows as delivered: a re-collected point counts again), stg_kpis, stg_model_health, stg_requests
-- params: $service, $start, $end, $origin, $bucket_s
-- A source that delivered in the previous window and stops (or thins out) in the current one is a
-- data problem, so "the data is late" is never mistaken for "the business dropped".
SELECT 'telemetry' AS input, coalesce(source, 'telemetry') AS source,
       floor((epoch(sampled_at) - $origin) / $bucket_s)::BIGINT AS b, count(*) AS n,
       count(*) FILTER (WHERE value IS NULL) AS nulls, max(sampled_at) AS last_at
FROM raw_telemetry
WHERE service = $service AND sampled_at >= $start::TIMESTAMPTZ AND sampled_at < $end::TIMESTAMPTZ
GROUP BY ALL
UNION ALL
SELECT 'kpis', coalesce(source, 'kpis'), floor((epoch(observed_at) - $origin) / $bucket_s)::BIGINT, count(*),
       count(*) FILTER (WHERE value IS NULL), max(observed_at)
FROM stg_kpis
WHERE service = $service AND observed_at >= $start::TIMESTAMPTZ AND observed_at < $end::TIMESTAMPTZ
GROUP BY ALL
UNION ALL
SELECT 'model_health', coalesce(source, 'model_health'), floor((epoch(window_start) - $origin) / $bucket_s)::BIGINT,
       count(*), count(*) FILTER (WHERE value IS NULL), max(window_start)
FROM stg_model_health
WHERE service = $service AND window_start >= $start::TIMESTAMPTZ AND window_start < $end::TIMESTAMPTZ
GROUP BY ALL
UNION ALL
SELECT 'requests', coalesce(source, 'requests'), floor((epoch(arrived_at) - $origin) / $bucket_s)::BIGINT, count(*),
       0, max(arrived_at)
FROM stg_requests
WHERE service = $service AND arrived_at >= $start::TIMESTAMPTZ AND arrived_at < $end::TIMESTAMPTZ
GROUP BY ALL
