-- 0001_raw: the shared contract. Every layer joins on (service, model_version, team, time).
-- A `_schema_<table>` table is the typed template of the raw table <table>: `onepane init` writes
-- it as an empty Parquet file into the lake and generates the view <table> over the lake's files.
-- Nothing is ever inserted into these templates. Append-only: never edit a merged migration.

CREATE TABLE _onepane_tables (
    table_name      VARCHAR PRIMARY KEY,
    partition_name  VARCHAR NOT NULL,   -- hive folder key, e.g. month=2024-09
    partition_expr  VARCHAR NOT NULL,   -- SQL over the table's columns giving the folder value
    grain           VARCHAR,            -- what one row is
    written_by      VARCHAR             -- the collector(s) that publish it
);

-- The run log: one row per load; a load is visible only once its `ok` record exists.
CREATE TABLE _schema__onepane_loads (
    load_id         VARCHAR,
    collector       VARCHAR,
    source          VARCHAR,
    target_table    VARCHAR,
    source_file     VARCHAR,
    content_hash    VARCHAR,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR,            -- ok | failed
    rows            BIGINT,
    error           VARCHAR,
    watermark       VARCHAR,            -- JSON: the collector's cursor after this load
    supersedes      STRUCT(load_id VARCHAR, scope VARCHAR)[],
    details         VARCHAR             -- JSON: warnings, counts
);

-- Cost line items in FOCUS terms (snake_case of the FOCUS 1.2 names); the `focus` view renames.
CREATE TABLE _schema_raw_focus (
    billing_account_id          VARCHAR,
    billing_account_name        VARCHAR,
    billing_currency            VARCHAR,
    billing_period_start        TIMESTAMPTZ,
    billing_period_end          TIMESTAMPTZ,
    charge_period_start         TIMESTAMPTZ,
    charge_period_end           TIMESTAMPTZ,
    billed_cost                 DECIMAL(38,18),
    effective_cost              DECIMAL(38,18),
    list_cost                   DECIMAL(38,18),
    contracted_cost             DECIMAL(38,18),
    charge_category             VARCHAR,
    charge_class                VARCHAR,
    charge_description          VARCHAR,
    charge_frequency            VARCHAR,
    consumed_quantity           DECIMAL(38,18),
    consumed_unit               VARCHAR,
    pricing_quantity            DECIMAL(38,18),
    pricing_unit                VARCHAR,
    pricing_category            VARCHAR,
    list_unit_price             DECIMAL(38,18),
    contracted_unit_price       DECIMAL(38,18),
    provider_name               VARCHAR,
    publisher_name              VARCHAR,
    invoice_issuer_name         VARCHAR,
    invoice_id                  VARCHAR,
    service_name                VARCHAR,
    service_category            VARCHAR,
    service_subcategory         VARCHAR,
    resource_id                 VARCHAR,
    resource_name               VARCHAR,
    resource_type               VARCHAR,
    region_id                   VARCHAR,
    region_name                 VARCHAR,
    availability_zone           VARCHAR,
    sub_account_id              VARCHAR,
    sub_account_name            VARCHAR,
    sku_id                      VARCHAR,
    sku_price_id                VARCHAR,
    commitment_discount_id      VARCHAR,
    commitment_discount_type    VARCHAR,
    commitment_discount_status  VARCHAR,
    tags                        VARCHAR,   -- FOCUS JSON object, keys normalized at load
    x_source                    VARCHAR,   -- format: focus | aws-cur | azure | gcp | oci | openai | anthropic | gpu
    x_source_file               VARCHAR,
    x_source_line               BIGINT,    -- line in the source file (header = 1)
    x_service                   VARCHAR,   -- allocation keys extracted from tags at load
    x_team                      VARCHAR,
    x_model_version             VARCHAR,
    x_extra                     VARCHAR,   -- JSON of source columns with no FOCUS home
    _scope                      VARCHAR,   -- supersession scope, e.g. aws-cur/<account>/2024-09
    _load_id                    VARCHAR,
    _loaded_at                  TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_focus', 'month',
    'strftime(coalesce(billing_period_start, charge_period_start), ''%Y-%m'')',
    'one cost line item', 'collectors.billing');

