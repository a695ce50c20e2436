-- name: accepted_risks_expire
-- grain: service
-- inputs: gov_scope, stg_decisions
-- Accepted risks (decisions of kind accept-risk up to `at`) must carry an expiry date; an expired
-- one is a gap until a later accept-risk or review decision of the service renews or closes it.
WITH d AS (
    SELECT d.* FROM stg_decisions d JOIN gov_scope g USING (service) WHERE d.decided_at <= g.at
),
r AS (
    SELECT a.service, a.decision_id, a.text, a.expires_at,
           a.expires_at IS NULL AS no_expiry,
           a.expires_at <= g.at AND NOT EXISTS (
               SELECT 1 FROM d l WHERE l.service = a.service AND l.kind IN ('accept-risk', 'review')
                 AND l.decided_at >= a.expires_at) AS expired
    FROM d a JOIN gov_scope g USING (service)
    WHERE a.kind = 'accept-risk'
),
agg AS (
    SELECT service, count(*) AS accepted_risks, count(*) FILTER (WHERE no_expiry) AS without_expiry,
           count(*) FILTER (WHERE expired) AS expired,
           min(expires_at) FILTER (WHERE NOT expired) AS next_expiry_at
    FROM r GROUP BY service
)
SELECT g.service, coalesce(a.without_expiry + a.expired, 0) = 0 AS ok,
       CASE WHEN a.accepted_risks IS NULL THEN 'no accepted risks recorded'
            WHEN a.without_expiry + a.expired = 0 THEN a.accepted_risks || ' accepted risk(s), next expiry ' || strftime(a.next_expiry_at, '%Y-%m-%d')
            ELSE concat_ws('; ', CASE WHEN a.without_expiry > 0 THEN a.without_expiry || ' accepted risk(s) without an expiry date' END,
                                 CASE WHEN a.expired > 0 THEN a.expired || ' accepted risk(s) expired and not renewed' END) END AS detail,
       coalesce(a.accepted_risks, 0) AS accepted_risks, a.next_expiry_at
FROM gov_scope g LEFT JOIN agg a USING (service)
