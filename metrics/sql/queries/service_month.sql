-- name: service_month
-- grain: service, billing_currency (one calendar month)
-- inputs: stg_cost, stg_telemetry, stg_requests (via requests_daily), stg_services
-- params: $month_start; $start (the month before it), $end (the first day left out: the end of the
--         month, or the day after a pinned last day, for month-to-date as of that day); $month_end;
--         $services (VARCHAR[]; empty = all: the `-- when: services` line is dropped). requests_daily.sql is inlined.
-- Cost this month against the configured monthly budget, a straight-line forecast to month end
-- (month-to-date / days up to the newest cost day of any service * days in month, so a one-off
-- line is not stretched), and cost per prediction for
-- this month and the month before. Budgets are compared only in their own currency.
WITH cost AS (
    SELECT x_service AS service, billing_currency,
           sum(effective_cost) FILTER (WHERE charge_period_start >= $month_start) AS month_to_date,
           sum(effective_cost) FILTER (WHERE charge_period_start < $month_start)  AS prev_month_cost,
           max(max(day) FILTER (WHERE charge_period_start >= $month_start)) OVER () AS last_cost_day
    FROM stg_cost
    WHERE charge_period_start >= $start AND charge_period_start < $end
      AND list_contains($services::VARCHAR[], x_service)   -- when: services
    GROUP BY ALL
),
req AS (
    SELECT service,
           sum(requests) FILTER (WHERE day >= $month_start) AS requests,
           sum(requests) FILTER (WHERE day < $month_start)  AS prev_requests
    FROM {requests_daily} rd
    GROUP BY ALL
),
budget AS (
    SELECT service,
           TRY_CAST(json_extract_string(config, '$.budget.monthly') AS DECIMAL(38,18)) AS budget,
           json_extract_string(config, '$.budget.currency') AS budget_currency
    FROM stg_services
)
SELECT c.service, c.billing_currency,
       c.month_to_date,
       c.last_cost_day,
       date_diff('day', $month_start::TIMESTAMPTZ, c.last_cost_day) + 1 AS days_elapsed,
       date_diff('day', $month_start::TIMESTAMPTZ, $month_end::TIMESTAMPTZ) AS days_in_month,
       c.month_to_date / (date_diff('day', $month_start::TIMESTAMPTZ, c.last_cost_day) + 1)
           * date_diff('day', $month_start::TIMESTAMPTZ, $month_end::TIMESTAMPTZ) AS forecast,
       CASE WHEN b.budget_currency = c.billing_currency THEN b.budget END AS budget,
       r.requests,
       c.month_to_date / nullif(r.requests, 0)     AS cost_per_prediction,
       c.prev_month_cost / nullif(r.prev_requests, 0) AS prev_cost_per_prediction
FROM cost c
LEFT JOIN req r ON r.service = c.service
LEFT JOIN budget b ON b.service = c.service
ORDER BY c.service, c.billing_currency
