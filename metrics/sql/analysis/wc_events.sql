-- name: wc_events
-- grain: one change event in [$start, $end) on any service
-- inputs: stg_events
SELECT occurred_at, kind, service, model_version, detail, source, attributes, event_id
FROM stg_events
WHERE occurred_at >= $start::TIMESTAMPTZ AND occurred_at < $end::TIMESTAMPTZ
ORDER BY occurred_at, service, kind, model_version, event_id   -- ties in a fixed order: answers are reproducible
