-- 0300_dedup_telemetry: samples hidden by a newer load's sample of the same series and instant.
-- Written when a load commits (metrics/lake_dedup.py), so stg_telemetry needs no window over the
-- whole store: a raw row is hidden when a row here names its load as `_loser` and the winning load
-- (`_load_id`, with the winning row's `_scope`) is visible and not superseded at the as-of time.
CREATE TABLE _schema__dedup_raw_telemetry (
    metric          VARCHAR,
    labels_hash     VARCHAR,
    sampled_at      TIMESTAMPTZ,
    _loser          VARCHAR,            -- the load whose sample loses
    _scope          VARCHAR,            -- the winning row's scope
    _load_id        VARCHAR,            -- the winning load
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('_dedup_raw_telemetry', 'day', 'strftime(sampled_at, ''%Y-%m-%d'')',
    'one sample of one load hidden by a newer load''s sample', 'metrics.lake_dedup');

-- The same for request logs: a request id seen again in a newer load (per service).
CREATE TABLE _schema__dedup_raw_requests (
    service         VARCHAR,
    request_id      VARCHAR,
    _loser          VARCHAR,
    _scope          VARCHAR,
    _load_id        VARCHAR,
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('_dedup_raw_requests', 'part', '''all''',
    'one request of one load hidden by a newer load''s row of the same request id', 'metrics.lake_dedup');
