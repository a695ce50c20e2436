-- name: ledger_allocation
-- grain: day (UTC), currency, service, line (allocated | idle | shared | unallocated)
-- inputs: stg_cost, stg_telemetry, ledger_predictions, ledger_services, ledger_gpus,
--         ledger_shared (shared services/categories), variable ledger_shared_basis
-- Every cost line lands in exactly one bucket, so per day and currency
--     Σ allocated + Σ idle + Σ shared + __unallocated__ = Σ stg_cost   (billed and effective)
-- (audited by metrics.analysis.allocation.audit). Columns and formulas, for billed_cost and
-- effective_cost (effective falls back to billed where a line has none) alike:
--   allocated   = the service's own lines − idle
--   idle        = Σ over the service's GPU lines of cost × (1 − busy), where busy = average
--                 DCGM_FI_DEV_GPU_UTIL ÷ 100 that day of the line's own GPU (its resource name or
--                 id is one of Service.gpus, matched to the UUID, Hostname or gpu label), else of
--                 all the service's GPUs; no utilisation data = no idle split. A GPU line is a line
--                 whose resource is one of Service.gpus, or that mentions "gpu" in its unit,
--                 resource type, SKU, description or subcategory.
--   shared      = the day's shared pool × the service's weight ÷ Σ weights, weight by basis:
--                 requests (predictions), gpu_seconds (busy × GPUs × 86 400), cost (the service's
--                 own cost that day, same currency), even (1 per active service). The service
--                 with the largest weight takes the rounding remainder so the pool adds up exactly
--                 (the share fraction is computed in double precision; busy is kept to 9 decimals
--                 so the idle split is an exact DECIMAL product).
--   __unallocated__ = untagged lines that are not shared, and a shared pool with no weights
CREATE OR REPLACE TEMP VIEW ledger_allocation AS
WITH gpu_samples AS (
    SELECT g.service, g.gpu, t.sampled_at::DATE AS day, t.value, t.labels_hash
    FROM stg_telemetry t
    JOIN ledger_gpus g ON g.gpu IN (json_extract_string(t.labels, '$.UUID'),
                                    json_extract_string(t.labels, '$.Hostname'),
                                    json_extract_string(t.labels, '$.gpu'))
    WHERE t.metric = 'DCGM_FI_DEV_GPU_UTIL' AND t.value IS NOT NULL AND NOT isnan(t.value)
), gpu_use AS (            -- per service and day: all its GPUs
    SELECT service, day, least(greatest(avg(value) / 100, 0), 1) AS busy,
           count(DISTINCT labels_hash) AS gpus
    FROM gpu_samples GROUP BY ALL
), gpu_busy AS (           -- per configured GPU and day
    SELECT service, gpu, day, least(greatest(avg(value) / 100, 0), 1) AS busy
    FROM gpu_samples GROUP BY ALL
), lines AS (
    SELECT c.charge_period_start::DATE AS day, c.billing_currency AS currency, c.x_service AS service,
           c.billed_cost, coalesce(c.effective_cost, c.billed_cost) AS effective_cost,
           coalesce(c.x_service IN (SELECT name FROM ledger_shared WHERE what = 'service')
            OR (c.x_service = '__unallocated__'      -- a line with no category is not shared
                AND c.service_category IN (SELECT name FROM ledger_shared WHERE what = 'category')),
            false) AS is_shared,
           (concat_ws(' ', c.consumed_unit, c.resource_type, c.sku_id, c.charge_description,
                      c.service_subcategory) ILIKE '%gpu%'
            OR EXISTS (SELECT 1 FROM ledger_gpus g WHERE g.service = c.x_service
                       AND g.gpu IN (c.resource_name, c.resource_id))) AS is_gpu,
           c.resource_name, c.resource_id
    FROM stg_cost c
), own_lines AS (
    SELECT l.*,
           CASE WHEN l.is_gpu THEN coalesce(
               (SELECT max(b.busy) FROM gpu_busy b WHERE b.service = l.service AND b.day = l.day
                  AND b.gpu IN (l.resource_name, l.resource_id)),
               (SELECT u.busy FROM gpu_use u WHERE u.service = l.service AND u.day = l.day)) END AS busy
    FROM lines l
    WHERE NOT l.is_shared AND l.service <> '__unallocated__'
), own_split AS (
    SELECT day, currency, service,
           sum(billed_cost)    AS billed,
           sum(effective_cost) AS effective,
           bool_or(busy IS NOT NULL) AS has_idle,
           coalesce(sum(billed_cost - CAST(billed_cost * busy::DECIMAL(18,9) AS DECIMAL(38,18)))
                    FILTER (WHERE busy IS NOT NULL), 0)    AS idle_billed,
           coalesce(sum(effective_cost - CAST(effective_cost * busy::DECIMAL(18,9) AS DECIMAL(38,18)))
                    FILTER (WHERE busy IS NOT NULL), 0)    AS idle_effective
    FROM own_lines GROUP BY ALL
), own AS (
    SELECT day, currency, service, effective FROM own_split
), pool AS (
    SELECT day, currency, sum(billed_cost) AS billed, sum(effective_cost) AS effective
    FROM lines WHERE is_shared GROUP BY ALL
), weights AS (
    SELECT p.day, p.currency, w.service, w.weight
    FROM pool p
    JOIN (
        SELECT day, NULL::VARCHAR AS currency, service, predictions::DOUBLE AS weight
        FROM ledger_predictions WHERE getvariable('ledger_shared_basis') = 'requests'
        UNION ALL
        SELECT day, NULL, service, busy * gpus * 86400
        FROM gpu_use WHERE getvariable('ledger_shared_basis') = 'gpu_seconds'
        UNION ALL
        SELECT day, currency, service, effective::DOUBLE
        FROM own WHERE getvariable('ledger_shared_basis') = 'cost'
        UNION ALL
        SELECT day, NULL, service, 1.0
        FROM (SELECT day, service FROM own UNION SELECT day, service FROM ledger_predictions)
        WHERE getvariable('ledger_shared_basis') = 'even'
    ) w ON w.day = p.day AND (w.currency IS NULL OR w.currency = p.currency)
    WHERE w.weight > 0 AND w.service IS NOT NULL
), weights_agg AS (
    SELECT day, currency, service, sum(weight) AS weight FROM weights GROUP BY ALL
), shares AS (
    SELECT w.day, w.currency, w.service, p.billed AS pool_billed, p.effective AS pool_effective,
           w.weight / sum(w.weight) OVER (PARTITION BY w.day, w.currency) AS frac,
           row_number() OVER (PARTITION BY w.day, w.currency ORDER BY w.weight DESC, w.service) AS rk
    FROM weights_agg w JOIN pool p ON p.day = w.day AND p.currency = w.currency
), shared_raw AS (
    SELECT *, CAST(pool_billed * frac AS DECIMAL(38,18)) AS b,
              CAST(pool_effective * frac AS DECIMAL(38,18)) AS e
    FROM shares
), shared AS (
    SELECT day, currency, service,
           CASE WHEN rk = 1 THEN pool_billed - coalesce(sum(b) FILTER (WHERE rk > 1)
                OVER (PARTITION BY day, currency), 0) ELSE b END AS billed,
           CASE WHEN rk = 1 THEN pool_effective - coalesce(sum(e) FILTER (WHERE rk > 1)
                OVER (PARTITION BY day, currency), 0) ELSE e END AS effective
    FROM shared_raw
)
SELECT day, currency, service, 'allocated' AS line, billed - idle_billed AS billed_cost,
       effective - idle_effective AS effective_cost
FROM own_split
UNION ALL
SELECT day, currency, service, 'idle', idle_billed, idle_effective
FROM own_split WHERE has_idle
UNION ALL
SELECT day, currency, service, 'shared', billed, effective FROM shared
UNION ALL   -- a shared pool nobody can carry that day stays visible
SELECT p.day, p.currency, '__unallocated__', 'shared (no basis)', p.billed, p.effective
FROM pool p
WHERE NOT EXISTS (SELECT 1 FROM weights_agg w WHERE w.day = p.day AND w.currency = p.currency)
UNION ALL
SELECT day, currency, '__unallocated__', 'unallocated', sum(billed_cost), sum(effective_cost)
FROM lines WHERE service = '__unallocated__' AND NOT is_shared
GROUP BY ALL;
