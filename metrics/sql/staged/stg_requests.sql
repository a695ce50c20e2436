-- name: stg_requests
-- grain: one request (request_id within service; the newest load wins)
-- inputs: raw_requests, stg_services
CREATE OR REPLACE VIEW stg_requests AS
SELECT r.* EXCLUDE (_scope, _loaded_at), s.team
FROM raw_requests r
LEFT JOIN stg_services s ON s.service = r.service
QUALIFY row_number() OVER (PARTITION BY r.service, coalesce(r.request_id, r._load_id || r.arrived_at::VARCHAR)
                           ORDER BY r._loaded_at DESC, r._load_id DESC) = 1;
