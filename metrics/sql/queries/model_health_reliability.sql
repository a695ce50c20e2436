-- name: model_health_reliability
-- grain: bin of one window's predicted probability
-- inputs: stg_model_health
-- params: $service, $model_version (NULL = any), $window_start
SELECT feature AS bin,
       json_extract(details, '$.lo')::DOUBLE AS lo,
       json_extract(details, '$.hi')::DOUBLE AS hi,
       json_extract(details, '$.mean_predicted')::DOUBLE AS mean_predicted,
       value AS observed,
       sample_size AS count
FROM stg_model_health
WHERE metric = 'reliability' AND service = $service
  AND ($model_version IS NULL OR model_version = $model_version)
  AND window_start = $window_start::TIMESTAMPTZ
ORDER BY lo
