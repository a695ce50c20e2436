-- name: service_kpis
-- grain: bucket_at, arm (model version or experiment variant), kpi
-- inputs: stg_kpis
-- params: $service, $start, $end (half-open), $bucket ('hour' | 'day'), $action, $denominator
--         (the service's funnel KPIs; the rate row `conversion` = action / denominator per arm)
-- KPI values per bucket and arm (summed: KPIs are counts or amounts per period), plus conversion.
WITH k AS (
    SELECT date_trunc($bucket, observed_at) AS bucket_at,
           coalesce(model_version, variant, '(all)') AS arm, kpi, sum(value) AS value
    FROM stg_kpis
    WHERE service = $service AND observed_at >= $start AND observed_at < $end
    GROUP BY ALL
)
SELECT bucket_at, arm, kpi, value FROM k
UNION ALL
SELECT bucket_at, arm, 'conversion',
       sum(value) FILTER (WHERE kpi = $action) / nullif(sum(value) FILTER (WHERE kpi = $denominator), 0)
FROM k
WHERE $action IS NOT NULL
GROUP BY ALL
HAVING sum(value) FILTER (WHERE kpi = $denominator) > 0
ORDER BY bucket_at, kpi, arm
