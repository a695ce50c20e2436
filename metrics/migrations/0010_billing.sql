-- 0010_billing: columns the billing collectors fill at load time (see collectors/billing).
-- x_row_hash: identity of the source row (DuckDB hash of the format and every source cell);
--   stg_cost keeps only the newest load's copy of a row that partial, date-ranged files repeat.
-- x_invoice_expected: the export has an invoice-id column, so a row without an id is estimated.
-- x_finalizes_at: for exports without invoice ids, the period counts as estimated until then
--   (billing period end + pricing.finalization_lag at load time).
ALTER TABLE _schema_raw_focus ADD COLUMN x_row_hash UBIGINT;
ALTER TABLE _schema_raw_focus ADD COLUMN x_invoice_expected BOOLEAN;
ALTER TABLE _schema_raw_focus ADD COLUMN x_finalizes_at TIMESTAMPTZ;
