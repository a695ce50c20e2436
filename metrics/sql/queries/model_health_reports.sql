-- name: model_health_reports
-- grain: window_start, service, model_version (windows with an HTML report)
-- inputs: stg_model_health
-- params: $service, $model_version, $start, $end (NULL = no filter)
SELECT service, model_version, team, window_start, window_end, value AS drift_share, status,
       sample_size, report_path, computed_at
FROM stg_model_health
WHERE metric = 'drift_share' AND report_path IS NOT NULL
  AND ($service IS NULL OR service = $service)
  AND ($model_version IS NULL OR model_version = $model_version)
  AND ($start IS NULL OR window_start >= $start::TIMESTAMPTZ)
  AND ($end IS NULL OR window_start < $end::TIMESTAMPTZ)
ORDER BY service, model_version, window_start
