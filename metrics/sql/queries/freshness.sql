-- name: freshness
-- grain: layer, service
-- inputs: raw_focus, raw_telemetry, raw_requests, raw_model_health, raw_kpis, raw_events
-- params: $late_after (INTERVAL)
-- The newest data time per layer and service, its row count, and how many rows arrived late:
-- rows whose data time is more than $late_after before the moment their load was made
-- (`_loaded_at`), i.e. history filled in after the fact. Reads the raw views (what arrived, as of
-- the session's onepane_as_of), so a re-delivered point counts once per delivery.
WITH rows AS (
    SELECT 'cost' AS layer, coalesce(x_service, '__unallocated__') AS service,
           coalesce(charge_period_end, charge_period_start) AS data_at, _loaded_at FROM raw_focus
    UNION ALL SELECT 'telemetry', service, sampled_at, _loaded_at FROM raw_telemetry
    UNION ALL SELECT 'requests', service, arrived_at, _loaded_at FROM raw_requests
    UNION ALL SELECT 'model_health', service, window_end, _loaded_at FROM raw_model_health
    UNION ALL SELECT 'kpis', service, coalesce(period_end, observed_at), _loaded_at FROM raw_kpis
    UNION ALL SELECT 'events', service, occurred_at, _loaded_at FROM raw_events
)
SELECT layer, coalesce(service, '(none)') AS service,
       max(data_at) AS newest_data_at,
       count(*) AS rows,
       count(*) FILTER (WHERE _loaded_at - data_at > $late_after::INTERVAL) AS late_rows
FROM rows
GROUP BY ALL
ORDER BY layer, service
