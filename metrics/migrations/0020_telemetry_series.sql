-- 0020_telemetry_series: what the telemetry summary needs to know about a sample's series.
-- metric_type: the exposition family type (counter, gauge, histogram, summary, unknown) or, for
--   Prometheus-collected series, the type the query declares.
-- series_start: TRUE on the first sample of a counter series that began while it was observed
--   (its `_created` time, or its first appearance after the source's first timestamp), so the
--   sample's value counts as increase from zero. FALSE/NULL: the first sample is only a baseline.
ALTER TABLE _schema_raw_telemetry ADD COLUMN metric_type VARCHAR;
ALTER TABLE _schema_raw_telemetry ADD COLUMN series_start BOOLEAN;
