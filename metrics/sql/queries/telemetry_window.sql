-- name: telemetry_window
-- grain: one sample of one series of service $service in [$start, $end)
-- inputs: stg_telemetry_delta
-- The samples the telemetry summary reads, computed once per summary into the temporary table
-- `_window` (the increase of each sample already accounts for the sample before the window).
SELECT sampled_at, metric, labels_hash, model_version, value, increase, dt_s, status,
       CASE WHEN metric LIKE '%\_bucket' ESCAPE '\' THEN json_extract_string(labels, '$.le') END AS le
FROM stg_telemetry_delta
WHERE service = $service AND sampled_at >= $start AND sampled_at < $end
