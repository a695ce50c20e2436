-- name: stg_requests
-- grain: one request: a row of a request log; rows with a request id are one request per
--        (service, request_id) (the newest load wins), rows without one are each a request (two
--        requests may arrive at the same instant; a file loaded twice is caught by its content hash)
-- inputs: raw_requests, _dedup_raw_requests, stg_services
-- The newest load wins, decided when a load commits (metrics/lake_dedup.py): within a load the
-- last row of a request id is kept; a request id a newer load wrote again is listed in
-- `_dedup_raw_requests` (gated by the winning load's visibility). No window: filters reach the scan.
CREATE OR REPLACE VIEW stg_requests AS
SELECT r.* EXCLUDE (_scope, _loaded_at), s.team
FROM raw_requests r
-- the joined sides use their own column names, so r.* keeps plain names on every engine
ANTI JOIN (SELECT service AS hidden_service, request_id AS hidden_request_id, _loser
           FROM _dedup_raw_requests) d
    ON d.hidden_service IS NOT DISTINCT FROM r.service AND d.hidden_request_id = r.request_id
   AND d._loser = r._load_id
LEFT JOIN (SELECT service AS team_service, team FROM stg_services) s ON s.team_service = r.service;
