-- 0020_telemetry_series: what the telemetry summary needs to know about a sample's series.
-- metric_type: the exposition family type (counter, gauge, histogram, summary, unknown) or, for
--   Prometheus-collected series, the type the query declares.
-- series_start: TRUE on the first sample of a counter series that began while it was observed
--   (its `_created` time; its first appearance after a file's first timestamp; no point at the
--   first step of a Prometheus range), so the sample's value counts as increase from zero.
--   FALSE/NULL: the first sample is only a baseline (always so for DCGM's since-boot counters).
ALTER TABLE _schema_raw_telemetry ADD COLUMN metric_type VARCHAR;
ALTER TABLE _schema_raw_telemetry ADD COLUMN series_start BOOLEAN;
