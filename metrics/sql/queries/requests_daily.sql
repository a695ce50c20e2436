-- name: requests_daily
-- grain: day, service, model_version
-- inputs: stg_telemetry (inference_requests_total), stg_requests
-- params: $start, $end (half-open), $services (VARCHAR[]; empty = all: the `-- when: services` line is dropped)
-- Predictions served per day: the increase of the cumulative counter `inference_requests_total`,
-- attributed to the day of the sample, like Prometheus' increase(). Where a service has no counter
-- for a day, request logs (one row per request) are counted instead; never both.
-- The increase is stg_telemetry_delta's, row for row (tests/test_telemetry_rollups.py holds it to
-- that view), computed filter-first so the service, metric and time filters reach the Parquet scan:
-- a sample's previous value is the one before it in the window, else its series' last non-NULL
-- value before $start (`carry`: an aggregate, no sort, over the day before $start; further back
-- only for the series that day does not have - a new or long-silent series).
-- Errors, as in the telemetry summary: status >= 500 or error/failed/failure/fail/5xx.
WITH win AS (
    SELECT sampled_at, labels, labels_hash, service, model_version, value, metric_type, series_start
    FROM stg_telemetry
    WHERE metric = 'inference_requests_total'
      AND sampled_at >= $start AND sampled_at < $end
      AND list_contains($services::VARCHAR[], service)   -- when: services
),
near AS (           -- each series' last non-NULL value in the day before $start
    SELECT service, labels_hash, arg_max(value, sampled_at) AS value
    FROM stg_telemetry
    WHERE metric = 'inference_requests_total' AND value IS NOT NULL
      AND sampled_at >= $start::TIMESTAMPTZ - INTERVAL 1 DAY AND sampled_at < $start
      AND list_contains($services::VARCHAR[], service)   -- when: services
    GROUP BY ALL
),
missing AS (        -- series of the window silent (or new) for that day: look further back
    SELECT DISTINCT w.labels_hash FROM win w
    ANTI JOIN near n ON n.labels_hash = w.labels_hash AND n.service IS NOT DISTINCT FROM w.service
),
far AS (            -- for those only: the last non-NULL value before that day (no scan when none)
    SELECT service, labels_hash, arg_max(value, sampled_at) AS value
    FROM stg_telemetry
    WHERE metric = 'inference_requests_total' AND value IS NOT NULL
      AND sampled_at < $start::TIMESTAMPTZ - INTERVAL 1 DAY
      AND list_contains($services::VARCHAR[], service)   -- when: services
      AND labels_hash IN (SELECT labels_hash FROM missing)
    GROUP BY ALL
),
carry AS (          -- each series' last non-NULL value before $start: lag() of its first sample
    SELECT * FROM near
    UNION ALL
    SELECT f.service, f.labels_hash, f.value FROM far f
    ANTI JOIN near n ON n.labels_hash = f.labels_hash AND n.service IS NOT DISTINCT FROM f.service
),
prev AS (
    SELECT w.*, coalesce(lag(w.value IGNORE NULLS) OVER (PARTITION BY w.service, w.labels_hash ORDER BY w.sampled_at),
                         c.value) AS prev_value
    FROM win w
    LEFT JOIN carry c ON c.labels_hash = w.labels_hash AND c.service IS NOT DISTINCT FROM w.service
),
inc AS (
    SELECT sampled_at, service, model_version,
           coalesce(json_extract_string(labels, '$.status'), json_extract_string(labels, '$.code')) AS status,
           CASE WHEN NOT (metric_type IS NULL OR metric_type IN ('counter', 'histogram', 'summary', 'unknown', 'untyped'))
                     OR value IS NULL OR isnan(value) THEN NULL
                WHEN prev_value IS NULL OR isnan(prev_value) THEN CASE WHEN coalesce(series_start, false) THEN value ELSE 0 END
                WHEN value < prev_value THEN value
                ELSE value - prev_value END AS increase
    FROM prev
),
counter AS (
    SELECT date_trunc('day', sampled_at) AS day, service, model_version,
           sum(increase) AS requests,
           coalesce(sum(increase) FILTER (WHERE try_cast(status AS INTEGER) >= 500
                                          OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx')), 0) AS errors
    FROM inc
    GROUP BY ALL
),
logs AS (
    SELECT date_trunc('day', arrived_at) AS day, service, model_version,
           count(*)::DOUBLE AS requests,
           count(*) FILTER (WHERE try_cast(status AS INTEGER) >= 500
                              OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx'))::DOUBLE AS errors
    FROM stg_requests
    WHERE arrived_at >= $start AND arrived_at < $end
      AND list_contains($services::VARCHAR[], service)   -- when: services
    GROUP BY ALL
)
SELECT day, service, model_version, requests, errors, 'telemetry' AS measured_by FROM counter
UNION ALL
SELECT l.day, l.service, l.model_version, l.requests, l.errors, 'request_logs' FROM logs l
ANTI JOIN counter c ON c.day = l.day AND c.service = l.service
ORDER BY day, service, model_version
