-- name: services_known
-- grain: service
-- inputs: stg_services, stg_cost, stg_telemetry, stg_kpis, stg_events
-- Every service the store knows: configured ones with their team, plus any seen in the data.
SELECT service, any_value(team) AS team, bool_or(configured) AS configured
FROM (
    SELECT service, team, true AS configured FROM stg_services
    UNION ALL SELECT DISTINCT x_service, x_team, false FROM stg_cost
    UNION ALL SELECT DISTINCT service, NULL, false FROM stg_telemetry
    UNION ALL SELECT DISTINCT service, NULL, false FROM stg_kpis
    UNION ALL SELECT DISTINCT service, NULL, false FROM stg_events
) s
WHERE service IS NOT NULL
GROUP BY service
ORDER BY service
