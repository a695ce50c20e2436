-- name: freshness
-- grain: layer, service
-- inputs: stg_cost, stg_telemetry, stg_requests, stg_model_health, stg_kpis, stg_events
-- The newest data time per layer and service, its row count, and how many rows arrived late:
-- rows whose data time is more than $late_after before the moment their load was made
-- (`_loaded_at`), i.e. history that was filled in after the fact.
WITH rows AS (
    SELECT 'cost' AS layer, x_service AS service, charge_period_end AS data_at, _loaded_at AS loaded_at FROM stg_cost
    UNION ALL SELECT 'telemetry', t.service, t.sampled_at, l.started_at
        FROM stg_telemetry t JOIN _onepane_loads l ON l.load_id = t._load_id
    UNION ALL SELECT 'requests', service, arrived_at, l.started_at
        FROM stg_requests q JOIN _onepane_loads l ON l.load_id = q._load_id
    UNION ALL SELECT 'model_health', service, window_end, computed_at FROM stg_model_health
    UNION ALL SELECT 'kpis', k.service, coalesce(k.period_end, k.observed_at), l.started_at
        FROM stg_kpis k JOIN _onepane_loads l ON l.load_id = k._load_id
    UNION ALL SELECT 'events', e.service, e.occurred_at, l.started_at
        FROM stg_events e JOIN _onepane_loads l ON l.load_id = e._load_id
)
SELECT layer, coalesce(service, '(none)') AS service,
       max(data_at) AS newest_data_at,
       count(*) AS rows,
       count(*) FILTER (WHERE loaded_at - data_at > $late_after::INTERVAL) AS late_rows
FROM rows
GROUP BY ALL
ORDER BY layer, service
