-- name: stg_gpu_minute
-- grain: minute, service, model_version (NULL = GPU time in a minute in which no version worked)
-- inputs: stg_telemetry_delta
-- GPU time per minute split across model versions, by the rule of the telemetry summary
-- (metrics/sql/queries/telemetry_gpu_attribution.sql, with 60 s buckets): busy = utilisation x dt,
-- observed = dt; busy, idle and energy split by each version's share of the minute's
-- request-seconds (else requests). Energy: DCGM's mJ counter, else power x dt. Multiply seconds
-- by the GPU-hour price / 3600 for cost.
CREATE OR REPLACE VIEW stg_gpu_minute AS
WITH d AS (
    SELECT *, time_bucket(INTERVAL 1 minute, sampled_at) AS minute FROM stg_telemetry_delta
    WHERE service IS NOT NULL
),
gpu AS (
    SELECT minute, service, sum(value / 100.0 * dt_s) AS busy_s, sum(dt_s) AS observed_s
    FROM d
    WHERE metric = 'DCGM_FI_DEV_GPU_UTIL' AND dt_s IS NOT NULL AND value IS NOT NULL AND NOT isnan(value)
    GROUP BY ALL
),
power AS (      -- energy from power x dt where a GPU exports no energy counter
    SELECT minute, service, sum(value * dt_s) AS energy_j
    FROM d
    WHERE metric = 'DCGM_FI_DEV_POWER_USAGE' AND dt_s IS NOT NULL AND value IS NOT NULL AND NOT isnan(value)
      AND labels_hash NOT IN (SELECT labels_hash FROM d WHERE metric IN
          ('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total'))
    GROUP BY ALL
),
energy AS (
    SELECT minute, service, sum(increase) / 1000.0 AS energy_j
    FROM d WHERE metric IN ('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total')
      AND increase IS NOT NULL
    GROUP BY ALL
),
seconds_services AS (
    SELECT DISTINCT service FROM d
    WHERE metric = 'inference_request_duration_seconds_sum' AND model_version IS NOT NULL
),
work AS (
    SELECT minute, service, model_version, sum(increase) AS work
    FROM d
    WHERE model_version IS NOT NULL AND increase > 0
      AND metric = CASE WHEN service IN (SELECT service FROM seconds_services)
                        THEN 'inference_request_duration_seconds_sum' ELSE 'inference_requests_total' END
    GROUP BY ALL
),
share AS (
    SELECT minute, service, model_version, work / sum(work) OVER (PARTITION BY minute, service) AS share
    FROM work
),
buckets AS (
    SELECT coalesce(g.minute, e.minute, p.minute) AS minute, coalesce(g.service, e.service, p.service) AS service,
           coalesce(g.busy_s, 0) AS busy_s, coalesce(g.observed_s, 0) AS observed_s,
           coalesce(e.energy_j, 0) + coalesce(p.energy_j, 0) AS energy_j
    FROM gpu g FULL JOIN energy e ON g.minute = e.minute AND g.service = e.service
    FULL JOIN power p ON p.minute = coalesce(g.minute, e.minute) AND p.service = coalesce(g.service, e.service)
)
SELECT b.minute, b.service, s.model_version, sv.team,
       b.busy_s * coalesce(s.share, 1) AS gpu_seconds,
       (b.observed_s - b.busy_s) * coalesce(s.share, 1) AS idle_gpu_seconds,
       b.observed_s * coalesce(s.share, 1) AS observed_gpu_seconds,
       b.energy_j * coalesce(s.share, 1) AS energy_j
FROM buckets b
LEFT JOIN share s ON s.minute = b.minute AND s.service = b.service
LEFT JOIN stg_services sv ON sv.service = b.service;
