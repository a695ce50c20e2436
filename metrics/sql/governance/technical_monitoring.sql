-- name: technical_monitoring
-- grain: service
-- inputs: gov_scope, stg_telemetry, stg_requests
-- Telemetry samples or request-log rows of the service in [window_start, at].
WITH data AS (
    SELECT t.service, t.sampled_at AS data_at FROM stg_telemetry t JOIN gov_scope g USING (service)
    WHERE t.sampled_at >= g.window_start AND t.sampled_at <= g.at
    UNION ALL
    SELECT r.service, r.arrived_at FROM stg_requests r JOIN gov_scope g USING (service)
    WHERE r.arrived_at >= g.window_start AND r.arrived_at <= g.at
),
agg AS (
    SELECT service, max(data_at) AS last_data_at, count(DISTINCT data_at::DATE) AS days_with_data,
           count(*) AS samples
    FROM data GROUP BY service
)
SELECT g.service, coalesce(a.samples, 0) > 0 AS ok,
       CASE WHEN a.samples IS NULL THEN 'no telemetry or request logs since ' || strftime(g.window_start, '%Y-%m-%d')
            ELSE a.samples || ' samples on ' || a.days_with_data || ' days, newest ' || strftime(a.last_data_at, '%Y-%m-%d %H:%M') END AS detail,
       a.last_data_at, coalesce(a.days_with_data, 0) AS days_with_data, coalesce(a.samples, 0) AS samples
FROM gov_scope g LEFT JOIN agg a USING (service)
