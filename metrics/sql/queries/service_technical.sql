-- name: service_technical
-- grain: bucket_at, model_version, metric (long format)
-- inputs: stg_telemetry (read filter-first: de-duplicated at write, so the filters reach the scan; with
--         stg_telemetry_delta's increase rule), stg_requests
-- params: $service, $start, $end (half-open), $bucket ('hour' | 'day'), $split (false: every
--         version together as '(all)'),
--         $gpus (VARCHAR[]: GPU UUIDs or host names of the service, for DCGM series without a service;
--         the `-- when: gpus` lines are dropped when it is empty, metrics/queries.py),
--         skip_older (optional, only a switch for the `-- when: skip_older` and `-- unless: skip_older`
--         lines; true: no older-history probe (its lines are left out: neither its second
--         reference to stg_telemetry nor its grouping of the window's series is planned or run),
--         and per model version with series lacking a previous sample in the look-back one more
--         row, metric 'series_without_previous', value = how many of their samples lack one:
--         metrics.queries.service_technical reads the window this way first, and again without it
--         only when such a version has older samples, service_technical_older)
-- One service's technical health per time bucket and model version:
--   p50_s, p95_s, p99_s  latency quantiles from the `inference_request_duration_seconds` histogram
--                        (bucket-count increases from stg_telemetry_delta, linear interpolation inside the bucket, like
--                        Prometheus' histogram_quantile); from request logs when there is no histogram
--   requests             predictions served (counter increases; request logs as fallback)
--   error_rate           errors / requests (status >= 500 or error/failed/failure/fail/5xx)
--   fallback_rate        inference_fallback_total increase / requests
--   abstain_rate         inference_abstain_total increase / requests
--   (requests, error_rate, fallback_rate, abstain_rate and the quantiles come from the request logs
--    for a bucket without telemetry counters, e.g. a service whose only source is a request log)
--   gpu_util_pct         mean DCGM_FI_DEV_GPU_UTIL of the service's GPUs (model_version NULL)
WITH svc AS (
    -- filter first: service, time (10 minutes before $start for each series' previous sample: the
    -- store is scraped every few seconds to a minute) and metric sit on the Parquet scan;
    -- stg_telemetry is de-duplicated at write (newest load wins). One read for the counters and
    -- the service's GPU utilisation.
    SELECT sampled_at, metric, labels, labels_hash, model_version, value, metric_type, series_start
    FROM stg_telemetry
    WHERE service = $service AND sampled_at >= $start::TIMESTAMPTZ - INTERVAL 10 MINUTE AND sampled_at < $end
      AND metric IN ('inference_request_duration_seconds_bucket', 'inference_requests_total',
                     'inference_fallback_total', 'inference_abstain_total', 'DCGM_FI_DEV_GPU_UTIL')
),
raw AS (
    SELECT * FROM svc WHERE metric <> 'DCGM_FI_DEV_GPU_UTIL'
),
-- the older-history probe (left out with skip_older): series in the window without a non-NULL
-- sample in those 10 minutes, whose older samples decide their first increase (rare: a counter
-- silent for longer)
missing AS (                                                                       -- unless: skip_older
    SELECT metric, labels_hash FROM raw GROUP BY metric, labels_hash               -- unless: skip_older
    HAVING bool_or(sampled_at >= $start)                                           -- unless: skip_older
       AND NOT bool_or(sampled_at < $start AND value IS NOT NULL)                  -- unless: skip_older
),                                                                                 -- unless: skip_older
older AS (                                                                         -- unless: skip_older
    SELECT t.sampled_at, t.metric, t.labels, t.labels_hash, t.model_version, t.value, -- unless: skip_older
           t.metric_type, t.series_start                                           -- unless: skip_older
    FROM stg_telemetry t SEMI JOIN missing m ON m.metric = t.metric AND m.labels_hash = t.labels_hash -- unless: skip_older
    WHERE t.service = $service AND t.sampled_at < $start::TIMESTAMPTZ - INTERVAL 10 MINUTE -- unless: skip_older
),                                                                                 -- unless: skip_older
inc AS (
    -- stg_telemetry_delta's increase rule over these samples only; the labels read here once, for
    -- the series that need them (a request counter's status, a histogram bucket's bound). With
    -- skip_older, a sample without a previous one (NULL lag) marks a series the probe would look for:
    -- none in the look-back holds a non-NULL value.
    SELECT date_trunc($bucket, sampled_at) AS bucket_at, metric,
           prev_value IS NULL AS no_previous, model_version AS series_version,        -- when: skip_older
           CASE WHEN metric = 'inference_requests_total' THEN
                coalesce(json_extract_string(labels, '$.status'), json_extract_string(labels, '$.code')) END AS status,
           CASE WHEN metric = 'inference_request_duration_seconds_bucket' THEN json_extract_string(labels, '$.le') END AS le,
           CASE WHEN $split THEN model_version ELSE '(all)' END AS model_version,
           CASE WHEN NOT (metric_type IS NULL OR metric_type IN ('counter', 'histogram', 'summary', 'unknown', 'untyped'))
                     OR value IS NULL OR isnan(value) THEN NULL
                WHEN prev_value IS NULL OR isnan(prev_value) THEN CASE WHEN coalesce(series_start, false) THEN value ELSE 0 END
                WHEN value < prev_value THEN value
                ELSE value - prev_value END AS d
    FROM (SELECT *, lag(value IGNORE NULLS) OVER (PARTITION BY metric, labels_hash ORDER BY sampled_at) AS prev_value
          FROM (SELECT * FROM raw
                UNION ALL SELECT * FROM older                                      -- unless: skip_older
               ))
    WHERE sampled_at >= $start AND sampled_at < $end
),
hist AS (
    SELECT bucket_at, model_version,
           CASE WHEN le IN ('+Inf', 'Inf', 'inf') THEN 'infinity'::DOUBLE ELSE TRY_CAST(le AS DOUBLE) END AS le,
           sum(d) AS n
    FROM inc WHERE metric = 'inference_request_duration_seconds_bucket'
    GROUP BY ALL
),
hist_cum AS (
    SELECT *, max(n) OVER w_all AS total,
           lag(le) OVER w AS prev_le, lag(n) OVER w AS prev_n
    FROM hist
    WINDOW w AS (PARTITION BY bucket_at, model_version ORDER BY le),
           w_all AS (PARTITION BY bucket_at, model_version)
),
quantiles AS (
    SELECT bucket_at, model_version, q.metric,
           min_by(CASE WHEN isinf(le) THEN prev_le
                       ELSE coalesce(prev_le, 0) + (le - coalesce(prev_le, 0))
                            * (q.q * total - coalesce(prev_n, 0)) / nullif(n - coalesce(prev_n, 0), 0) END,
                  le) AS value
    FROM hist_cum, (VALUES ('p50_s', 0.5), ('p95_s', 0.95), ('p99_s', 0.99)) q(metric, q)
    WHERE total > 0 AND n >= q.q * total
    GROUP BY ALL
),
log_quantiles AS (
    SELECT date_trunc($bucket, arrived_at) AS bucket_at,
           CASE WHEN $split THEN model_version ELSE '(all)' END AS model_version,
           quantile_cont(latency_s, 0.5) AS p50_s, quantile_cont(latency_s, 0.95) AS p95_s,
           quantile_cont(latency_s, 0.99) AS p99_s,
           count(*)::DOUBLE AS requests,
           count(*) FILTER (WHERE try_cast(status AS INTEGER) >= 500
                              OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx'))::DOUBLE AS errors,
           count(*) FILTER (WHERE fallback)::DOUBLE AS fallbacks,
           count(*) FILTER (WHERE abstained)::DOUBLE AS abstains,
           count(fallback) AS fallback_known, count(abstained) AS abstain_known
    FROM stg_requests
    WHERE service = $service AND arrived_at >= $start AND arrived_at < $end
    GROUP BY ALL
),
counts AS (
    SELECT bucket_at, model_version,
           sum(d) FILTER (WHERE metric = 'inference_requests_total') AS requests,
           sum(d) FILTER (WHERE metric = 'inference_requests_total'
                          AND (try_cast(status AS INTEGER) >= 500
                               OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx'))) AS errors,
           sum(d) FILTER (WHERE metric = 'inference_fallback_total') AS fallbacks,
           sum(d) FILTER (WHERE metric = 'inference_abstain_total') AS abstains
    FROM inc WHERE metric IN ('inference_requests_total', 'inference_fallback_total', 'inference_abstain_total')
    GROUP BY ALL
),
gpu AS (
    -- the service's GPUs: series labelled with the service, and (lines kept only when $gpus names
    -- some) DCGM series without a service whose GPU UUID or host is one of $gpus
    SELECT date_trunc($bucket, sampled_at) AS bucket_at, avg(value) AS value
    FROM (SELECT sampled_at, value FROM svc
          WHERE metric = 'DCGM_FI_DEV_GPU_UTIL' AND sampled_at >= $start
          UNION ALL                                                                           -- when: gpus
          SELECT sampled_at, value FROM stg_telemetry                                         -- when: gpus
          WHERE metric = 'DCGM_FI_DEV_GPU_UTIL' AND sampled_at >= $start AND sampled_at < $end -- when: gpus
            AND service IS NULL                                                               -- when: gpus
            AND (list_contains($gpus::VARCHAR[], json_extract_string(labels, '$.UUID'))        -- when: gpus
                 OR list_contains($gpus::VARCHAR[], json_extract_string(labels, '$.Hostname')))  -- when: gpus
         )
    GROUP BY ALL
)
SELECT bucket_at, model_version, metric, value FROM quantiles
UNION ALL
SELECT l.bucket_at, l.model_version, unnest(['p50_s', 'p95_s', 'p99_s']), unnest([l.p50_s, l.p95_s, l.p99_s])
FROM log_quantiles l
ANTI JOIN quantiles q ON q.bucket_at = l.bucket_at
UNION ALL
SELECT bucket_at, model_version, unnest(['requests', 'error_rate', 'fallback_rate', 'abstain_rate']),
       unnest([requests, errors / nullif(requests, 0), fallbacks / nullif(requests, 0), abstains / nullif(requests, 0)])
FROM counts WHERE requests IS NOT NULL
UNION ALL
SELECT l.bucket_at, l.model_version, unnest(['requests', 'error_rate', 'fallback_rate', 'abstain_rate']),
       unnest([l.requests, l.errors / nullif(l.requests, 0),
               CASE WHEN l.fallback_known > 0 THEN l.fallbacks / nullif(l.requests, 0) END,
               CASE WHEN l.abstain_known > 0 THEN l.abstains / nullif(l.requests, 0) END])
FROM log_quantiles l
ANTI JOIN (SELECT bucket_at FROM counts WHERE requests IS NOT NULL) c ON c.bucket_at = l.bucket_at
UNION ALL
SELECT bucket_at, NULL, 'gpu_util_pct', value FROM gpu
UNION ALL                                                           -- when: skip_older
SELECT NULL, series_version, 'series_without_previous', count(*) FROM inc WHERE no_previous GROUP BY ALL -- when: skip_older
ORDER BY bucket_at, metric, model_version
