-- name: freshness
-- grain: layer, service
-- inputs: raw_focus, raw_telemetry, raw_requests, raw_model_health, raw_kpis, raw_events
-- params: $late_after (INTERVAL)
-- The newest data time per layer and service, its row count, and how many rows arrived late.
-- Late-arrival rule: a row is late when its source was already being collected at the row's
-- data time (the data time is at or after the source's first committed load) and the row was
-- loaded (`_loaded_at`) more than $late_after after its data time. A source's first backfill
-- (history older than its first load) is never late, so a store loaded in one go shows 0 late. Reads the raw views (what arrived, as of
-- the session's onepane_as_of), so a re-delivered point counts once per delivery.
WITH rows AS (
    SELECT 'cost' AS layer, coalesce(x_service, '__unallocated__') AS service,
           coalesce(charge_period_end, charge_period_start) AS data_at, _loaded_at, _load_id FROM raw_focus
    UNION ALL SELECT 'telemetry', service, sampled_at, _loaded_at, _load_id FROM raw_telemetry
    UNION ALL SELECT 'requests', service, arrived_at, _loaded_at, _load_id FROM raw_requests
    UNION ALL SELECT 'model_health', service, window_end, _loaded_at, _load_id FROM raw_model_health
    UNION ALL SELECT 'kpis', service, coalesce(period_end, observed_at), _loaded_at, _load_id FROM raw_kpis
    UNION ALL SELECT 'events', service, occurred_at, _loaded_at, _load_id FROM raw_events
), loads AS (
    SELECT load_id, source, min(started_at) OVER (PARTITION BY source) AS source_first_at
    FROM _onepane_loads WHERE status = 'ok'
)
SELECT layer, coalesce(service, '(none)') AS service,
       max(data_at) AS newest_data_at,
       count(*) AS rows,
       count(*) FILTER (WHERE _loaded_at > data_at + $late_after::INTERVAL
                          AND data_at >= l.source_first_at) AS late_rows
FROM rows r
LEFT JOIN loads l ON l.load_id = r._load_id
GROUP BY ALL
ORDER BY layer, service
