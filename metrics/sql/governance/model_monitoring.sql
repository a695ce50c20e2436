-- name: model_monitoring
-- grain: service
-- inputs: gov_scope, stg_model_health
-- Model-health windows of the service that ended in (window_start, at].
WITH m AS (
    SELECT m.service, max(m.window_end) AS last_window_end, count(DISTINCT m.metric) AS metrics,
           count(DISTINCT (m.window_start, m.window_end)) AS windows
    FROM stg_model_health m JOIN gov_scope g USING (service)
    WHERE m.window_end > g.window_start AND m.window_end <= g.at
    GROUP BY m.service
)
SELECT g.service, m.windows IS NOT NULL AS ok,
       CASE WHEN m.windows IS NULL THEN 'no model-health window ended since ' || strftime(g.window_start, '%Y-%m-%d')
            ELSE m.metrics || ' metrics over ' || m.windows || ' windows, newest ending ' || strftime(m.last_window_end, '%Y-%m-%d %H:%M') END AS detail,
       m.last_window_end, coalesce(m.metrics, 0) AS metrics, coalesce(m.windows, 0) AS windows
FROM gov_scope g LEFT JOIN m USING (service)
