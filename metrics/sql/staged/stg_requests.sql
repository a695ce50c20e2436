-- name: stg_requests
-- grain: one request: a row of a request log; rows with a request id are one request per
--        (service, request_id) (the newest load wins), rows without one are each a request (two
--        requests may arrive at the same instant; a file loaded twice is caught by its content hash)
-- inputs: raw_requests, stg_services
-- Two branches so a filter reaches the Parquet scan: rows without an id need no window at all, and
-- a service filter passes the other branch's window (service is one of its partition keys).
CREATE OR REPLACE VIEW stg_requests AS
SELECT r.* EXCLUDE (_scope, _loaded_at), s.team
FROM raw_requests r
LEFT JOIN stg_services s ON s.service = r.service
WHERE r.request_id IS NULL
UNION ALL
SELECT r.* EXCLUDE (_scope, _loaded_at), s.team
FROM raw_requests r
LEFT JOIN stg_services s ON s.service = r.service
WHERE r.request_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY r.service, r.request_id
                           ORDER BY r._loaded_at DESC, r._load_id DESC) = 1;
