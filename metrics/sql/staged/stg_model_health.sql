-- name: stg_model_health
-- grain: window_start, window_end, service, model_version, metric, feature
--        (a window recomputed when late labels land keeps its newest value; as-of shows the old)
-- inputs: raw_model_health, stg_services
CREATE OR REPLACE VIEW stg_model_health AS
SELECT m.* EXCLUDE (_scope, _loaded_at), s.team, m._loaded_at AS computed_at
FROM raw_model_health m
LEFT JOIN stg_services s ON s.service = m.service
QUALIFY row_number() OVER (PARTITION BY m.window_start, m.window_end, m.service, m.model_version,
                                        m.metric, m.feature
                           ORDER BY m._loaded_at DESC, m._load_id DESC) = 1;
