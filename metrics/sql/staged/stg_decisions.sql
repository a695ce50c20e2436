-- name: stg_decisions
-- grain: one recorded decision (decision_id); the latest delivery of an id wins
-- inputs: raw_decisions, stg_services
CREATE OR REPLACE VIEW stg_decisions AS
SELECT d.decided_at, d.service, d.kind, d.text, d.decided_by, d.expires_at, d.decision_id,
       d.attributes, s.team, d._load_id
FROM raw_decisions d
LEFT JOIN stg_services s ON s.service = d.service
QUALIFY row_number() OVER (PARTITION BY d.decision_id ORDER BY d._loaded_at DESC, d._load_id DESC) = 1;
