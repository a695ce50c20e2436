-- name: model_health_series
-- grain: window_start, service, model_version, metric, feature
-- inputs: stg_model_health
-- params: $metrics (list), $service, $model_version, $start, $end (NULL = no filter)
SELECT service, model_version, team, window_start, window_end, metric, feature, value, threshold,
       status, method, sample_size, computed_at
FROM stg_model_health
WHERE list_contains($metrics::VARCHAR[], metric)
  AND ($service IS NULL OR service = $service)
  AND ($model_version IS NULL OR model_version = $model_version)
  AND ($start IS NULL OR window_start >= $start::TIMESTAMPTZ)
  AND ($end IS NULL OR window_start < $end::TIMESTAMPTZ)
ORDER BY service, model_version, metric, feature, window_start
