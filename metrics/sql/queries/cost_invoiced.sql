-- name: cost_invoiced
-- grain: billing_month, billing_currency, provider
-- inputs: stg_cost
-- params: $start, $end (half-open on charge_period_start)
-- Estimated vs invoiced cost: a line with an invoice id is invoiced; without one it is still an
-- estimate (providers restate open periods until the invoice is issued).
SELECT billing_month, billing_currency, coalesce(provider_name, x_source, '(unknown)') AS provider,
       sum(effective_cost) FILTER (WHERE invoice_id IS NOT NULL) AS invoiced,
       sum(effective_cost) FILTER (WHERE invoice_id IS NULL)     AS estimated,
       count(*) FILTER (WHERE invoice_id IS NULL)                AS estimated_lines
FROM stg_cost
WHERE charge_period_start >= $start AND charge_period_start < $end
GROUP BY ALL
ORDER BY billing_month, billing_currency, provider
