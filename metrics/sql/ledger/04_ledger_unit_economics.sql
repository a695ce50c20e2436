-- name: ledger_unit_economics
-- grain: service, model_version, day (UTC), currency
-- inputs: ledger_cost, ledger_predictions, ledger_funnel, ledger_services, ledger_shared
-- One row per service × model_version × day × currency (a day billed in two unconverted
-- currencies has two rows, each with the day's predictions). Ratios are NULL, never 0 or
-- infinity, where they are undefined; `note` says why.
--   cost                      = total_cost of ledger_cost (effective cost, billed where missing)
--   cost_per_prediction       = cost ÷ predictions                      (NULL if predictions is 0/unknown)
--   cost_per_1k_predictions   = 1000 × cost ÷ predictions
--   cost_per_funnel_action    = cost ÷ funnel_actions                   (NULL if no actions)
--   cost_per_improved_action  = cost ÷ improved_actions                 (NULL unless improved_actions > 0)
CREATE OR REPLACE TEMP VIEW ledger_unit_economics AS
WITH keys AS (
    SELECT service, model_version, day FROM ledger_cost
    WHERE service <> '__unallocated__'
      AND service NOT IN (SELECT name FROM ledger_shared WHERE what = 'service')   -- see ledger_allocation
    UNION SELECT service, model_version, day FROM ledger_predictions
    UNION SELECT service, model_version, day FROM ledger_funnel
), joined AS (
    SELECT k.service, s.team, k.model_version, k.day, c.currency,
           c.total_cost AS cost, c.direct_cost, c.spread_cost, c.fx_converted, c.used_billed_cost,
           p.predictions, p.predictions_source,
           f.funnel_actions, f.funnel_denominator, f.rate, f.baseline_rate, f.improved_actions,
           f.kpi_rows_flagged, s.funnel_action IS NOT NULL AS has_funnel, f.is_baseline
    FROM keys k
    LEFT JOIN ledger_cost c ON c.service = k.service AND c.day = k.day
                           AND c.model_version IS NOT DISTINCT FROM k.model_version
    LEFT JOIN ledger_predictions p ON p.service = k.service AND p.day = k.day
                                  AND p.model_version IS NOT DISTINCT FROM k.model_version
    LEFT JOIN ledger_funnel f ON f.service = k.service AND f.day = k.day
                             AND f.model_version IS NOT DISTINCT FROM k.model_version
    LEFT JOIN ledger_services s ON s.service = k.service
)
SELECT service, team, model_version, day, currency, cost, predictions,
       cost / nullif(predictions, 0)                                AS cost_per_prediction,
       1000 * cost / nullif(predictions, 0)                         AS cost_per_1k_predictions,
       funnel_actions,
       cost / nullif(funnel_actions, 0)                             AS cost_per_funnel_action,
       improved_actions,
       CASE WHEN improved_actions > 0 THEN cost / improved_actions END AS cost_per_improved_action,
       funnel_denominator, rate AS kpi_rate, baseline_rate,
       direct_cost, spread_cost, fx_converted, used_billed_cost, predictions_source,
       nullif(concat_ws('; ',
           CASE WHEN cost IS NULL THEN 'no cost data' END,
           CASE WHEN predictions IS NULL THEN 'no prediction data'
                WHEN predictions = 0 THEN 'zero traffic' END,
           CASE WHEN has_funnel AND funnel_actions IS NULL THEN 'funnel action KPI missing' END,
           CASE WHEN has_funnel AND funnel_denominator IS NULL THEN 'funnel denominator KPI missing' END,
           CASE WHEN has_funnel AND NOT coalesce(is_baseline, false) AND funnel_actions IS NOT NULL
                     AND baseline_rate IS NULL THEN 'no baseline in attribution window' END,
           CASE WHEN improved_actions < 0 THEN 'negative lift' END,
           CASE WHEN improved_actions = 0 AND NOT coalesce(is_baseline, false) THEN 'no lift' END,
           CASE WHEN kpi_rows_flagged > 0 THEN 'KPI data-quality warning' END,
           CASE WHEN fx_converted THEN 'converted to reporting currency' END,
           CASE WHEN used_billed_cost THEN 'billed cost used where effective cost missing' END
       ), '')                                                        AS note
FROM joined;
