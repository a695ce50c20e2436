-- name: release_approved
-- grain: service
-- inputs: gov_scope, stg_events, stg_decisions
-- Every deploy in [window_start, at] needs an `approve` decision of the service recorded after the
-- previous deploy and no later than the deploy itself (one sign-off per release).
WITH deploys AS (
    SELECT e.service, e.occurred_at, e.model_version,
           lag(e.occurred_at) OVER (PARTITION BY e.service ORDER BY e.occurred_at) AS previous_at
    FROM stg_events e JOIN gov_scope g USING (service)
    WHERE e.kind = 'deploy' AND e.occurred_at <= g.at
),
checked AS (
    SELECT d.service, d.occurred_at, d.model_version,
           EXISTS (SELECT 1 FROM stg_decisions a
                   WHERE a.service = d.service AND a.kind = 'approve' AND a.decided_at <= d.occurred_at
                     AND (d.previous_at IS NULL OR a.decided_at > d.previous_at)) AS approved
    FROM deploys d JOIN gov_scope g USING (service)
    WHERE d.occurred_at >= g.window_start
),
agg AS (
    SELECT service, count(*) AS releases, count(*) FILTER (WHERE NOT approved) AS unapproved,
           min(occurred_at) FILTER (WHERE NOT approved) AS first_unapproved_at,
           string_agg(coalesce(model_version, '?') || ' at ' || strftime(occurred_at, '%Y-%m-%d %H:%M'), ', ' ORDER BY occurred_at)
               FILTER (WHERE NOT approved) AS which
    FROM checked GROUP BY service
)
SELECT g.service, coalesce(a.unapproved, 0) = 0 AS ok,
       CASE WHEN a.releases IS NULL THEN 'no release since ' || strftime(g.window_start, '%Y-%m-%d')
            WHEN a.unapproved = 0 THEN a.releases || ' release(s), each approved before it'
            ELSE a.unapproved || ' of ' || a.releases || ' release(s) without an approval before them: ' || a.which END AS detail,
       coalesce(a.releases, 0) AS releases, coalesce(a.unapproved, 0) AS unapproved, a.first_unapproved_at
FROM gov_scope g LEFT JOIN agg a USING (service)
