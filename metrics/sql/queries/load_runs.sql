-- name: load_runs
-- grain: source, collector, target_table
-- inputs: _onepane_loads (the run log)
-- Per source: its runs, the last one, the last successful one, and the newest failure's error.
-- Uses the session's `onepane_as_of`: only runs finished by then are counted.
WITH runs AS (
    SELECT * FROM _onepane_loads
    WHERE finished_at <= coalesce(getvariable('onepane_as_of')::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ)
)
SELECT source, collector, target_table,
       count(*)                                        AS runs,
       count(*) FILTER (WHERE status = 'failed')       AS failed_runs,
       max(finished_at)                                AS last_run_at,
       arg_max(status, finished_at)                    AS last_status,
       max(finished_at) FILTER (WHERE status = 'ok')   AS last_ok_at,
       arg_max(rows, finished_at) FILTER (WHERE status = 'ok') AS last_ok_rows,
       sum(rows) FILTER (WHERE status = 'ok')          AS rows_loaded,
       arg_max(error, finished_at) FILTER (WHERE status = 'failed') AS last_error
FROM runs
GROUP BY ALL
ORDER BY target_table, source
