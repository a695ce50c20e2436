-- name: ledger_funnel
-- materialize: true   (a temp table per connection: later views read it several times)
-- grain: service, model_version (or experiment variant), day (UTC)
-- inputs: stg_kpis, stg_events, ledger_services (funnel and baseline_version from onepane.toml)
-- The version of a KPI row is its model_version; a row that names only an experiment variant
-- takes the version the service's latest experiment_start event (at or before the row) maps
-- that variant to in its attributes (e.g. {"control": "v1", "treatment": "v2"}), else the
-- variant name itself.
-- Columns and formulas (only services with a [services.funnel]):
--   funnel_actions    = Σ value of the funnel's `action` KPI (e.g. purchases)
--   funnel_denominator= Σ value of the funnel's `denominator` KPI (e.g. impressions)
--   rate              = funnel_actions ÷ funnel_denominator             (NULL when the denominator is 0)
--   baseline_rate     = Σ baseline actions ÷ Σ baseline denominator over the attribution window
--                       ending with this day: days in (day − window, day], window rounded up to
--                       whole days (min 1). The baseline is `baseline_version` (a version or a
--                       control variant name).
--   improved_actions  = funnel_actions − funnel_denominator × baseline_rate
--                       (incremental actions versus the baseline at the same traffic; 0 for the
--                       baseline itself; NULL when no baseline rate is known in the window)
--   kpi_rows_flagged  = KPI rows carrying a data-quality warning from ingestion
CREATE OR REPLACE TEMP VIEW ledger_funnel AS
WITH experiments AS (
    SELECT service, occurred_at, attributes FROM stg_events
    WHERE kind = 'experiment_start' AND attributes IS NOT NULL
), k AS (
    SELECT k.service,
           coalesce(k.model_version,
                    (SELECT json_extract_string(x.attributes, '$."' || k.variant || '"')
                     FROM experiments x
                     WHERE x.service = k.service AND x.occurred_at <= k.observed_at
                     ORDER BY x.occurred_at DESC LIMIT 1),
                    k.variant) AS model_version,
           k.observed_at::DATE AS day,
           sum(k.value) FILTER (WHERE k.kpi = s.funnel_action)       AS funnel_actions,
           sum(k.value) FILTER (WHERE k.kpi = s.funnel_denominator)  AS funnel_denominator,
           count(*) FILTER (WHERE k.quality IS NOT NULL)              AS kpi_rows_flagged
    FROM stg_kpis k
    JOIN ledger_services s ON s.service = k.service
    WHERE s.funnel_action IS NOT NULL
    GROUP BY ALL
), base AS (
    SELECT d.service, d.day,
           sum(b.funnel_actions) / nullif(sum(b.funnel_denominator), 0) AS baseline_rate
    FROM (SELECT DISTINCT service, day FROM k) d
    JOIN ledger_services s ON s.service = d.service
    JOIN k b ON b.service = d.service AND b.model_version = s.baseline_version
            AND b.day > d.day - s.attribution_days AND b.day <= d.day
    GROUP BY ALL
)
SELECT k.service, k.model_version, k.day, k.funnel_actions, k.funnel_denominator,
       k.funnel_actions / nullif(k.funnel_denominator, 0)                  AS rate,
       base.baseline_rate,
       CASE WHEN k.model_version = s.baseline_version THEN 0::DOUBLE
            ELSE k.funnel_actions - k.funnel_denominator * base.baseline_rate END AS improved_actions,
       k.model_version = s.baseline_version                                AS is_baseline,
       k.kpi_rows_flagged
FROM k
JOIN ledger_services s ON s.service = k.service
LEFT JOIN base ON base.service = k.service AND base.day = k.day;
