-- name: wc_kpis
-- grain: bucket, kpi (sum over versions and variants of the values observed in the bucket)
-- inputs: stg_kpis
-- params: $service, $start, $end, $origin (epoch seconds of bucket 0), $bucket_s
SELECT floor((epoch(observed_at) - $origin) / $bucket_s)::BIGINT AS b,
       kpi, sum(value) AS value, count(*) AS n
FROM stg_kpis
WHERE service = $service AND observed_at >= $start::TIMESTAMPTZ AND observed_at < $end::TIMESTAMPTZ
GROUP BY ALL
ORDER BY kpi, b
