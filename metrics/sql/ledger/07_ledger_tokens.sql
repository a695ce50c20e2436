-- name: ledger_tokens
-- grain: service, day (UTC), currency
-- inputs: stg_cost, stg_requests, stg_telemetry_delta, ledger_fx
-- Cost per 1k tokens, vendor-billed and self-hosted side by side (LLM services). Columns:
--   vendor_cost            = Σ cost of LLM vendor lines (x_source openai | anthropic, or a
--                            consumed_unit that counts tokens)
--   vendor_tokens          = Σ consumed_quantity of those lines whose unit counts tokens,
--                            × 1 000 for "1K tokens" units, × 1 000 000 for "1M tokens"
--   vendor_cost_per_1k_tokens      = 1000 × vendor_cost ÷ vendor_tokens
--   self_hosted_cost       = Σ cost of the service's other lines (GPUs, hosts, ...)
--   served_tokens          = every token the service handled: Σ prompt_tokens + completion_tokens
--                            of the request log, or else the increase of the counter
--                            inference_tokens_total (every kind label; stg_telemetry_delta's
--                            increase, as in ledger_predictions)
--   self_hosted_tokens     = served_tokens − vendor_tokens (what no vendor billed); NULL when the
--                            vendor billed more tokens than were served (the data disagree)
--   self_hosted_cost_per_1k_tokens = 1000 × self_hosted_cost ÷ self_hosted_tokens
--   cost_per_1k_tokens     = 1000 × (vendor_cost + self_hosted_cost) ÷ served_tokens (blended)
-- cost = effective_cost (billed where missing), converted by [fx] like ledger_cost.
-- Ratios are NULL where the tokens are 0 or unknown. Rows only for services with tokens.
CREATE OR REPLACE TEMP VIEW ledger_tokens AS
WITH lines AS (
    SELECT c.x_service AS service, c.charge_period_start::DATE AS day,
           CASE WHEN rc IS NOT NULL AND c.billing_currency <> rc AND fx.rate IS NOT NULL
                THEN CAST(coalesce(c.effective_cost, c.billed_cost) * fx.rate AS DECIMAL(38,18))
                ELSE coalesce(c.effective_cost, c.billed_cost) END AS cost,
           CASE WHEN rc IS NOT NULL AND (c.billing_currency = rc OR fx.rate IS NOT NULL)
                THEN rc ELSE c.billing_currency END AS currency,
           (lower(c.x_source) IN ('openai', 'anthropic') OR c.consumed_unit ILIKE '%token%') AS is_vendor,
           CASE WHEN c.consumed_unit ILIKE '%token%' THEN c.consumed_quantity::DOUBLE *
                CASE WHEN c.consumed_unit ILIKE '%1m%' OR c.consumed_unit ILIKE '%million%' THEN 1e6
                     WHEN c.consumed_unit ILIKE '%1k%' OR c.consumed_unit ILIKE '%thousand%' THEN 1e3
                     ELSE 1 END END AS tokens
    FROM stg_cost c
    CROSS JOIN (SELECT getvariable('ledger_reporting_currency') AS rc) v
    LEFT JOIN ledger_fx fx ON fx.currency = c.billing_currency
), cost AS (
    SELECT service, day, currency,
           sum(cost) FILTER (WHERE is_vendor)     AS vendor_cost,
           sum(tokens) FILTER (WHERE is_vendor)   AS vendor_tokens,
           sum(cost) FILTER (WHERE NOT is_vendor) AS self_hosted_cost
    FROM lines GROUP BY ALL
), telemetry AS (
    SELECT service, sampled_at::DATE AS day, sum(increase) AS tokens
    FROM stg_telemetry_delta
    WHERE metric = 'inference_tokens_total' AND increase IS NOT NULL
    GROUP BY ALL
), requests AS (
    SELECT service, arrived_at::DATE AS day,
           sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)) AS tokens
    FROM stg_requests
    WHERE prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL
    GROUP BY ALL
), served AS (
    SELECT service, day, tokens::DOUBLE AS tokens FROM requests
    UNION ALL
    SELECT t.service, t.day, t.tokens FROM telemetry t
    WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.service = t.service AND r.day = t.day)
)
SELECT coalesce(c.service, s.service) AS service, coalesce(c.day, s.day) AS day, c.currency,
       c.vendor_cost, c.vendor_tokens,
       1000 * c.vendor_cost / nullif(c.vendor_tokens, 0)          AS vendor_cost_per_1k_tokens,
       c.self_hosted_cost, s.tokens AS served_tokens,
       CASE WHEN s.tokens >= coalesce(c.vendor_tokens, 0)
            THEN s.tokens - coalesce(c.vendor_tokens, 0) END    AS self_hosted_tokens,
       1000 * c.self_hosted_cost / nullif(CASE WHEN s.tokens >= coalesce(c.vendor_tokens, 0)
            THEN s.tokens - coalesce(c.vendor_tokens, 0) END, 0) AS self_hosted_cost_per_1k_tokens,
       1000 * (coalesce(c.vendor_cost, 0) + coalesce(c.self_hosted_cost, 0))
            / nullif(s.tokens, 0)                                 AS cost_per_1k_tokens
FROM cost c
FULL JOIN served s ON s.service = c.service AND s.day = c.day
WHERE coalesce(c.vendor_tokens, 0) > 0 OR s.tokens IS NOT NULL;
