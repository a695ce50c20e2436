-- name: stg_requests
-- grain: one request: a row of a request log; rows with a request id are one request per
--        (service, request_id) (the newest load wins), rows without one are each a request (two
--        requests may arrive at the same instant; a file loaded twice is caught by its content hash)
-- inputs: raw_requests, stg_services
CREATE OR REPLACE VIEW stg_requests AS
SELECT r.* EXCLUDE (_scope, _loaded_at), s.team
FROM raw_requests r
LEFT JOIN stg_services s ON s.service = r.service
QUALIFY r.request_id IS NULL
     OR row_number() OVER (PARTITION BY r.service, r.request_id
                           ORDER BY r._loaded_at DESC, r._load_id DESC) = 1;
