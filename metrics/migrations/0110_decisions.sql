-- 0110_decisions: what the weekly review decided (experiment, accept-risk, retire, rollback, approve,
-- review), stored like events: Parquet published by one all-or-nothing Load, as-of aware.
-- Append-only: never edit a merged migration.

CREATE TABLE _schema_raw_decisions (
    decided_at      TIMESTAMPTZ,
    service         VARCHAR,
    kind            VARCHAR,            -- experiment | accept-risk | retire | rollback | approve | review
    text            VARCHAR,
    decided_by      VARCHAR,
    expires_at      TIMESTAMPTZ,        -- accept-risk only: when the accepted risk must be reviewed again
    decision_id     VARCHAR,            -- stable identity: the same decision recorded twice is one
    attributes      VARCHAR,            -- JSON of any extra fields
    _scope          VARCHAR,
    _load_id        VARCHAR,
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_decisions', 'month', 'strftime(decided_at, ''%Y-%m'')',
    'one recorded decision', 'onepane decision add, the Weekly review page');
