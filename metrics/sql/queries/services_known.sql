-- name: services_known
-- grain: service
-- inputs: stg_services, raw_focus, raw_telemetry, raw_kpis, raw_events
-- Every service the store knows: configured ones with their team, plus any seen in the data
-- (untagged cost shows as '__unallocated__', as in stg_cost).
SELECT service, any_value(team) AS team, bool_or(configured) AS configured
FROM (
    SELECT service, team, true AS configured FROM stg_services
    UNION ALL SELECT DISTINCT coalesce(x_service, '__unallocated__'), x_team, false FROM raw_focus
    UNION ALL SELECT DISTINCT service, NULL, false FROM raw_telemetry
    UNION ALL SELECT DISTINCT service, NULL, false FROM raw_kpis
    UNION ALL SELECT DISTINCT service, NULL, false FROM raw_events
) s
WHERE service IS NOT NULL
GROUP BY service
ORDER BY service
