-- name: fairness_measured
-- grain: service
-- inputs: gov_scope, stg_model_health
-- For each sensitive attribute configured for the service (inventory `sensitive_attributes` and the
-- `sensitive` columns of its drift sources), a fairness value (selection_rate_ratio or tpr_gap) in
-- a window that ended in (window_start, at]. Not applicable when no attribute is configured.
WITH attrs AS (
    SELECT service, unnest(sensitive_attributes) AS attribute FROM gov_scope
),
m AS (
    SELECT a.service, a.attribute, max(m.window_end) AS last_window_end,
           min(m.value) FILTER (WHERE m.metric = 'selection_rate_ratio') AS worst_ratio
    FROM attrs a JOIN gov_scope g USING (service)
    JOIN stg_model_health m ON m.service = a.service AND m.feature = a.attribute
    WHERE m.metric IN ('selection_rate_ratio', 'tpr_gap') AND m.value IS NOT NULL AND NOT isnan(m.value)
      AND m.window_end > g.window_start AND m.window_end <= g.at
    GROUP BY ALL
),
agg AS (
    SELECT a.service, count(*) AS n, count(m.attribute) AS measured_n,
           string_agg(a.attribute, ', ' ORDER BY a.attribute) FILTER (WHERE m.attribute IS NULL) AS missing,
           string_agg(m.attribute, ', ' ORDER BY m.attribute) AS measured,
           max(m.last_window_end) AS last_window_end, min(m.worst_ratio) AS worst_selection_rate_ratio
    FROM attrs a LEFT JOIN m USING (service, attribute) GROUP BY a.service
)
SELECT g.service,
       CASE WHEN len(g.sensitive_attributes) = 0 THEN NULL ELSE a.missing IS NULL END AS ok,
       CASE WHEN len(g.sensitive_attributes) = 0 THEN 'no sensitive attributes configured'
            WHEN a.missing IS NOT NULL THEN 'fairness not measured since ' || strftime(g.window_start, '%Y-%m-%d') || ' for: ' || a.missing
            ELSE 'measured for ' || a.measured || ', newest window ending ' || strftime(a.last_window_end, '%Y-%m-%d %H:%M')
                 || coalesce(', worst selection-rate ratio ' || round(a.worst_selection_rate_ratio, 3), '') END AS detail,
       array_to_string(g.sensitive_attributes, ', ') AS sensitive_attributes, a.measured, a.last_window_end,
       a.worst_selection_rate_ratio
FROM gov_scope g LEFT JOIN agg a USING (service)
