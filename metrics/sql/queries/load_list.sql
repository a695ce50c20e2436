-- name: load_list
-- grain: one load (run-log record)
-- inputs: _onepane_loads
-- params: source, since
-- Every load known at the session's `onepane_as_of`, newest first, with whether a later
-- `onepane loads rm` removed it.
WITH removed AS (
    SELECT json_extract_string(details, '$.removes') AS load_id, min(finished_at) AS removed_at
    FROM _onepane_loads
    WHERE status = 'ok' AND collector = 'loads-rm'
      AND finished_at <= coalesce(getvariable('onepane_as_of')::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ)
    GROUP BY 1
)
SELECT l.load_id, l.finished_at, l.source, l.collector, l.target_table, l.status, l.rows,
       l.source_file, r.removed_at, l.error
FROM _onepane_loads l LEFT JOIN removed r USING (load_id)
WHERE l.finished_at <= coalesce(getvariable('onepane_as_of')::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ)
  AND ($source IS NULL OR l.source = $source)
  AND ($since IS NULL OR l.finished_at >= $since::TIMESTAMPTZ)
ORDER BY l.finished_at DESC
