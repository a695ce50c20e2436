-- name: stg_cost
-- grain: one cost line item (restated periods already replaced by their newest delivery;
--        a row repeated by overlapping partial files counted once)
-- inputs: raw_focus, stg_services
-- Adds `billing_month`, `day`, the `x_service`/`x_team` buckets (untagged cost kept as
-- '__unallocated__' so it is never dropped from a sum) and `x_estimated`:
--   * the export carries invoice ids (x_invoice_expected): a row without one is estimated;
--   * otherwise the period is estimated until x_finalizes_at (period end + pricing.finalization_lag),
--     judged at the as-of time of the session (now when unset).
-- Row identity: raw rows with the same x_row_hash (same format, same source cells) written by
-- different loads are one row; the newest load's copy is kept (collectors/billing/ingest.py).
-- A complete delivery is the truth for its scope (format/account/month): partial rows of a scope
-- it covers are left out whichever arrived first (a complete delivery loaded later supersedes
-- them anyway; this also covers a partial file re-downloaded after the month was delivered).
CREATE OR REPLACE VIEW stg_cost AS
WITH complete AS (
    SELECT * FROM raw_focus WHERE x_row_hash IS NULL
),
r AS (
    SELECT * FROM complete
    UNION ALL                -- both sides are raw_focus.*: the same columns in the same order
    SELECT * FROM raw_focus p WHERE x_row_hash IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM complete c WHERE c._scope = p._scope)
    QUALIFY _load_id = max(_load_id) OVER (PARTITION BY x_source, x_row_hash)
)
SELECT
    f.* EXCLUDE (x_service, x_team, x_model_version),
    coalesce(f.x_service, '__unallocated__')       AS x_service,
    coalesce(f.x_team, s.team, '__unallocated__')  AS x_team,
    f.x_model_version,
    date_trunc('month', coalesce(f.billing_period_start, f.charge_period_start)) AS billing_month,
    date_trunc('day', f.charge_period_start)       AS day,
    CASE WHEN f.x_invoice_expected THEN f.invoice_id IS NULL
         WHEN f.x_finalizes_at IS NULL THEN NULL
         ELSE coalesce(getvariable('onepane_as_of')::TIMESTAMPTZ, getvariable('onepane_now')::TIMESTAMPTZ, now()) < f.x_finalizes_at
    END                                            AS x_estimated
FROM r f
LEFT JOIN stg_services s ON s.service = f.x_service;
