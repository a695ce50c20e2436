-- name: ledger_cost
-- materialize: true   (a temp table per connection: later views read it several times)
-- grain: service, model_version, day (UTC), currency
-- inputs: stg_cost, ledger_predictions, ledger_fx (from onepane.toml [fx]), ledger_services
-- Cost per service and version. Columns and formulas:
--   amount        = effective_cost (amortised), or billed_cost where the source gives no
--                   effective cost (then `used_billed_cost` is true)
--   currency      = reporting_currency when [fx] converts billing_currency (fx_converted = true),
--                   else billing_currency: currencies are never summed together
--   cost          = amount × fx rate (exact DECIMAL) when converted, else amount
--   direct_cost   = Σ cost of lines tagged with this model_version
--   spread_cost   = Σ cost of the service's lines with no model_version × this version's share of
--                   the service's predictions that day (the largest version takes the rounding
--                   remainder, so the spread adds up exactly); a day without predictions keeps
--                   the untagged cost on a row with model_version NULL
--   total_cost    = direct_cost + spread_cost
-- Amortization: a line is spread evenly over the UTC days its charge period [start, end) touches
-- (a monthly fee or an RI billed monthly: amount ÷ days of the month on each day). Each day gets
-- amount ÷ days rounded to 1e-9 and the first day takes the rounding remainder, so the line's total
-- (and every month's total, for periods inside a month) stays exact. Daily and hourly lines, and
-- lines without an end, stay on the day they start.
CREATE OR REPLACE TEMP VIEW ledger_cost AS
WITH raw_lines AS (
    SELECT c.x_service AS service, c.x_model_version AS model_version,
           c.charge_period_start::DATE AS first_day,
           CASE WHEN c.charge_period_end > c.charge_period_start
                THEN greatest(date_diff('day', c.charge_period_start::DATE,
                                        (c.charge_period_end - INTERVAL 1 MICROSECOND)::DATE) + 1, 1)
                ELSE 1 END AS n_days,
           coalesce(c.effective_cost, c.billed_cost) AS amount,
           c.effective_cost IS NULL AS used_billed,
           c.billing_currency,
           getvariable('ledger_reporting_currency') AS rc,
           fx.rate
    FROM stg_cost c
    LEFT JOIN ledger_fx fx ON fx.currency = c.billing_currency
), spanning AS (
    SELECT *, unnest(range(n_days)) AS k,
           CAST(CAST(round(amount / n_days, 9) AS DECIMAL(38,9)) AS DECIMAL(38,18)) AS per_day
    FROM raw_lines WHERE n_days > 1
), lines AS (
    SELECT service, model_version, first_day AS day, amount, used_billed, billing_currency, rc, rate
    FROM raw_lines WHERE n_days = 1
    UNION ALL
    SELECT service, model_version, first_day + k::INTEGER AS day,
           CASE WHEN k = 0 THEN amount - per_day * (n_days - 1) ELSE per_day END AS amount,
           used_billed, billing_currency, rc, rate
    FROM spanning
), converted AS (
    SELECT service, model_version, day, used_billed,
           CASE WHEN rc IS NOT NULL AND billing_currency <> rc AND rate IS NOT NULL
                THEN CAST(amount * rate AS DECIMAL(38,18)) ELSE amount END AS cost,
           CASE WHEN rc IS NOT NULL AND (billing_currency = rc OR rate IS NOT NULL)
                THEN rc ELSE billing_currency END AS currency,
           (rc IS NOT NULL AND billing_currency <> rc AND rate IS NOT NULL) AS fx_converted
    FROM lines
), direct AS (
    SELECT service, model_version, day, currency, sum(cost) AS cost,
           bool_or(fx_converted) AS fx_converted, bool_or(used_billed) AS used_billed
    FROM converted WHERE model_version IS NOT NULL GROUP BY ALL
), untagged AS (
    SELECT service, day, currency, sum(cost) AS cost,
           bool_or(fx_converted) AS fx_converted, bool_or(used_billed) AS used_billed
    FROM converted WHERE model_version IS NULL GROUP BY ALL
), shares AS (
    SELECT service, model_version, day, predictions,
           sum(predictions) OVER (PARTITION BY service, day) AS total,
           row_number() OVER (PARTITION BY service, day ORDER BY predictions DESC, model_version) AS rk
    FROM ledger_predictions WHERE model_version IS NOT NULL
), spread_raw AS (
    SELECT s.service, s.model_version, s.day, u.currency, s.rk, u.cost AS pool,
           CAST(u.cost * (s.predictions::DOUBLE / s.total) AS DECIMAL(38,18)) AS share,
           u.fx_converted, u.used_billed
    FROM untagged u JOIN shares s ON s.service = u.service AND s.day = u.day AND s.total > 0
), spread AS (
    SELECT service, model_version, day, currency, fx_converted, used_billed,
           CASE WHEN rk = 1
                THEN pool - coalesce(sum(share) FILTER (WHERE rk > 1)
                                     OVER (PARTITION BY service, day, currency), 0)
                ELSE share END AS spread_cost
    FROM spread_raw
), kept AS (   -- untagged cost on days the service served no predictions stays visible
    SELECT u.service, NULL::VARCHAR AS model_version, u.day, u.currency, u.cost, u.fx_converted,
           u.used_billed
    FROM untagged u
    WHERE NOT EXISTS (SELECT 1 FROM shares s WHERE s.service = u.service AND s.day = u.day AND s.total > 0)
)
SELECT coalesce(d.service, s.service) AS service,
       coalesce(d.model_version, s.model_version) AS model_version,
       coalesce(d.day, s.day) AS day,
       coalesce(d.currency, s.currency) AS currency,
       coalesce(d.cost, 0::DECIMAL(38,18)) AS direct_cost,
       coalesce(s.spread_cost, 0::DECIMAL(38,18)) AS spread_cost,
       coalesce(d.cost, 0::DECIMAL(38,18)) + coalesce(s.spread_cost, 0::DECIMAL(38,18)) AS total_cost,
       coalesce(d.fx_converted, false) OR coalesce(s.fx_converted, false) AS fx_converted,
       coalesce(d.used_billed, false) OR coalesce(s.used_billed, false) AS used_billed_cost
FROM direct d
FULL JOIN spread s ON s.service = d.service AND s.model_version = d.model_version
                  AND s.day = d.day AND s.currency = d.currency
UNION ALL
SELECT service, model_version, day, currency, cost, 0::DECIMAL(38,18), cost, fx_converted, used_billed
FROM kept;
