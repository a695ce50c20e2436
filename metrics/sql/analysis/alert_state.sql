-- name: alert_state
-- grain: alert_key (its newest state change)
-- inputs: raw_alert_state
SELECT alert_key, rule, subject, status, severity, summary, changed_at, notified
FROM raw_alert_state
QUALIFY row_number() OVER (PARTITION BY alert_key ORDER BY changed_at DESC, _loaded_at DESC, _load_id DESC) = 1
