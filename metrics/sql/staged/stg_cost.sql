-- name: stg_cost
-- grain: one cost line item (restated periods already replaced by their newest delivery)
-- inputs: raw_focus
-- Adds `billing_month` and the `x_service`/`x_team` buckets, with untagged cost kept as
-- '__unallocated__' so it is never dropped from a sum.
CREATE OR REPLACE VIEW stg_cost AS
SELECT
    f.* EXCLUDE (x_service, x_team, x_model_version),
    coalesce(f.x_service, '__unallocated__')       AS x_service,
    coalesce(f.x_team, s.team, '__unallocated__')  AS x_team,
    f.x_model_version,
    date_trunc('month', coalesce(f.billing_period_start, f.charge_period_start)) AS billing_month,
    date_trunc('day', f.charge_period_start)       AS day
FROM raw_focus f
LEFT JOIN stg_services s ON s.service = f.x_service;
