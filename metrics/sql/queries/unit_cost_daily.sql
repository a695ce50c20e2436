-- name: unit_cost_daily
-- grain: day, service, billing_currency
-- inputs: cost_daily, requests_daily (query files, inlined)
-- params: $start, $end (half-open), $services (VARCHAR[]; empty = all: the `-- when: services` line is dropped)
-- Cost per prediction per day and service: that day's effective cost over its predictions.
-- Days with cost but no measured predictions give NULL, never a division by zero.
WITH r AS (
    SELECT day, service, sum(requests) AS requests FROM {requests_daily} rd GROUP BY ALL
)
SELECT c.day, c.service, c.billing_currency, c.effective_cost, r.requests,
       c.effective_cost / nullif(r.requests, 0) AS cost_per_prediction
FROM {cost_daily} c
LEFT JOIN r ON r.day = c.day AND r.service = c.service
ORDER BY c.day, c.service, c.billing_currency
