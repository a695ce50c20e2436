-- name: business_monitoring
-- grain: service
-- inputs: gov_scope, stg_kpis
-- KPI values of the service observed in [window_start, at].
WITH k AS (
    SELECT k.service, max(k.observed_at) AS last_data_at, count(DISTINCT k.kpi) AS kpis,
           count(DISTINCT k.observed_at::DATE) AS days_with_data
    FROM stg_kpis k JOIN gov_scope g USING (service)
    WHERE k.observed_at >= g.window_start AND k.observed_at <= g.at
    GROUP BY k.service
)
SELECT g.service, k.kpis IS NOT NULL AS ok,
       CASE WHEN k.kpis IS NULL THEN 'no KPI values since ' || strftime(g.window_start, '%Y-%m-%d')
            ELSE k.kpis || ' KPIs on ' || k.days_with_data || ' days, newest ' || strftime(k.last_data_at, '%Y-%m-%d %H:%M') END AS detail,
       k.last_data_at, coalesce(k.kpis, 0) AS kpis, coalesce(k.days_with_data, 0) AS days_with_data
FROM gov_scope g LEFT JOIN k USING (service)
