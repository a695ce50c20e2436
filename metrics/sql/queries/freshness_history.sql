-- name: freshness_history
-- grain: layer, source, load (one row per load that delivered data)
-- inputs: raw_focus, raw_telemetry, raw_requests, raw_model_health, raw_kpis (what arrived, as of
--         the session's onepane_as_of)
-- When each source's data arrived (its load time, `arrived_at`) and how new the newest data of that
-- load was (`newest_data_at`): their difference is the data's age on arrival, which the Data health
-- page draws over time against the freshness expected of it, so a feed that stops is seen at a glance.
WITH rows AS (
    SELECT 'cost' AS layer, coalesce(x_source, 'billing') AS source,
           coalesce(charge_period_end, charge_period_start) AS data_at, _loaded_at, _load_id FROM raw_focus
    UNION ALL SELECT 'telemetry', coalesce(source, 'telemetry'), sampled_at, _loaded_at, _load_id FROM raw_telemetry
    UNION ALL SELECT 'requests', coalesce(source, 'requests'), arrived_at, _loaded_at, _load_id FROM raw_requests
    UNION ALL SELECT 'model_health', coalesce(source, 'model_health'), window_end, _loaded_at, _load_id FROM raw_model_health
    UNION ALL SELECT 'kpis', coalesce(source, 'kpis'), coalesce(period_end, observed_at), _loaded_at, _load_id FROM raw_kpis
)
SELECT layer, source, _load_id AS load_id, max(_loaded_at) AS arrived_at, max(data_at) AS newest_data_at,
       count(*) AS rows
FROM rows
GROUP BY ALL
ORDER BY layer, source, arrived_at
