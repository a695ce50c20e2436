-- name: wc_services
-- grain: one row per service with data or change events in [$start, $end)
-- inputs: raw_telemetry, raw_requests, raw_kpis, raw_model_health, stg_cost, raw_events
-- params: $start, $end
-- The services what-changed analyses when no service is given (time-range filters only, so DuckDB
-- prunes row groups; no de-duplication is needed to know that a service has data, so the raw
-- tables are read, not the de-duplicating stg_ views, except stg_cost, which names the service).
SELECT service FROM (
    SELECT DISTINCT service FROM raw_telemetry
    WHERE sampled_at >= $start::TIMESTAMPTZ AND sampled_at < $end::TIMESTAMPTZ AND service IS NOT NULL
    UNION SELECT DISTINCT service FROM raw_requests
    WHERE arrived_at >= $start::TIMESTAMPTZ AND arrived_at < $end::TIMESTAMPTZ AND service IS NOT NULL
    UNION SELECT DISTINCT service FROM raw_kpis
    WHERE observed_at >= $start::TIMESTAMPTZ AND observed_at < $end::TIMESTAMPTZ AND service IS NOT NULL
    UNION SELECT DISTINCT service FROM raw_model_health
    WHERE window_start >= $start::TIMESTAMPTZ AND window_start < $end::TIMESTAMPTZ AND service IS NOT NULL
    UNION SELECT DISTINCT x_service FROM stg_cost
    WHERE charge_period_start >= $start::TIMESTAMPTZ AND charge_period_start < $end::TIMESTAMPTZ
      AND x_service IS NOT NULL AND x_service <> '__unallocated__'
    UNION SELECT DISTINCT service FROM raw_events
    WHERE occurred_at >= $start::TIMESTAMPTZ AND occurred_at < $end::TIMESTAMPTZ AND service IS NOT NULL
)
ORDER BY service
