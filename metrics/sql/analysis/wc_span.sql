-- name: wc_span
-- grain: one row: first and last sample time of the service's data in [$start, $end), per input
-- inputs: raw_telemetry, stg_kpis, stg_model_health, stg_cost (only the time span: no de-duplication needed)
-- native_s: the sampling interval of the most often sampled series (its span / (samples - 1))
SELECT 'telemetry' AS input, min(first_at) AS first_at, max(last_at) AS last_at, sum(n) AS n,
       min((epoch(last_at) - epoch(first_at)) / nullif(n - 1, 0)) AS native_s
FROM (SELECT min(sampled_at) AS first_at, max(sampled_at) AS last_at, count(*) AS n
      FROM raw_telemetry WHERE service = $service AND sampled_at >= $start::TIMESTAMPTZ AND sampled_at < $end::TIMESTAMPTZ
      GROUP BY metric, labels_hash)
UNION ALL
SELECT 'kpis', min(first_at), max(last_at), sum(n), min((epoch(last_at) - epoch(first_at)) / nullif(n - 1, 0))
FROM (SELECT min(observed_at) AS first_at, max(observed_at) AS last_at, count(*) AS n
      FROM stg_kpis WHERE service = $service AND observed_at >= $start::TIMESTAMPTZ AND observed_at < $end::TIMESTAMPTZ
      GROUP BY kpi, model_version, variant)
UNION ALL
SELECT 'model_health', min(window_start), max(window_start), count(*), NULL
FROM stg_model_health WHERE service = $service AND window_start >= $start::TIMESTAMPTZ AND window_start < $end::TIMESTAMPTZ
UNION ALL
SELECT 'cost', min(charge_period_start), max(charge_period_start), count(*), NULL
FROM stg_cost WHERE x_service = $service AND charge_period_start >= $start::TIMESTAMPTZ AND charge_period_start < $end::TIMESTAMPTZ
