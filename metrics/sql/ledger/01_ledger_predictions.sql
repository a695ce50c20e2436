-- name: ledger_predictions
-- materialize: true   (a temp table per connection: later views read it several times)
-- grain: service, model_version, day (UTC)
-- inputs: stg_requests, stg_telemetry
-- Predictions served. The request log wins where it has the service on that day; otherwise the
-- Prometheus counter `inference_requests_total` (every status label) is used, as its increase:
--   increase = value - previous value of the same series (metric, labels_hash)
--              | value                    when value < previous (a counter reset restarts at 0)
--              | 0                        for a series' first sample (its baseline, as PromQL's
--                                         increase() does: what came before it is unknown)
-- An increase is counted on the day of the later sample.
CREATE OR REPLACE TEMP VIEW ledger_predictions AS
WITH counter AS (
    SELECT service, model_version, sampled_at, value,
           lag(value) OVER (PARTITION BY metric, labels_hash ORDER BY sampled_at) AS prev
    FROM stg_telemetry
    WHERE metric = 'inference_requests_total' AND value IS NOT NULL AND NOT isnan(value)
), telemetry AS (
    SELECT service, model_version, sampled_at::DATE AS day,
           sum(CASE WHEN prev IS NULL THEN 0
                    WHEN value < prev THEN value
                    ELSE value - prev END)                  AS predictions
    FROM counter
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
