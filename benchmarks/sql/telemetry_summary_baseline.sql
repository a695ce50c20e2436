-- name: telemetry_summary_baseline
-- grain: model_version of one service in [$start, $end) (model_version NULL: the service's GPU
--        time in buckets where no version worked), with the service-wide GPU figures on every row
-- inputs: the lake's Parquet files straight (no views): {telemetry} (raw_telemetry), {requests}
--         (raw_requests). No load gating and no de-duplication: benchmarks/telemetry_scale.py
--         checks the generated store has one committed load per file and no `_dedup_*` keys.
-- params: $service, $from (the look-back for each series' previous sample), $start, $end,
--         $bucket_s, $price (GPU-hour price)
-- The hand-written, filter-first answer to everything `onepane telemetry summary` prints
-- (metrics/telemetry.py): requests, error/fallback/abstain rates, histogram p50/p95 (Prometheus'
-- histogram_quantile), mean latency, tokens, GPU seconds/energy split by request-seconds per
-- bucket, idle and unattributed GPU time and their cost; a version without request counters from
-- its request log. One statement; the benchmark's baseline.
WITH raw AS (
    SELECT sampled_at, metric, labels, labels_hash, model_version, value, metric_type, series_start
    FROM read_parquet({telemetry})
    WHERE service = $service AND sampled_at >= $from AND sampled_at < $end
      AND metric IN ('inference_requests_total', 'inference_request_duration_seconds_count',
                     'inference_request_duration_seconds_sum', 'inference_request_duration_seconds_bucket',
                     'inference_fallback_total', 'inference_abstain_total', 'inference_tokens_total',
                     'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_POWER_USAGE',
                     'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total')
),
s AS (
    SELECT *, lag(value IGNORE NULLS) OVER w AS prev_value, lag(sampled_at) OVER w AS prev_at,
           (metric = 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION'
            OR ((metric_type IS NULL OR metric_type IN ('counter', 'histogram', 'summary', 'unknown', 'untyped'))
                AND (metric LIKE '%\_total' ESCAPE '\' OR metric LIKE '%\_bucket' ESCAPE '\'
                     OR metric LIKE '%\_count' ESCAPE '\' OR metric LIKE '%\_sum' ESCAPE '\'))) AS cumulative
    FROM raw WINDOW w AS (PARTITION BY metric, labels_hash ORDER BY sampled_at)
),
d AS MATERIALIZED (
    SELECT metric, labels_hash, model_version, value, floor(epoch(sampled_at) / $bucket_s) AS bucket,
           CASE WHEN metric = 'inference_requests_total' THEN coalesce(labels->>'status', labels->>'code') END AS status,
           CASE WHEN metric = 'inference_request_duration_seconds_bucket' THEN labels->>'le' END AS le,
           CASE WHEN NOT cumulative OR value IS NULL OR isnan(value) THEN NULL
                WHEN prev_value IS NULL OR isnan(prev_value) THEN CASE WHEN coalesce(series_start, false) THEN value ELSE 0 END
                WHEN value < prev_value THEN value ELSE value - prev_value END AS inc,
           CASE WHEN prev_at IS NULL OR epoch(sampled_at) - epoch(prev_at) > 300 THEN NULL
                ELSE epoch(sampled_at) - epoch(prev_at) END AS dt_s
    FROM s WHERE sampled_at >= $start
),
v AS (
    SELECT model_version,
           sum(inc) FILTER (WHERE metric = 'inference_requests_total') AS req_counter,
           sum(inc) FILTER (WHERE metric = 'inference_requests_total'
                            AND (try_cast(status AS INTEGER) >= 500
                                 OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx'))) AS errors,
           sum(inc) FILTER (WHERE metric = 'inference_request_duration_seconds_count') AS hist_count,
           sum(inc) FILTER (WHERE metric = 'inference_request_duration_seconds_sum') AS req_seconds,
           sum(inc) FILTER (WHERE metric = 'inference_fallback_total') AS fallbacks,
           sum(inc) FILTER (WHERE metric = 'inference_abstain_total') AS abstains,
           sum(inc) FILTER (WHERE metric = 'inference_tokens_total') AS tokens
    FROM d WHERE model_version IS NOT NULL
    GROUP BY 1
),
h AS (          -- cumulative bucket counts, made monotonic as histogram_quantile does
    SELECT model_version, le, max(n) OVER (PARTITION BY model_version ORDER BY le) AS c
    FROM (SELECT model_version,
                 CASE WHEN le IN ('+Inf', 'Inf', '+inf') THEN 'Infinity'::DOUBLE
                      ELSE try_cast(le AS DOUBLE) END AS le, sum(inc) AS n
          FROM d WHERE model_version IS NOT NULL AND metric = 'inference_request_duration_seconds_bucket'
          GROUP BY ALL HAVING le IS NOT NULL AND n IS NOT NULL AND NOT isnan(n))
),
hq AS (
    SELECT model_version, le, c, lag(le) OVER w AS prev_le, lag(c) OVER w AS prev_c,
           max(c) OVER (PARTITION BY model_version) AS total,
           bool_or(isinf(le)) OVER (PARTITION BY model_version) AS has_inf,
           row_number() OVER w AS i
    FROM h WINDOW w AS (PARTITION BY model_version ORDER BY le)
),
quant AS (
    SELECT model_version, q,
           min_by(CASE WHEN isinf(le) THEN prev_le
                       WHEN i = 1 AND le <= 0 THEN le
                       WHEN c = coalesce(prev_c, 0) THEN le
                       ELSE coalesce(prev_le, 0) + (le - coalesce(prev_le, 0)) * (q * total - coalesce(prev_c, 0))
                            / (c - coalesce(prev_c, 0)) END, le) AS x
    FROM hq, (VALUES (0.5), (0.95)) t(q)
    WHERE has_inf AND total > 0 AND c >= q * total
    GROUP BY ALL
),
gpu AS (
    SELECT bucket, sum(value / 100.0 * dt_s) AS busy_s, sum(dt_s) AS observed_s
    FROM d WHERE metric = 'DCGM_FI_DEV_GPU_UTIL' AND dt_s IS NOT NULL AND value IS NOT NULL AND NOT isnan(value)
    GROUP BY 1
),
power AS (
    SELECT bucket, sum(value * dt_s) AS energy_j
    FROM d WHERE metric = 'DCGM_FI_DEV_POWER_USAGE' AND dt_s IS NOT NULL AND value IS NOT NULL AND NOT isnan(value)
      AND labels_hash NOT IN (SELECT labels_hash FROM d WHERE metric IN
          ('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total'))
    GROUP BY 1
),
energy AS (
    SELECT bucket, sum(inc) / 1000.0 AS energy_j
    FROM d WHERE metric IN ('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total')
      AND inc IS NOT NULL
    GROUP BY 1
),
work AS (
    SELECT bucket, model_version, sum(inc) AS work
    FROM d
    WHERE model_version IS NOT NULL AND inc > 0
      AND metric = CASE WHEN EXISTS (SELECT 1 FROM d WHERE metric = 'inference_request_duration_seconds_sum'
                                                       AND model_version IS NOT NULL)
                        THEN 'inference_request_duration_seconds_sum' ELSE 'inference_requests_total' END
    GROUP BY ALL
),
buckets AS (
    SELECT coalesce(g.bucket, e.bucket, p.bucket) AS bucket, coalesce(g.busy_s, 0) AS busy_s,
           coalesce(g.observed_s, 0) AS observed_s, coalesce(e.energy_j, 0) + coalesce(p.energy_j, 0) AS energy_j
    FROM gpu g FULL JOIN energy e ON g.bucket = e.bucket FULL JOIN power p ON p.bucket = coalesce(g.bucket, e.bucket)
),
attr AS (
    SELECT w.model_version, sum(b.busy_s * coalesce(w.share, 1)) AS gpu_s,
           sum(b.energy_j * coalesce(w.share, 1)) AS energy_j, sum(b.observed_s * coalesce(w.share, 1)) AS observed_s
    FROM buckets b
    LEFT JOIN (SELECT bucket, model_version, work / sum(work) OVER (PARTITION BY bucket) AS share FROM work) w
           ON w.bucket = b.bucket
    GROUP BY 1
),
svc AS (
    SELECT count(*) > 0 AS has_gpu, sum(observed_s) AS observed_s, sum(gpu_s) AS busy_s,
           coalesce(sum(gpu_s) FILTER (WHERE model_version IS NULL), 0) AS unattributed_s,
           coalesce(sum(energy_j) FILTER (WHERE model_version IS NULL), 0) AS idle_energy_j
    FROM attr
),
lg AS (
    SELECT model_version, count(*) AS requests, count(status) AS with_status,
           count(*) FILTER (WHERE try_cast(status AS INTEGER) >= 500
                              OR lower(status) IN ('error', 'failed', 'failure', 'fail', '5xx')) AS errors,
           sum(fallback::INT) AS fallbacks, sum(abstained::INT) AS abstains,
           quantile_cont(latency_s, 0.5) AS p50, quantile_cont(latency_s, 0.95) AS p95, avg(latency_s) AS mean,
           sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0))
               FILTER (WHERE prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL) AS tokens
    FROM read_parquet({requests}, union_by_name = true)
    WHERE service = $service AND arrived_at >= $start AND arrived_at < $end
    GROUP BY 1
),
counted AS (
    SELECT v.*, coalesce(req_counter, hist_count) AS requests FROM v
    WHERE req_counter IS NOT NULL OR hist_count IS NOT NULL
       OR model_version NOT IN (SELECT model_version FROM lg WHERE model_version IS NOT NULL)
),
versions AS (
    SELECT c.model_version, round(c.requests) AS requests,
           CASE WHEN c.req_counter IS NOT NULL THEN coalesce(c.errors, 0) / nullif(c.requests, 0) END AS error_rate,
           (SELECT x FROM quant q WHERE q.model_version = c.model_version AND q = 0.5) AS latency_p50_s,
           (SELECT x FROM quant q WHERE q.model_version = c.model_version AND q = 0.95) AS latency_p95_s,
           c.req_seconds / nullif(c.hist_count, 0) AS latency_mean_s,
           a.gpu_s AS gpu_seconds, a.gpu_s / nullif(c.requests, 0) AS gpu_seconds_per_request,
           a.energy_j, a.energy_j / nullif(c.requests, 0) AS energy_j_per_request,
           coalesce(c.fallbacks / nullif(c.requests, 0), l.fallbacks / nullif(l.requests, 0)) AS fallback_rate,
           coalesce(c.abstains / nullif(c.requests, 0), l.abstains / nullif(l.requests, 0)) AS abstain_rate,
           c.tokens, a.gpu_s * $price / 3600 AS cost,
           a.gpu_s * $price / 3600 / nullif(round(c.requests), 0) AS cost_per_request
    FROM counted c LEFT JOIN attr a ON a.model_version = c.model_version
    LEFT JOIN lg l ON l.model_version = c.model_version
    UNION ALL
    SELECT l.model_version, l.requests, l.errors / nullif(l.with_status, 0), l.p50, l.p95, l.mean,
           a.gpu_s, a.gpu_s / nullif(l.requests, 0), a.energy_j, a.energy_j / nullif(l.requests, 0),
           l.fallbacks / nullif(l.requests, 0), l.abstains / nullif(l.requests, 0), l.tokens,
           a.gpu_s * $price / 3600, a.gpu_s * $price / 3600 / nullif(l.requests, 0)
    FROM lg l LEFT JOIN attr a ON a.model_version = l.model_version
    WHERE l.model_version NOT IN (SELECT model_version FROM counted WHERE model_version IS NOT NULL)
      AND (l.model_version IS NOT NULL OR NOT EXISTS (SELECT 1 FROM counted))
)
SELECT versions.*,
       CASE WHEN has_gpu THEN observed_s END AS observed_gpu_seconds,
       CASE WHEN has_gpu THEN observed_s - busy_s END AS idle_gpu_seconds,
       CASE WHEN has_gpu THEN (observed_s - busy_s) * $price / 3600 END AS idle_cost,
       CASE WHEN has_gpu THEN unattributed_s END AS unattributed_gpu_seconds,
       CASE WHEN has_gpu THEN unattributed_s * $price / 3600 END AS unattributed_cost,
       CASE WHEN has_gpu THEN idle_energy_j END AS idle_energy_j
FROM versions, svc
ORDER BY model_version NULLS LAST
