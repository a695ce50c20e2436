-- name: load_removals
-- grain: one removal (`onepane loads rm`)
-- inputs: _onepane_loads
-- Removals known at the session's `onepane_as_of`: which load, from which table, by whom, why.
SELECT finished_at AS removed_at,
       json_extract_string(details, '$.removes') AS removed_load,
       target_table,
       json_extract_string(details, '$.removed_source') AS removed_source,
       json_extract_string(details, '$.removed_rows')::BIGINT AS removed_rows,
       json_extract_string(details, '$.by') AS removed_by,
       json_extract_string(details, '$.reason') AS reason,
       load_id AS removal_load
FROM _onepane_loads
WHERE status = 'ok' AND collector = 'loads-rm'
  AND finished_at <= coalesce(getvariable('onepane_as_of')::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ)
ORDER BY finished_at DESC
