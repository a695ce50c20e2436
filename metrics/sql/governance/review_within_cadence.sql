-- name: review_within_cadence
-- grain: service
-- inputs: gov_scope, stg_decisions
-- A decision of kind `review` recorded in (window_start, at]; the window is the tier's cadence.
-- The declared `last_review` of the inventory is shown, never counted.
WITH r AS (
    SELECT d.service, arg_max(d.decided_at, d.decided_at) AS last_review_at,
           arg_max(d.decided_by, d.decided_at) AS reviewed_by, arg_max(d.text, d.decided_at) AS text
    FROM stg_decisions d JOIN gov_scope g USING (service)
    WHERE d.kind = 'review' AND d.decided_at > g.window_start AND d.decided_at <= g.at
    GROUP BY d.service
)
SELECT g.service, r.last_review_at IS NOT NULL AS ok,
       CASE WHEN r.last_review_at IS NULL THEN 'no review decision since ' || strftime(g.window_start, '%Y-%m-%d')
                 || coalesce(' (declared last review ' || strftime(g.declared_last_review, '%Y-%m-%d') || ' has no recorded decision)', '')
            ELSE 'reviewed ' || strftime(r.last_review_at, '%Y-%m-%d') || coalesce(' by ' || r.reviewed_by, '') || ': ' || r.text END AS detail,
       r.last_review_at, r.reviewed_by, g.declared_last_review
FROM gov_scope g LEFT JOIN r USING (service)