-- Technical telemetry, Prometheus-shaped. Counters stay cumulative as scraped.
CREATE TABLE _schema_raw_telemetry (
    sampled_at      TIMESTAMPTZ,
    metric          VARCHAR,            -- full sample name, e.g. inference_request_duration_seconds_bucket
    labels          VARCHAR,            -- JSON object of all labels, keys sorted
    labels_hash     VARCHAR,            -- md5 of `labels`: series identity with `metric`
    service         VARCHAR,
    model_version   VARCHAR,
    value           DOUBLE,             -- NULL for DCGM blank sentinels; NaN/Inf kept as such
    source          VARCHAR,            -- source name or file
    _scope          VARCHAR,
    _load_id        VARCHAR,
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_telemetry', 'day', 'strftime(sampled_at, ''%Y-%m-%d'')',
    'one sample of one series', 'collectors.prometheus, collectors.openmetrics');

-- Request logs: one row per request.
CREATE TABLE _schema_raw_requests (
    request_id          VARCHAR,
    arrived_at          TIMESTAMPTZ,
    finished_at         TIMESTAMPTZ,
    service             VARCHAR,
    model_version       VARCHAR,
    status              VARCHAR,
    latency_s           DOUBLE,
    prompt_tokens       BIGINT,
    completion_tokens   BIGINT,
    fallback            BOOLEAN,
    abstained           BOOLEAN,
    source              VARCHAR,
    _scope              VARCHAR,
    _load_id            VARCHAR,
    _loaded_at          TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_requests', 'day', 'strftime(arrived_at, ''%Y-%m-%d'')',
    'one request', 'collectors.requests');

-- Model health results per window.
CREATE TABLE _schema_raw_model_health (
    window_start    TIMESTAMPTZ,
    window_end      TIMESTAMPTZ,
    service         VARCHAR,
    model_version   VARCHAR,
    metric          VARCHAR,            -- drift_score, drift_share, prediction_drift, accuracy, f1, ece, null_rate, ...
    feature         VARCHAR,            -- column name; NULL for whole-model metrics
    value           DOUBLE,
    threshold       DOUBLE,
    status          VARCHAR,            -- ok | warn | drifted | insufficient_data | error
    method          VARCHAR,            -- e.g. wasserstein, jensenshannon, chisquare
    sample_size     BIGINT,
    report_path     VARCHAR,            -- HTML report beside the store, relative to the lake
    details         VARCHAR,            -- JSON
    source          VARCHAR,
    _scope          VARCHAR,
    _load_id        VARCHAR,
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_model_health', 'month', 'strftime(window_start, ''%Y-%m'')',
    'one metric of one feature (or model) in one window', 'collectors.evidently');

-- Business KPIs: counts or values per time bucket, service and version/variant.
CREATE TABLE _schema_raw_kpis (
    observed_at     TIMESTAMPTZ,        -- start of the bucket the value covers
    period_end      TIMESTAMPTZ,        -- exclusive end of the bucket (NULL = instant)
    service         VARCHAR,
    model_version   VARCHAR,
    variant         VARCHAR,            -- experiment arm, when the source speaks in variants
    kpi             VARCHAR,
    value           DOUBLE,
    currency        VARCHAR,            -- for money KPIs such as revenue
    source          VARCHAR,
    _scope          VARCHAR,
    _load_id        VARCHAR,
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_kpis', 'month', 'strftime(observed_at, ''%Y-%m'')',
    'one KPI value per bucket, service and version', 'collectors.kpi');

-- Change events shared by every chart and analysis.
CREATE TABLE _schema_raw_events (
    occurred_at     TIMESTAMPTZ,
    kind            VARCHAR,            -- deploy | rollback | config | incident | price_change | experiment_start | experiment_stop | data_backfill
    service         VARCHAR,
    model_version   VARCHAR,
    detail          VARCHAR,
    source          VARCHAR,
    attributes      VARCHAR,            -- JSON of any extra fields
    event_id        VARCHAR,            -- stable identity for de-duplication
    _scope          VARCHAR,
    _load_id        VARCHAR,
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_events', 'month', 'strftime(occurred_at, ''%Y-%m'')',
    'one change event', 'collectors.events, onepane event add');

-- The configuration's services as last published (service -> team), for joins in SQL.
CREATE TABLE _schema_raw_services (
    service         VARCHAR,
    team            VARCHAR,
    owner           VARCHAR,
    kind            VARCHAR,
    baseline_version VARCHAR,
    config          VARCHAR,            -- JSON of the [[services]] entry
    _scope          VARCHAR,
    _load_id        VARCHAR,
    _loaded_at      TIMESTAMPTZ
);
INSERT INTO _onepane_tables VALUES ('raw_services', 'part', '''all''', 'one configured service',
    'onepane (from onepane.toml)');
INSERT INTO _onepane_tables VALUES ('_onepane_loads', 'month', 'strftime(finished_at, ''%Y-%m'')',
    'one load', 'metrics.lake');
