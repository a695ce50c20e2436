-- 0040_kpi_lineage: every KPI value can be traced back to the file and line it came from, and
-- rows the KPI collector accepted with a data-quality warning carry that warning.
ALTER TABLE _schema_raw_kpis ADD COLUMN source_file VARCHAR;
ALTER TABLE _schema_raw_kpis ADD COLUMN source_line BIGINT;     -- line in the file (header = 1)
ALTER TABLE _schema_raw_kpis ADD COLUMN quality VARCHAR;        -- NULL = clean; else the warning
