-- name: source_loads
-- grain: source: its newest committed load (as of the session's onepane_as_of)
-- inputs: _onepane_visible_loads
SELECT source, target_table, max(finished_at) AS last_load_at, count(*) AS loads
FROM _onepane_visible_loads
GROUP BY ALL
