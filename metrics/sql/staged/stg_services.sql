-- name: stg_services
-- grain: service (the newest published configuration)
-- inputs: raw_services
CREATE OR REPLACE VIEW stg_services AS
SELECT service, team, owner, kind, baseline_version, config
FROM raw_services
QUALIFY row_number() OVER (PARTITION BY service ORDER BY _loaded_at DESC, _load_id DESC) = 1;
