-- name: labels_arriving
-- grain: service
-- inputs: gov_scope, stg_model_health
-- Quality metrics that need ground truth (accuracy, precision, recall, f1, roc_auc, mae, rmse) with
-- a value in a window that ended in (window_start, at]: labels are arriving and quality is measured.
WITH q AS (
    SELECT m.service, max(m.window_end) AS last_window_end,
           string_agg(DISTINCT m.metric, ', ' ORDER BY m.metric) AS quality_metrics,
           max(m.sample_size) FILTER (WHERE m.metric IN ('accuracy', 'mae')) AS labelled_rows
    FROM stg_model_health m JOIN gov_scope g USING (service)
    WHERE m.metric IN ('accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'mae', 'rmse')
      AND m.value IS NOT NULL AND NOT isnan(m.value)
      AND m.window_end > g.window_start AND m.window_end <= g.at
    GROUP BY m.service
)
SELECT g.service, q.last_window_end IS NOT NULL AS ok,
       CASE WHEN q.last_window_end IS NULL THEN 'no quality measured against labels since ' || strftime(g.window_start, '%Y-%m-%d')
            ELSE q.quality_metrics || ' measured, newest window ending ' || strftime(q.last_window_end, '%Y-%m-%d %H:%M') END AS detail,
       q.last_window_end, q.quality_metrics, q.labelled_rows
FROM gov_scope g LEFT JOIN q USING (service)
