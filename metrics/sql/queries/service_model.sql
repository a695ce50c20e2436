-- name: service_model
-- grain: window_start, model_version, metric, feature
-- inputs: stg_model_health
-- params: $service, $start, $end (windows starting in [start, end))
-- One service's model health results: whole-model metrics (feature NULL: drift_share, accuracy,
-- ece, fairness gaps, ...) and per-feature drift scores, with their thresholds, status and report.
SELECT window_start, window_end, model_version, metric, feature, value, threshold, status, method,
       sample_size, report_path
FROM stg_model_health
WHERE service = $service AND window_start >= $start AND window_start < $end
ORDER BY window_start, model_version, metric, feature
