-- name: stg_telemetry
-- grain: metric, labels_hash, sampled_at (a re-collected point keeps its newest value)
-- inputs: raw_telemetry, _dedup_raw_telemetry, stg_services
-- The newest load's sample wins. Decided when a load commits (metrics/lake_dedup.py): a load
-- de-duplicates within itself, and each sample a newer load wrote again is listed in
-- `_dedup_raw_telemetry` (gated by the winning load's visibility, so `--as-of`, restatements and
-- removals mean what they did). No window here: the service and time filters of a query reach the
-- Parquet scan of raw_telemetry.
CREATE OR REPLACE VIEW stg_telemetry AS
SELECT t.sampled_at, t.metric, t.labels, t.labels_hash, t.service, t.model_version,
       s.team, t.value, t.metric_type, t.series_start, t.source, t._load_id
FROM raw_telemetry t
ANTI JOIN _dedup_raw_telemetry d
    ON d.metric = t.metric AND d.labels_hash = t.labels_hash AND d.sampled_at = t.sampled_at
   AND d._loser = t._load_id
LEFT JOIN stg_services s ON s.service = t.service;
