-- name: stg_telemetry
-- grain: metric, labels_hash, sampled_at (a re-collected point keeps its newest value)
-- inputs: raw_telemetry, stg_services
CREATE OR REPLACE VIEW stg_telemetry AS
SELECT t.sampled_at, t.metric, t.labels, t.labels_hash, t.service, t.model_version,
       s.team, t.value, t.metric_type, t.series_start, t.source, t._load_id
FROM raw_telemetry t
LEFT JOIN stg_services s ON s.service = t.service
QUALIFY row_number() OVER (PARTITION BY t.metric, t.labels_hash, t.sampled_at
                           ORDER BY t._loaded_at DESC, t._load_id DESC) = 1;
