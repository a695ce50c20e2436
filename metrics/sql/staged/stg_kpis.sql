-- name: stg_kpis
-- grain: observed_at, service, model_version, variant, kpi (a re-delivered value replaces the old)
-- inputs: raw_kpis, stg_services
CREATE OR REPLACE VIEW stg_kpis AS
SELECT k.* EXCLUDE (_scope, _loaded_at), s.team
FROM raw_kpis k
LEFT JOIN stg_services s ON s.service = k.service
QUALIFY row_number() OVER (PARTITION BY k.observed_at, k.service, k.model_version, k.variant, k.kpi
                           ORDER BY k._loaded_at DESC, k._load_id DESC) = 1;
