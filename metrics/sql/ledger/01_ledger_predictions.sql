-- name: ledger_predictions
-- materialize: true   (a temp table per connection: later views read it several times)
-- grain: service, model_version, day (UTC)
-- inputs: stg_requests, stg_telemetry_delta
-- Predictions served. The request log wins where it has the service on that day; otherwise the
-- Prometheus counter `inference_requests_total` (every status label) is used, as its increase
-- from stg_telemetry_delta (the telemetry layer's one definition, so every page agrees):
--   increase = value − previous value of the same series; the value itself after a reset;
--              on a series' first sample its value if the series began while observed
--              (series_start), else 0 (a baseline, as PromQL's increase())
-- An increase is counted on the day of the later sample.
CREATE OR REPLACE TEMP VIEW ledger_predictions AS
WITH telemetry AS (
    SELECT service, model_version, sampled_at::DATE AS day,
           sum(increase)                                    AS predictions
    FROM stg_telemetry_delta
    WHERE metric = 'inference_requests_total' AND increase IS NOT NULL
    GROUP BY ALL
), requests AS (
    SELECT service, model_version, arrived_at::DATE AS day,
           count(*)                                         AS predictions   -- one row = one request
    FROM stg_requests
    GROUP BY ALL
)
SELECT service, model_version, day, predictions::BIGINT AS predictions,
       'requests' AS predictions_source
FROM requests
UNION ALL
SELECT t.service, t.model_version, t.day, round(t.predictions)::BIGINT, 'telemetry'
FROM telemetry t
WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.service = t.service AND r.day = t.day);
