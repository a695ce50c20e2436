-- name: events
-- grain: one change event
-- inputs: stg_events
-- params: $start, $end (half-open), $services (VARCHAR[]; empty = all; events with no service
--         apply to every service and are always included)
-- Change events to draw as annotations across charts.
SELECT occurred_at, kind, service, model_version, detail, source, event_id
FROM stg_events
WHERE occurred_at >= $start AND occurred_at < $end
  AND (service IS NULL OR list_contains($services::VARCHAR[], service))   -- when: services
ORDER BY occurred_at
LIMIT 500
