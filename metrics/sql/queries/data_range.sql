-- name: data_range
-- grain: one row per layer
-- inputs: stg_cost, stg_telemetry, stg_requests, stg_model_health, stg_kpis, stg_events
-- The first and last data time of each layer and its row count: pages use it to pick a default
-- window and to show "no data yet" when a layer is empty.
SELECT 'cost' AS layer, min(charge_period_start) AS first_at, max(charge_period_start) AS last_at, count(*) AS rows FROM stg_cost
UNION ALL SELECT 'telemetry', min(sampled_at), max(sampled_at), count(*) FROM stg_telemetry
UNION ALL SELECT 'requests', min(arrived_at), max(arrived_at), count(*) FROM stg_requests
UNION ALL SELECT 'model_health', min(window_start), max(window_end), count(*) FROM stg_model_health
UNION ALL SELECT 'kpis', min(observed_at), max(observed_at), count(*) FROM stg_kpis
UNION ALL SELECT 'events', min(occurred_at), max(occurred_at), count(*) FROM stg_events
