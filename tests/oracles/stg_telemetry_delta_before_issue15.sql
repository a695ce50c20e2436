-- stg_telemetry_delta as it was before issue 15's rollups branch (lag over (metric, labels_hash):
-- a service filter could not pass the window): the oracle tests/test_telemetry_rollups.py compares with.
-- name: stg_telemetry_delta
-- grain: metric, labels_hash, sampled_at (one row per deduplicated sample)
-- inputs: stg_telemetry
-- What a sample adds since the previous sample of its series:
--   increase  cumulative series only (counters, histogram/summary _bucket/_count/_sum, DCGM's energy
--             counter): value - previous value; after a reset (value drops) the value itself; on the
--             first sample the value when the series began while observed (series_start), else 0.
--   dt_s      seconds since the previous sample, NULL on the first sample and after a gap longer
--             than 300 s (Prometheus' default lookback: the target was not observed). A gauge's
--             value is taken to hold over (previous sample, this sample] - DCGM's utilisation and
--             power are averages over the sampling period - so sum(value * dt_s) integrates it.
--   status    the `status` (or `code`) label of request counters, for error rates.
CREATE OR REPLACE VIEW stg_telemetry_delta AS
WITH s AS (
    SELECT t.*,
           (t.metric = 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION'   -- a counter even where typed gauge
            OR ((t.metric_type IS NULL OR t.metric_type IN ('counter', 'histogram', 'summary', 'unknown', 'untyped'))
                AND (t.metric LIKE '%\_total' ESCAPE '\' OR t.metric LIKE '%\_bucket' ESCAPE '\'
                     OR t.metric LIKE '%\_count' ESCAPE '\' OR t.metric LIKE '%\_sum' ESCAPE '\'))
           ) AS cumulative,
           lag(t.value IGNORE NULLS) OVER w AS prev_value,   -- skips DCGM blanks
           lag(t.sampled_at) OVER w AS prev_at
    FROM stg_telemetry t
    WINDOW w AS (PARTITION BY t.metric, t.labels_hash ORDER BY t.sampled_at)
)
SELECT sampled_at, metric, metric_type, labels, labels_hash, service, model_version, team, value,
       CASE WHEN metric LIKE '%requests%' THEN      -- parse JSON only where a status matters
            coalesce(json_extract_string(labels, '$.status'), json_extract_string(labels, '$.code')) END AS status,
       CASE WHEN NOT cumulative OR value IS NULL OR isnan(value) THEN NULL
            WHEN prev_value IS NULL OR isnan(prev_value) THEN CASE WHEN coalesce(series_start, false) THEN value ELSE 0 END
            WHEN value < prev_value THEN value
            ELSE value - prev_value END AS increase,
       CASE WHEN prev_at IS NULL OR epoch(sampled_at) - epoch(prev_at) > 300 THEN NULL
            ELSE epoch(sampled_at) - epoch(prev_at) END AS dt_s,
       cumulative, source, _load_id
FROM s;
