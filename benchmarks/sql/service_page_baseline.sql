-- name: service_page_baseline
-- grain: bucket_at, model_version, metric (long format, as metrics/sql/queries/service_technical.sql)
-- inputs: the lake's Parquet files straight (no views): {telemetry} (raw_telemetry), {requests}
--         (raw_requests). No load gating and no de-duplication: benchmarks/telemetry_scale.py
--         checks the generated store has one committed load per file and no `_dedup_*` keys.
--         Each series' previous sample is looked for 5 minutes before $start (the store is scraped
--         every 15 s); GPU series without a service label are not read (the benchmark names no GPUs).
-- params: $service, $start, $end, $bucket ('hour' | 'day'), $split
-- The hand-written, filter-first answer to the Service page's technical query: histogram
-- p50/p95/p99, requests, error/fallback/abstain rates per bucket and version, request-log fallback
-- for buckets without telemetry counters, GPU utilisation. One statement; the benchmark's baseline.
WITH raw AS (
    SELECT sampled_at, metric, labels, labels_hash, model_version, value, metric_type, series_start
    FROM read_parquet({telemetry})
    WHERE service = $service AND sampled_at >= $start::TIMESTAMPTZ - INTERVAL 5 MINUTE AND sampled_at < $end
      AND metric IN ('inference_request_duration_seconds_bucket', 'inference_requests_total',
                     'inference_fallback_total', 'inference_abstain_total', 'DCGM_FI_DEV_GPU_UTIL')
),
inc AS (
    SELECT date_trunc($bucket, sampled_at) AS bucket_at, metric, value,
           CASE WHEN metric = 'inference_requests_total' THEN coalesce(labels->>'status', labels->>'code') END AS status,
           CASE WHEN metric = 'inference_request_duration_seconds_bucket' THEN labels->>'le' END AS le,
           CASE WHEN $split THEN model_version ELSE '(all)' END AS model_version,
           CASE WHEN NOT (metric_type IS NULL OR metric_type IN ('counter', 'histogram', 'summary', 'unknown', 'untyped'))
                     OR value IS NULL OR isnan(value) THEN NULL
                WHEN prev_value IS NULL OR isnan(prev_value) THEN CASE WHEN coalesce(series_start, false) THEN value ELSE 0 END
                WHEN value < prev_value THEN value ELSE value - prev_value END AS d
    FROM (SELECT *, lag(value IGNORE NULLS) OVER (PARTITION BY metric, labels_hash ORDER BY sampled_at) AS prev_value
          FROM raw WHERE metric <> 'DCGM_FI_DEV_GPU_UTIL')
    WHERE sampled_at >= $start
),
hist AS (
    SELECT bucket_at, model_version,
           CASE WHEN le IN ('+Inf', 'Inf', 'inf') THEN 'infinity'::DOUBLE ELSE TRY_CAST(le AS DOUBLE) END AS le,
           sum(d) AS n
    FROM inc WHERE metric = 'inference_request_duration_seconds_bucket'
    GROUP BY ALL
),
hist_cum AS (
    SELECT *, max(n) OVER (PARTITION BY bucket_at, model_version) AS total,
           lag(le) OVER w AS prev_le, lag(n) OVER w AS prev_n
    FROM hist WINDOW w AS (PARTITION BY bucket_at, model_version ORDER BY le)
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
           quantile_cont(latency_s, 0.99) AS p99_s, count(*)::DOUBLE AS requests,
           count(*) FILTER (WHERE try_cast(status AS INTEGER) >= 500
                              OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx'))::DOUBLE AS errors,
           count(*) FILTER (WHERE fallback)::DOUBLE AS fallbacks, count(*) FILTER (WHERE abstained)::DOUBLE AS abstains,
           count(fallback) AS fallback_known, count(abstained) AS abstain_known
    FROM read_parquet({requests}, union_by_name = true)
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
    FROM inc WHERE metric <> 'inference_request_duration_seconds_bucket'
    GROUP BY ALL
),
gpu AS (
    SELECT date_trunc($bucket, sampled_at) AS bucket_at, avg(value) AS value
    FROM raw WHERE metric = 'DCGM_FI_DEV_GPU_UTIL' AND sampled_at >= $start
    GROUP BY ALL
)
SELECT bucket_at, model_version, metric, value FROM quantiles
UNION ALL
SELECT bucket_at, model_version, unnest(['p50_s', 'p95_s', 'p99_s']), unnest([p50_s, p95_s, p99_s])
FROM log_quantiles l WHERE NOT EXISTS (SELECT 1 FROM quantiles q WHERE q.bucket_at = l.bucket_at)
UNION ALL
SELECT bucket_at, model_version, unnest(['requests', 'error_rate', 'fallback_rate', 'abstain_rate']),
       unnest([requests, errors / nullif(requests, 0), fallbacks / nullif(requests, 0), abstains / nullif(requests, 0)])
FROM counts WHERE requests IS NOT NULL
UNION ALL
SELECT bucket_at, model_version, unnest(['requests', 'error_rate', 'fallback_rate', 'abstain_rate']),
       unnest([requests, errors / nullif(requests, 0),
               CASE WHEN fallback_known > 0 THEN fallbacks / nullif(requests, 0) END,
               CASE WHEN abstain_known > 0 THEN abstains / nullif(requests, 0) END])
FROM log_quantiles l
WHERE NOT EXISTS (SELECT 1 FROM counts c WHERE c.bucket_at = l.bucket_at AND c.requests IS NOT NULL)
UNION ALL
SELECT bucket_at, NULL, 'gpu_util_pct', value FROM gpu
