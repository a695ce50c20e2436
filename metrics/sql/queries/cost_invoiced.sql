-- name: cost_invoiced
-- grain: billing_month, billing_currency, provider
-- inputs: stg_cost
-- params: $start, $end (half-open on charge_period_start)
-- Estimated vs invoiced cost, by the billing layer's `x_estimated` (an export with invoice ids:
-- a row without one; otherwise until the period end + pricing.finalization_lag, judged as of the
-- session's time). Rows whose state is unknown (NULL) count as estimated when they carry no
-- invoice id.
SELECT billing_month, billing_currency, coalesce(provider_name, x_source, '(unknown)') AS provider,
       sum(effective_cost) FILTER (WHERE NOT coalesce(x_estimated, invoice_id IS NULL)) AS invoiced,
       sum(effective_cost) FILTER (WHERE coalesce(x_estimated, invoice_id IS NULL))     AS estimated,
       count(*) FILTER (WHERE coalesce(x_estimated, invoice_id IS NULL))                AS estimated_lines
FROM stg_cost
WHERE charge_period_start >= $start AND charge_period_start < $end
GROUP BY ALL
ORDER BY billing_month, billing_currency, provider
