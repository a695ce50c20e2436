-- name: cost_budget
-- grain: service
-- inputs: gov_scope, stg_cost
-- A monthly budget on the service (else its team) and cost attributed to it in the window.
WITH c AS (
    SELECT c.x_service AS service, c.billing_currency, sum(c.effective_cost) AS cost
    FROM stg_cost c JOIN gov_scope g ON g.service = c.x_service
    WHERE c.charge_period_start >= g.window_start AND c.charge_period_start < g.at
    GROUP BY ALL
),
cs AS (SELECT service, string_agg(round(cost, 2) || ' ' || billing_currency, ', ') AS cost_in_window FROM c GROUP BY service)
SELECT g.service, coalesce(g.budget_monthly, g.team_budget_monthly) IS NOT NULL AS ok,
       CASE WHEN g.budget_monthly IS NOT NULL THEN 'service budget ' || round(g.budget_monthly, 2) || ' ' || g.budget_currency || '/month'
            WHEN g.team_budget_monthly IS NOT NULL THEN 'team budget ' || round(g.team_budget_monthly, 2) || ' ' || g.budget_currency || '/month'
            ELSE 'no monthly budget for the service or its team' END
       || CASE WHEN cs.cost_in_window IS NULL THEN '; no cost attributed in the window'
               ELSE '; cost in window ' || cs.cost_in_window END AS detail,
       coalesce(g.budget_monthly, g.team_budget_monthly) AS budget_monthly, g.budget_currency, cs.cost_in_window
FROM gov_scope g LEFT JOIN cs USING (service)
