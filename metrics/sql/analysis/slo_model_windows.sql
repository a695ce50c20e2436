-- name: slo_model_windows
-- grain: one row per model-health window and metric of one service (whole-model values, mean over
--        model versions), for windows ending in ($start, $end]
-- inputs: stg_model_health
-- params: $service, $start, $end, $metrics (list of metric names)
SELECT metric, epoch(window_start) AS window_start, epoch(window_end) AS window_end, avg(value) AS value
FROM stg_model_health
WHERE service = $service AND feature IS NULL AND value IS NOT NULL AND list_contains($metrics, metric)
  AND window_end > $start::TIMESTAMPTZ AND window_end <= $end::TIMESTAMPTZ
GROUP BY metric, window_start, window_end
ORDER BY window_end, metric
