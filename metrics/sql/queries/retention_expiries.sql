-- name: retention_expiries
-- grain: one retention expiry (`onepane compact` with [retention])
-- inputs: _onepane_loads
-- Every expiry, also those committed after the session's `onepane_as_of` (`after_as_of`): the store
-- knew those rows at that time but no longer holds them, so an as-of answer can say what it lacks.
-- `expired_before`: the table holds nothing older (records written before it was kept: the cutoff).
SELECT finished_at AS expired_at,
       target_table,
       json_extract_string(details, '$.retention') AS retention,
       json_extract_string(details, '$.cutoff')::TIMESTAMPTZ AS cutoff,
       coalesce(json_extract_string(details, '$.expired_before'),
                json_extract_string(details, '$.cutoff'))::TIMESTAMPTZ AS expired_before,
       json_extract_string(details, '$.rows')::BIGINT AS expired_rows,
       finished_at > coalesce(getvariable('onepane_as_of')::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ) AS after_as_of,
       load_id AS expiry_load
FROM _onepane_loads
WHERE status = 'ok' AND collector = 'retention'
ORDER BY finished_at DESC
