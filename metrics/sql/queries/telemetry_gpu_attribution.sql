-- name: telemetry_gpu_attribution
-- grain: model_version of one service in [$start, $end); model_version NULL = the service's
--        GPU time in buckets where no version did any work
-- inputs: _window (metrics/sql/queries/telemetry_window.sql: stg_telemetry_delta of one service and window)
-- GPU attribution. Per GPU sample: busy = utilisation/100 * dt_s, observed = dt_s (paid time while
-- the GPU was watched). Per $bucket_s bucket, busy seconds and energy (DCGM mJ counter) are split
-- across model versions by their share of work in that bucket: request-seconds (histogram _sum
-- increase) when the service exports them, else requests. Idle = observed - busy, reported apart.
-- Energy: DCGM's energy counter (mJ), else power (W) x dt for GPUs without one.
WITH d AS (
    SELECT *, floor(epoch(sampled_at) / $bucket_s) AS bucket
    FROM _window
),
gpu AS (
    SELECT bucket,
           sum(value / 100.0 * dt_s) AS busy_s,
           sum(dt_s) AS observed_s
    FROM d
    WHERE metric = 'DCGM_FI_DEV_GPU_UTIL' AND dt_s IS NOT NULL AND value IS NOT NULL AND NOT isnan(value)
    GROUP BY bucket
),
power AS (      -- energy from power x dt where a GPU exports no energy counter
    SELECT bucket, sum(value * dt_s) AS energy_j
    FROM d
    WHERE metric = 'DCGM_FI_DEV_POWER_USAGE' AND dt_s IS NOT NULL AND value IS NOT NULL AND NOT isnan(value)
      AND labels_hash NOT IN (SELECT labels_hash FROM d WHERE metric IN
          ('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total'))
    GROUP BY bucket
),
energy AS (
    SELECT bucket, sum(increase) / 1000.0 AS energy_j
    FROM d WHERE metric IN ('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total')
      AND increase IS NOT NULL
    GROUP BY bucket
),
has_seconds AS (
    SELECT count(*) > 0 AS yes FROM d
    WHERE metric = 'inference_request_duration_seconds_sum' AND model_version IS NOT NULL
),
work AS (
    SELECT bucket, model_version, sum(increase) AS work
    FROM d
    WHERE model_version IS NOT NULL AND increase > 0
      AND metric = CASE WHEN (SELECT yes FROM has_seconds) THEN 'inference_request_duration_seconds_sum'
                        ELSE 'inference_requests_total' END
    GROUP BY bucket, model_version
),
share AS (
    SELECT bucket, model_version, work / sum(work) OVER (PARTITION BY bucket) AS share FROM work
),
buckets AS (
    SELECT coalesce(g.bucket, e.bucket, p.bucket) AS bucket, coalesce(g.busy_s, 0) AS busy_s,
           coalesce(g.observed_s, 0) AS observed_s,
           coalesce(e.energy_j, 0) + coalesce(p.energy_j, 0) AS energy_j
    FROM gpu g FULL JOIN energy e ON g.bucket = e.bucket
    FULL JOIN power p ON p.bucket = coalesce(g.bucket, e.bucket)
)
SELECT s.model_version,
       sum(b.busy_s * coalesce(s.share, 1)) AS gpu_seconds,
       sum(b.energy_j * coalesce(s.share, 1)) AS energy_j,
       sum(b.observed_s * coalesce(s.share, 1)) AS observed_gpu_seconds,
       sum((b.observed_s - b.busy_s) * coalesce(s.share, 1)) AS idle_gpu_seconds
FROM buckets b
LEFT JOIN share s ON s.bucket = b.bucket
GROUP BY s.model_version
ORDER BY s.model_version NULLS LAST;
