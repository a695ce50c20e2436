-- name: load_failures
-- grain: one failed load
-- inputs: _onepane_loads
-- The newest failed collector runs (as of the session's `onepane_as_of`) with their error text.
SELECT finished_at, source, collector, target_table, source_file, error
FROM _onepane_loads
WHERE status = 'failed'
  AND finished_at <= coalesce(getvariable('onepane_as_of')::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ)
ORDER BY finished_at DESC
LIMIT 100
