-- name: request_increases
-- grain: one sample of inference_requests_total of service $service in [$start, $end)
-- inputs: stg_telemetry
-- params: $service, $start, $end
-- The one place the cost-per-prediction queries take request counts from (included as
-- `{request_increases}` by cost_per_prediction.sql and slo_cost_days.sql): each sample's increase
-- over the series' previous sample, looked for in the hour before $start (a counter silent for
-- longer counts from its next sample on); a drop is a reset (the value itself); NULL on a series'
-- first sample. Filter first, so the service and time filters reach the Parquet scan.
SELECT sampled_at, d FROM (
    SELECT CASE WHEN value >= lag(value) OVER w THEN value - lag(value) OVER w
                WHEN lag(value) OVER w IS NULL THEN NULL ELSE value END AS d, sampled_at
    FROM stg_telemetry
    WHERE service = $service AND metric = 'inference_requests_total'
      AND sampled_at >= $start::TIMESTAMPTZ - INTERVAL 1 HOUR AND sampled_at < $end::TIMESTAMPTZ
    WINDOW w AS (PARTITION BY labels_hash ORDER BY sampled_at))
WHERE sampled_at >= $start::TIMESTAMPTZ
