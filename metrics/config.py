"""The one settings file, `onepane.toml`, validated by pydantic models with extra="forbid".

Lookup order: `--config PATH`, else `$ONEPANE_CONFIG`, else `./onepane.toml`; with no file at all
every command still works on defaults. Secrets never live here: a source names an environment
variable (`token_env = "PROM_TOKEN"`). Each `[[source]]` is validated again by the settings model of
the collector its `type` names (see collectors.registry).
"""
from __future__ import annotations

import os
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from metrics.errors import ConfigError, OnepaneError
from metrics.times import parse_duration

DEFAULT_DB = "onepane.duckdb"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_duration(v: str | None) -> str | None:
    """A pydantic validator body: a bad duration becomes a ValueError, so the error names the key."""
    if v is not None:
        try:
            parse_duration(v)
        except OnepaneError as e:
            raise ValueError(str(e)) from None
    return v


def first_error(e: ValidationError) -> dict:
    """The error to report: an unknown key first (a typo also makes the real key look missing)."""
    errs = e.errors()
    return next((x for x in errs if x["type"] == "extra_forbidden"), errs[0])


class Funnel(_Model):
    """Which KPI is the improved action and which is its denominator (e.g. purchases / impressions)."""
    action: str
    denominator: str
    attribution_window: str = "1d"

    @field_validator("attribution_window")
    @classmethod
    def _duration(cls, v: str) -> str:
        return _check_duration(v)


class SLO(_Model):
    """Service level objectives; any may be left out. Ratios are fractions (0.01 = 1%).

    Request-based by default (metrics.analysis.slo): `error_rate` is the allowed share of failed
    requests (its objective is 1 − error_rate), `latency_p95_s` promises 95 % of requests faster.
    `objective` is the share of good events for time slices (`mode = "time_slice"`) and for the
    event SLOs (model quality windows, freshness hours, cost days)."""
    latency_p95_s: float | None = None
    error_rate: float | None = None
    mode: Literal["requests", "time_slice"] = "requests"
    drift_share: float | None = None
    accuracy_min: float | None = None
    freshness: str | None = None            # e.g. "2h": newest data older than this breaches
    cost_per_prediction: Decimal | None = None
    objective: float = 0.99                 # share of good events/time in the SLO period
    period: str = "30d"

    @field_validator("freshness", "period")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        return _check_duration(v)


class Budget(_Model):
    monthly: Decimal
    currency: str = "USD"


class Links(_Model):
    """Where a service's documentation lives (URLs or repository paths)."""
    model_card: str | None = None
    data_contracts: list[str] = Field(default_factory=list)
    runbook: str | None = None


class Governance(_Model):
    """A service's AI inventory entry (`[services.governance]`); controls are computed from data
    (metrics.governance), this only declares what the service is and how risky it is."""
    tier: Literal["low", "medium", "high"]
    intended_use: str | None = None
    model_class: str | None = None          # e.g. "gradient-boosted classifier", "hosted LLM + RAG"
    links: Links = Field(default_factory=Links)
    fallback: str | None = None             # what answers when the model cannot
    rollback: str | None = None             # the rollback procedure
    last_review: date | None = None         # as declared; the review control reads recorded decisions
    sensitive_attributes: list[str] = Field(default_factory=list)   # fairness is required for these


class Service(_Model):
    name: str
    team: str = "unassigned"
    owner: str | None = None
    kind: Literal["ranking", "classifier", "regression", "llm", "other"] = "other"
    model_versions: list[str] = Field(default_factory=list)
    baseline_version: str | None = None     # the control for lift and marginal cost
    kpis: list[str] = Field(default_factory=list)
    funnel: Funnel | None = None
    slo: SLO | None = None
    budget: Budget | None = None
    gpus: list[str] = Field(default_factory=list)   # GPU UUIDs, hosts or pod names serving it
    tags: dict[str, str] = Field(default_factory=dict)  # billing tag values that mean this service
    governance: Governance | None = None    # AI inventory entry: risk tier, links, procedures


class Team(_Model):
    name: str
    budget: Budget | None = None
    # where the weekly digest of this team's services goes (else only the company digest)
    webhook_url_env: str | None = None      # Slack-compatible incoming webhook, named by env var
    webhook_url: str | None = None
    mail_to: list[str] = Field(default_factory=list)


class Pricing(_Model):
    gpu_hour: Decimal | None = None         # price of one GPU-hour for self-hosted inference
    currency: str = "USD"
    llm_prices: str | None = None           # a price table in genai-prices format (JSON/YAML)
    finalization_lag: str = "5d"            # a period without an invoice id is estimated until end+lag


class Allocation(_Model):
    """How shared costs are spread: `tag_keys` map tags to the allocation columns."""
    service_keys: list[str] = Field(default_factory=lambda: ["service", "app", "application"])
    team_keys: list[str] = Field(default_factory=lambda: ["team", "owner", "cost-center"])
    model_version_keys: list[str] = Field(default_factory=lambda: ["model_version", "model-version", "model"])
    shared_basis: Literal["requests", "gpu_seconds", "cost", "even"] = "cost"
    # What counts as shared cost (spread by `shared_basis`): lines tagged with one of these
    # services, and untagged lines in one of these FOCUS service categories.
    shared_services: list[str] = Field(default_factory=lambda: ["shared"])
    shared_categories: list[str] = Field(default_factory=lambda: ["Networking", "Storage"])


class Alerts(_Model):
    slack_webhook_env: str | None = None
    webhook_url_env: str | None = None
    webhook_url: str | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user_env: str | None = None
    smtp_password_env: str | None = None
    mail_from: str = "onepane@localhost"
    mail_to: list[str] = Field(default_factory=list)
    day_over_day: float | None = 0.5        # alert when daily cost moves more than 50%
    week_over_week: float | None = 0.3


