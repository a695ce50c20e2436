-- name: stg_events
-- grain: one change event (event_id); a `deploy` whose detail is `rollback` is a rollback
-- inputs: raw_events, stg_services
CREATE OR REPLACE VIEW stg_events AS
SELECT e.occurred_at,
       CASE WHEN e.kind = 'deploy' AND lower(e.detail) = 'rollback' THEN 'rollback' ELSE e.kind END AS kind,
       e.service, e.model_version, e.detail, e.source, e.attributes, e.event_id, s.team, e._load_id
FROM raw_events e
LEFT JOIN stg_services s ON s.service = e.service
QUALIFY row_number() OVER (PARTITION BY e.event_id ORDER BY e._loaded_at DESC, e._load_id DESC) = 1;
