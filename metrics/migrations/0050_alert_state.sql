-- 0050_alert_state: what `onepane check` last told people, so a second check with the same firing
-- state sends nothing and a cleared alert sends one "resolved" message. One row per state change.
CREATE TABLE _schema_raw_alert_state (
    alert_key       VARCHAR,            -- rule + subject: the de-duplication key
    rule            VARCHAR,            -- slo_burn | budget_forecast | cost_day_over_day | ...
    subject         VARCHAR,            -- service, team or service/sku
    status          VARCHAR,            -- firing | resolved
    severity        VARCHAR,            -- page | ticket | warning
    summary         VARCHAR,
    changed_at      TIMESTAMPTZ,        -- evaluation time of the check that saw the change
    notified        VARCHAR,            -- JSON list of channels that accepted the message
    details         VARCHAR,            -- JSON of the alert's numbers
    _scope          VARCHAR,
    _load_id        VARCHAR,
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_alert_state', 'month', 'strftime(changed_at, ''%Y-%m'')',
    'one change of one alert''s state', 'metrics.alerts (onepane check)');
