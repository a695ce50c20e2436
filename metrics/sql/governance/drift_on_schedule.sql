-- name: drift_on_schedule
-- grain: service
-- inputs: gov_scope, stg_model_health
-- Drift windows (drift_share, drift_score, prediction_drift) that ended in (window_start, at]; on
-- schedule when the newest one ended no longer ago than one window length (the median) + 1 day.
WITH w AS (
    SELECT DISTINCT m.service, m.window_start, m.window_end,
           max(CASE WHEN m.status = 'drifted' THEN 1 ELSE 0 END) OVER (PARTITION BY m.service, m.window_start, m.window_end) AS drifted
    FROM stg_model_health m JOIN gov_scope g USING (service)
    WHERE m.metric IN ('drift_share', 'drift_score', 'prediction_drift')
      AND m.window_end > g.window_start AND m.window_end <= g.at
),
a AS (
    SELECT service, max(window_end) AS last_window_end, count(*) AS windows, sum(drifted) AS drifted_windows,
           to_seconds(CAST(median(epoch(window_end) - epoch(window_start)) AS BIGINT)) AS window_length
    FROM w GROUP BY service
)
SELECT g.service, a.windows IS NOT NULL AND g.at - a.last_window_end <= a.window_length + INTERVAL 1 day AS ok,
       CASE WHEN a.windows IS NULL THEN 'no drift window ended since ' || strftime(g.window_start, '%Y-%m-%d')
            WHEN g.at - a.last_window_end > a.window_length + INTERVAL 1 day
                THEN 'behind schedule: newest drift window ended ' || strftime(a.last_window_end, '%Y-%m-%d %H:%M') || ', windows are ' || a.window_length
            ELSE a.windows || ' drift windows of ' || a.window_length || ', newest ending ' || strftime(a.last_window_end, '%Y-%m-%d %H:%M')
                 || ', ' || a.drifted_windows || ' drifted' END AS detail,
       a.last_window_end, a.window_length::VARCHAR AS window_length, coalesce(a.windows, 0) AS windows,
       coalesce(a.drifted_windows, 0) AS drifted_windows
FROM gov_scope g LEFT JOIN a USING (service)
