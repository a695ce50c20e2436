-- name: data_freshness
-- grain: service
-- inputs: gov_scope, stg_telemetry, stg_requests, stg_kpis
-- At `at`, the newest data of each feed the service has (technical: telemetry and request logs;
-- business: KPIs) is no older than its freshness SLO (slo.freshness, else 1d as on Data health).
-- Model-health windows and bills arrive on their own cadence and are judged by other controls.
WITH feeds AS (
    SELECT t.service, 'technical' AS feed, max(t.sampled_at) AS newest_at FROM stg_telemetry t
    JOIN gov_scope g USING (service) WHERE t.sampled_at <= g.at GROUP BY ALL
    UNION ALL
    SELECT r.service, 'technical', max(r.arrived_at) FROM stg_requests r
    JOIN gov_scope g USING (service) WHERE r.arrived_at <= g.at GROUP BY ALL
    UNION ALL
    SELECT k.service, 'business', max(coalesce(k.period_end, k.observed_at)) FROM stg_kpis k
    JOIN gov_scope g USING (service) WHERE k.observed_at <= g.at GROUP BY ALL
),
f AS (
    SELECT service, feed, max(newest_at) AS newest_at FROM feeds GROUP BY ALL
),
agg AS (
    SELECT f.service, count(*) AS feeds,
           string_agg(f.feed || ' newest ' || strftime(f.newest_at, '%Y-%m-%d %H:%M'), ', ' ORDER BY f.feed)
               FILTER (WHERE g.at - least(f.newest_at, g.at) > g.freshness_limit) AS stale_feeds,
           min(f.newest_at) AS oldest_newest_at
    FROM f JOIN gov_scope g USING (service) GROUP BY f.service
)
SELECT g.service, a.feeds IS NOT NULL AND a.stale_feeds IS NULL AS ok,
       CASE WHEN a.feeds IS NULL THEN 'no technical or business data at all'
            WHEN a.stale_feeds IS NOT NULL THEN 'older than ' || g.freshness_slo || ': ' || a.stale_feeds
            ELSE a.feeds || ' feed(s) within ' || g.freshness_slo || ', oldest newest point ' || strftime(a.oldest_newest_at, '%Y-%m-%d %H:%M') END AS detail,
       g.freshness_slo, a.stale_feeds, a.oldest_newest_at
FROM gov_scope g LEFT JOIN agg a USING (service)
