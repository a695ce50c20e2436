-- name: wc_span
-- grain: service, input: first and last sample time of the service's data in [$start, $end)
-- inputs: raw_telemetry, stg_kpis, raw_model_health, stg_cost (only the time span: no de-duplication
--         needed; KPIs de-duplicated, as their count gives the sampling interval)
-- params: $service (NULL: every service, so the all-services answer reads the span once), $start, $end
-- native_s: the sampling interval of the most often sampled series (its span / (samples - 1))
SELECT service, 'telemetry' AS input, min(first_at) AS first_at, max(last_at) AS last_at, sum(n) AS n,
       min((epoch(last_at) - epoch(first_at)) / nullif(n - 1, 0)) AS native_s
FROM (SELECT service, min(sampled_at) AS first_at, max(sampled_at) AS last_at, count(*) AS n
      FROM raw_telemetry WHERE coalesce(service = $service, service IS NOT NULL)
        AND sampled_at >= $start::TIMESTAMPTZ AND sampled_at < $end::TIMESTAMPTZ
      GROUP BY service, metric, labels_hash)
GROUP BY service
UNION ALL
SELECT service, 'kpis', min(first_at), max(last_at), sum(n), min((epoch(last_at) - epoch(first_at)) / nullif(n - 1, 0))
FROM (SELECT service, min(observed_at) AS first_at, max(observed_at) AS last_at, count(*) AS n
      FROM stg_kpis WHERE coalesce(service = $service, service IS NOT NULL)
        AND observed_at >= $start::TIMESTAMPTZ AND observed_at < $end::TIMESTAMPTZ
      GROUP BY service, kpi, model_version, variant)
GROUP BY service
UNION ALL
SELECT service, 'model_health', min(window_start), max(window_start), count(*), NULL
FROM raw_model_health WHERE coalesce(service = $service, service IS NOT NULL)
  AND window_start >= $start::TIMESTAMPTZ AND window_start < $end::TIMESTAMPTZ
GROUP BY service
UNION ALL
SELECT x_service, 'cost', min(charge_period_start), max(charge_period_start), count(*), NULL
FROM stg_cost WHERE coalesce(x_service = $service, x_service IS NOT NULL)
  AND charge_period_start >= $start::TIMESTAMPTZ AND charge_period_start < $end::TIMESTAMPTZ
GROUP BY x_service
