-- name: fallback_observed
-- grain: service
-- inputs: gov_scope, stg_fallbacks
-- A fallback series reported for the service in [window_start, at] (zero fallbacks still counts:
-- the rate was observed). The rate counts only the requests of rows that report fallbacks: a
-- telemetry source without a fallback counter says nothing about them.
WITH f AS (
    SELECT f.service, sum(f.requests) FILTER (WHERE f.fallbacks IS NOT NULL) AS requests, sum(f.fallbacks) AS fallbacks, count(f.fallbacks) AS observed
    FROM stg_fallbacks f JOIN gov_scope g USING (service)
    WHERE f.minute >= g.window_start AND f.minute <= g.at
    GROUP BY f.service
)
SELECT g.service, coalesce(f.observed, 0) > 0 AS ok,
       CASE WHEN coalesce(f.observed, 0) = 0 THEN 'no fallback counter or request-log fallback flag since ' || strftime(g.window_start, '%Y-%m-%d')
            ELSE 'fallback rate ' || round(100.0 * f.fallbacks / nullif(f.requests, 0), 3) || '% (' || f.fallbacks::BIGINT || ' of ' || f.requests::BIGINT || ' requests)' END AS detail,
       f.requests::BIGINT AS requests, f.fallbacks::BIGINT AS fallbacks,
       f.fallbacks / nullif(f.requests, 0) AS fallback_rate
FROM gov_scope g LEFT JOIN f USING (service)
