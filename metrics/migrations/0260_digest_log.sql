-- 0260_digest_log: what `onepane report weekly --send` delivered, one row per delivery attempt
-- (week, route, channel), so a digest is never sent twice to a channel and a missed week is caught
-- up once by the next run. Append-only: never edit a merged migration.
CREATE TABLE _schema_raw_digest_log (
    week            VARCHAR,            -- ISO week of the pack, e.g. 2026-W48
    route           VARCHAR,            -- "team <name>" | "company"
    channel         VARCHAR,            -- "webhook 1", "webhook 2", "mail" (never the URL: it is a secret)
    status          VARCHAR,            -- sent | failed
    attempted_at    TIMESTAMPTZ,        -- the run's clock (metrics.times.utcnow, pinnable)
    detail          VARCHAR,            -- the error of a failed attempt
    _scope          VARCHAR,
    _load_id        VARCHAR,
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_digest_log', 'month', 'strftime(attempted_at, ''%Y-%m'')',
    'one delivery attempt of one weekly digest to one channel', 'onepane report weekly --send');
