-- name: slo_error_budget
-- grain: service
-- inputs: gov_scope, gov_slo
-- gov_slo holds the error budget of each SLO at `at` (metrics.analysis.slo.evaluate_slos): the
-- control passes when an SLO is defined and measured and no SLO has spent its whole budget.
WITH s AS (
    SELECT service, count(*) AS n, min(budget_remaining) AS budget_remaining_min,
           string_agg(slo || ' ' || round(100 * budget_remaining, 1) || '% of the ' || period || ' budget left'
                      || coalesce(' (over the ' || observed || ' observed)', ''), '; ' ORDER BY slo) AS slos
    FROM gov_slo GROUP BY service
)
SELECT g.service,
       CASE WHEN NOT g.slo_defined THEN FALSE WHEN s.n IS NULL THEN FALSE ELSE s.budget_remaining_min > 0 END AS ok,
       CASE WHEN NOT g.slo_defined THEN 'no SLO on error rate or latency in onepane.toml'
            WHEN s.n IS NULL THEN 'SLO defined but no traffic to measure it in its period'
            WHEN s.budget_remaining_min <= 0 THEN 'error budget exhausted: ' || s.slos
            ELSE s.slos END AS detail,
       s.slos, s.budget_remaining_min
FROM gov_scope g LEFT JOIN s USING (service)
