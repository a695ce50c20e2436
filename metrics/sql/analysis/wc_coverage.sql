-- name: wc_coverage
-- grain: input, source, bucket: distinct instants (n) and rows a source delivered for the service,
--        null values, and how late its rows arrived (mean seconds from their time to their load)
-- inputs: raw_telemetry, raw_kpis, raw_model_health, raw_requests (rows as delivered: a re-collected
--         point counts again; instants, not rows, so a series or variant that ends is not "missing")
-- params: $service, $start, $end, $origin, $bucket_s
-- A source that delivered in the reference window and stops (or thins out, or arrives later than it
-- used to) in the current one is a data problem, so "the data is late" is never mistaken for "the
-- business dropped".
SELECT 'telemetry' AS input, coalesce(source, 'telemetry') AS source,
       floor((epoch(sampled_at) - $origin) / $bucket_s)::BIGINT AS b, count(DISTINCT sampled_at) AS n,
       count(*) FILTER (WHERE value IS NULL) AS nulls, count(*) AS rows, max(sampled_at) AS last_at,
       avg(epoch(_loaded_at) - epoch(sampled_at)) AS lag_s
FROM raw_telemetry
WHERE service = $service AND sampled_at >= $start::TIMESTAMPTZ AND sampled_at < $end::TIMESTAMPTZ
GROUP BY ALL
UNION ALL
SELECT 'kpis', coalesce(source, 'kpis'), floor((epoch(observed_at) - $origin) / $bucket_s)::BIGINT,
       count(DISTINCT observed_at), count(*) FILTER (WHERE value IS NULL), count(*), max(observed_at),
       avg(epoch(_loaded_at) - epoch(coalesce(period_end, observed_at)))
FROM raw_kpis
WHERE service = $service AND observed_at >= $start::TIMESTAMPTZ AND observed_at < $end::TIMESTAMPTZ
GROUP BY ALL
UNION ALL
SELECT 'model_health', coalesce(source, 'model_health'), floor((epoch(window_start) - $origin) / $bucket_s)::BIGINT,
       count(DISTINCT window_start), count(*) FILTER (WHERE value IS NULL), count(*), max(window_start),
       avg(epoch(_loaded_at) - epoch(window_end))
FROM raw_model_health
WHERE service = $service AND window_start >= $start::TIMESTAMPTZ AND window_start < $end::TIMESTAMPTZ
GROUP BY ALL
UNION ALL
SELECT 'requests', coalesce(source, 'requests'), floor((epoch(arrived_at) - $origin) / $bucket_s)::BIGINT,
       count(DISTINCT arrived_at), 0, count(*), max(arrived_at), avg(epoch(_loaded_at) - epoch(arrived_at))
FROM raw_requests
WHERE service = $service AND arrived_at >= $start::TIMESTAMPTZ AND arrived_at < $end::TIMESTAMPTZ
GROUP BY ALL