class Inputs(_Model):
    """Bounds on the dates of every file input: outside them the file is refused (see collectors.dates)."""
    earliest_date: str = "2000-01-01"       # an earlier date refuses the file (misread format)
    max_ahead: str = "365d"                 # a date later than the load's now + this refuses it

    @field_validator("earliest_date")
    @classmethod
    def _earliest(cls, v: str) -> str:
        from datetime import date
        try:
            d = date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"not a date: {v!r} (use YYYY-MM-DD)") from None
        if d.year < 1000:
            raise ValueError("must be in the year 1000 or later")
        return v

    @field_validator("max_ahead")
    @classmethod
    def _ahead(cls, v: str) -> str:
        return _check_duration(v)


class Auth(_Model):
    provider: str | None = None             # name of the [auth.<provider>] block in secrets.toml


class GovernanceSettings(_Model):
    """`[governance]`: where the control rules live and the default evidence window."""
    controls: str | None = None             # a controls TOML replacing the built-in one
    window: str = "30d"                     # "populated in the last N days" unless a control says

    @field_validator("window")
    @classmethod
    def _duration(cls, v: str) -> str:
        return _check_duration(v)


class Store(_Model):
    path: str = DEFAULT_DB


class ClickHouse(_Model):
    """`[storage.clickhouse]`: a server to run the metric SQL on (none: chdb in-process)."""
    url: str | None = None                  # http(s)://host:8123 ; None = chdb over the store's lake
    database: str = "onepane"
    user: str = "default"
    password_env: str | None = None         # name of the environment variable holding the password
    cluster: str | None = None              # ON CLUSTER name for the DDL (None: a single server)
    min_version: str = "24.8"               # refuse older servers (window functions, file(), Variant)
    # the lake's root on object storage (a copy of the local lake, same layout): `onepane engines
    # load` then reads each month with s3() instead of sending the local files. Credentials come
    # from the environment variables named here, never from this file (none: a public bucket).
    lake_url: str | None = None             # https://bucket.s3.eu-west-1.amazonaws.com/onepane/lake
    access_key_id_env: str | None = None
    secret_access_key_env: str | None = Field(default=None, validate_default=True)

    @field_validator("lake_url")
    @classmethod
    def _lake_url(cls, v: str | None) -> str | None:
        if v is not None:
            if not v.startswith(("http://", "https://")) or "'" in v or "\\" in v or "{" in v or "*" in v:
                raise ValueError("an http(s) URL of the lake's root on object storage, without quotes or "
                                 "globs (https://bucket.s3.REGION.amazonaws.com/PREFIX)")
            return v.rstrip("/")
        return v

    @field_validator("secret_access_key_env")
    @classmethod
    def _keys_in_pairs(cls, v: str | None, info) -> str | None:
        key_id = info.data.get("access_key_id_env")
        if key_id is not None and v is None:
            raise ValueError("missing: access_key_id_env is set, and the secret's variable must be named too")
        if key_id is None and v is not None:
            raise ValueError("access_key_id_env is missing: the key id and the secret come as a pair")
        return v


class Storage(_Model):
    """`[storage]`: the engine the metric and page queries run on; the time zone is UTC on all."""
    engine: Literal["duckdb", "clickhouse"] = "duckdb"
    timezone: Literal["UTC"] = "UTC"
    clickhouse: ClickHouse = Field(default_factory=ClickHouse)


class Source(BaseModel):
    """A `[[source]]` entry; its own collector validates the remaining keys."""
    model_config = ConfigDict(extra="allow")
    name: str
    type: str
    enabled: bool = True


class Settings(_Model):
    store: Store = Field(default_factory=Store)
    storage: Storage = Field(default_factory=Storage)
    services: list[Service] = Field(default_factory=list)
    teams: list[Team] = Field(default_factory=list)
    source: list[Source] = Field(default_factory=list)
    pricing: Pricing = Field(default_factory=Pricing)
    allocation: Allocation = Field(default_factory=Allocation)
    alerts: Alerts = Field(default_factory=Alerts)
    inputs: Inputs = Field(default_factory=Inputs)
    auth: Auth | None = None
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    retention: dict[str, str] = Field(default_factory=dict)  # table (raw_ optional) -> "400d"; `onepane compact`
    fx: dict[str, Decimal] = Field(default_factory=dict)   # "EUR" = 1.08 -> USD per unit
    reporting_currency: str | None = None
    path: str | None = Field(default=None, exclude=True)

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    def team_of(self, service: str) -> str | None:
        s = self.service(service)
        return s.team if s else None


def config_path(explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("ONEPANE_CONFIG")
    if env:
        return Path(env)
    p = Path("onepane.toml")
    return p if p.exists() else None


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    p = config_path(path)
    if p is None:
        return Settings()
    if not p.exists():
        raise ConfigError("file not found", path=str(p))
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", path=str(p)) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8",
                          path=str(p)) from None
    return parse_settings(data, str(p))


def parse_settings(data: dict, path: str = "onepane.toml") -> Settings:
    try:
        s = Settings.model_validate(data)
    except ValidationError as e:
        err = first_error(e)
        more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise ConfigError(f"{err['msg']}{more}", path=path, key=_key(err["loc"])) from None
    s.path = path
    names = [x.name for x in s.source]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise ConfigError(f"duplicate source name {n!r}", path=path, key=f"source[{i}].name")
    base = Path(path).parent if path else Path(".")
    if not Path(s.store.path).is_absolute() and path:
        s.store.path = str(base / s.store.path)
    if s.governance.controls and not Path(s.governance.controls).is_absolute() and path:
        s.governance.controls = str(base / s.governance.controls)
    return s
