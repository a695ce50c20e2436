-- name: latest_model_health
-- grain: metric (whole-model values of the newest window ending at or before $at; mean over versions)
-- inputs: stg_model_health
SELECT metric, window_start, value FROM (
    SELECT metric, window_start, avg(value) AS value
    FROM stg_model_health
    WHERE service = $service AND feature IS NULL AND window_end <= $at::TIMESTAMPTZ AND value IS NOT NULL
    GROUP BY metric, window_start
)
QUALIFY window_start = max(window_start) OVER (PARTITION BY metric)
