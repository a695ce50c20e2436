-- name: model_health_drift
-- grain: window_start, service, model_version, feature
-- inputs: stg_model_health
-- params: $service, $model_version, $start, $end (NULL = no filter)
SELECT service, model_version, team, window_start, window_end, feature,
       value AS score, status, method, threshold, sample_size, report_path
FROM stg_model_health
WHERE metric = 'drift_score'
  AND ($service IS NULL OR service = $service)
  AND ($model_version IS NULL OR model_version = $model_version)
  AND ($start IS NULL OR window_start >= $start::TIMESTAMPTZ)
  AND ($end IS NULL OR window_start < $end::TIMESTAMPTZ)
ORDER BY service, model_version, feature, window_start
