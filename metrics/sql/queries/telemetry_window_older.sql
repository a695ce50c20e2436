-- name: telemetry_window_older
-- grain: one row when a series of `_window` without a previous non-NULL sample in [$from, $start)
--        has a sample before $from (then the window is recomputed with $from = the beginning)
-- inputs: raw_telemetry, _window
-- params: $service, $from
SELECT count(*) AS n
FROM (SELECT 1 FROM raw_telemetry t
      SEMI JOIN (SELECT DISTINCT metric, labels_hash FROM _window WHERE no_prev) w
            ON w.metric = t.metric AND w.labels_hash = t.labels_hash
      WHERE t.service = $service AND t.sampled_at < $from
      LIMIT 1)
