-- name: data_range
-- grain: one row per layer
-- inputs: raw_focus, raw_telemetry, raw_requests, raw_model_health, raw_kpis, raw_events
-- The first and last data time of each layer and its row count, read from the raw views (visible,
-- non-superseded loads; no dedup window, so this stays cheap on every page render). Pages use it to
-- pick a default window and to show "no data yet" when a layer is empty. `rows` counts loaded
-- rows: a point delivered twice counts twice.
SELECT 'cost' AS layer, min(charge_period_start) AS first_at, max(charge_period_start) AS last_at, count(*) AS rows FROM raw_focus
UNION ALL SELECT 'telemetry', min(sampled_at), max(sampled_at), count(*) FROM raw_telemetry
UNION ALL SELECT 'requests', min(arrived_at), max(arrived_at), count(*) FROM raw_requests
UNION ALL SELECT 'model_health', min(window_start), max(window_end), count(*) FROM raw_model_health
UNION ALL SELECT 'kpis', min(observed_at), max(observed_at), count(*) FROM raw_kpis
UNION ALL SELECT 'events', min(occurred_at), max(occurred_at), count(*) FROM raw_events
