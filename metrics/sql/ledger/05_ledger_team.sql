-- name: ledger_team
-- grain: team, day (UTC), currency
-- inputs: ledger_cost, ledger_predictions, ledger_services
--   cost                 = Σ total_cost of the team's services (per currency, never mixed)
--   predictions          = Σ predictions of the team's services that day
--   cost_per_prediction  = cost ÷ predictions (NULL if none)
CREATE OR REPLACE TEMP VIEW ledger_team AS
WITH c AS (
    SELECT coalesce(s.team, '__unallocated__') AS team, c.day, c.currency, sum(c.total_cost) AS cost
    FROM ledger_cost c LEFT JOIN ledger_services s ON s.service = c.service
    GROUP BY ALL
), p AS (
    SELECT coalesce(s.team, '__unallocated__') AS team, p.day, sum(p.predictions) AS predictions
    FROM ledger_predictions p LEFT JOIN ledger_services s ON s.service = p.service
    GROUP BY ALL
)
SELECT coalesce(c.team, p.team) AS team, coalesce(c.day, p.day) AS day, c.currency, c.cost,
       p.predictions::BIGINT AS predictions,
       c.cost / nullif(p.predictions, 0)          AS cost_per_prediction,
       1000 * c.cost / nullif(p.predictions, 0)   AS cost_per_1k_predictions
FROM c FULL JOIN p ON p.team = c.team AND p.day = c.day;
