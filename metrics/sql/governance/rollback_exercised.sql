-- name: rollback_exercised
-- grain: service
-- inputs: gov_scope, stg_events
-- A rollback event (kind rollback, or a deploy whose detail is `rollback`) in [window_start, at]:
-- a real rollback or a drill proves the rollback procedure works.
WITH r AS (
    SELECT e.service, max(e.occurred_at) AS last_rollback_at, count(*) AS rollbacks,
           arg_max(e.model_version, e.occurred_at) AS model_version, arg_max(e.detail, e.occurred_at) AS detail
    FROM stg_events e JOIN gov_scope g USING (service)
    WHERE e.kind = 'rollback' AND e.occurred_at >= g.window_start AND e.occurred_at <= g.at
    GROUP BY e.service
)
SELECT g.service, r.rollbacks IS NOT NULL AS ok,
       CASE WHEN r.rollbacks IS NULL THEN 'no rollback exercised since ' || strftime(g.window_start, '%Y-%m-%d')
            ELSE r.rollbacks || ' rollback(s), newest ' || strftime(r.last_rollback_at, '%Y-%m-%d %H:%M')
                 || coalesce(' to ' || r.model_version, '') || coalesce(': ' || r.detail, '') END AS detail,
       r.last_rollback_at, coalesce(r.rollbacks, 0) AS rollbacks, r.model_version
FROM gov_scope g LEFT JOIN r USING (service)
