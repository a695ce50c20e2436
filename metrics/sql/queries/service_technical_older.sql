-- name: service_technical_older
-- grain: one row: n = 1 when a sample of the Service page's counters for one of $versions precedes
--        the look-back of service_technical (10 minutes before $start), else 0
-- inputs: stg_telemetry
-- params: $service, $start, $versions (VARCHAR[]), $null_version (true: also series without a version)
-- After service_technical's first read ($skip_older) found series without a previous sample in the
-- look-back: if their versions have no older samples either, that read was exact (its older-history
-- probe would have found nothing); else metrics.queries.service_technical runs the query again whole.
SELECT count(*) AS n
FROM (SELECT 1 FROM stg_telemetry
      WHERE service = $service AND sampled_at < $start::TIMESTAMPTZ - INTERVAL 10 MINUTE
        AND metric IN ('inference_request_duration_seconds_bucket', 'inference_requests_total',
                       'inference_fallback_total', 'inference_abstain_total')
        AND (list_contains($versions::VARCHAR[], model_version) OR ($null_version AND model_version IS NULL))
      LIMIT 1)
