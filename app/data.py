"""The app's data access: cached wrappers over metrics.queries, taking primitives only.

Pages call these functions and nothing else to read data. The store and config are process-wide
(`st.cache_resource`); results are `st.cache_data` keyed by the store path, a *data version* and
the call's primitive arguments. The data version is the modification time of the run log's
folders: every committed load publishes a run-log file there, so a collector's write invalidates
the cache at once, and the TTL only bounds memory. Each uncached query runs on its own cursor of
the process's one read-only DuckDB instance of the store (`Store(path, shared=True)`: opening an
instance per query cost a third of a Service page query). That reader steps aside whenever
`onepane init` announces a migration, and re-opens after it (metrics/store.py, "one shared reader
per process"), so a browser tab never blocks `onepane init`. The app never writes.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone

import polars as pl
import streamlit as st

from metrics import queries
from metrics.config import Settings, load_settings
from metrics.store import Store
from metrics.times import parse_time, utcnow

log = logging.getLogger(__name__)

TTL = 300


@st.cache_resource(show_spinner=False)
def _settings(config_path: str | None) -> Settings:
    return load_settings(config_path)


def settings() -> Settings:
    return _settings(os.environ.get("ONEPANE_CONFIG"))


def db_path() -> str:
    """ONEPANE_DB (set by `onepane serve`), else the config's [store] path."""
    return os.environ.get("ONEPANE_DB") or settings().store.path


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    s = Store(path, shared=True)        # queries run on cursors of one read-only instance per process
    if settings().storage.engine != "duckdb":          # [storage] engine = "clickhouse"
        from metrics.engines.layer import attach
        attach(s, settings())
    return s


def store() -> Store:
    return _store(db_path())


def store_exists() -> bool:
    return store().db_path.exists()


def version() -> float:
    """Changes whenever a load commits (its run-log record lands in _onepane_loads/month=*/)."""
    folder = store().lake / "_onepane_loads"
    try:
        return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.iterdir() if p.is_dir())])
    except OSError:
        return 0.0


def _run(fn, *args, **kwargs) -> pl.DataFrame:
    if not store_exists():
        return _EMPTY
    return getattr(queries, fn)(store(), *args, **kwargs)


_EMPTY = pl.DataFrame()


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=500)
def _cached(fn: str, db: str, data_version: float, args: tuple, as_of: str | None) -> pl.DataFrame:
    log.debug("query fn=%s db=%s args=%s as_of=%s", fn, db, args, as_of)
    return _run(fn, *args, as_of=as_of)


def _q(fn: str, *args, as_of: str | None = None) -> pl.DataFrame:
    return _cached(fn, db_path(), version(), args, as_of)


# ---- what pages call ----------------------------------------------------------------------
def data_range(as_of: str | None = None) -> pl.DataFrame:
    return _q("data_range", as_of=as_of)


def layer_rows(as_of: str | None = None) -> dict[str, int]:
    df = data_range(as_of)
    return dict(zip(df["layer"], df["rows"])) if df.height else {}


def data_end(as_of: str | None = None) -> datetime | None:
    """The newest data time across layers (the demo's "now"), capped at as_of."""
    df = data_range(as_of)
    ends = [t for t in (df["last_at"].to_list() if df.height else []) if t is not None]
    return max(ends) if ends else None


def services_known(as_of: str | None = None) -> pl.DataFrame:
    return _q("services_known", as_of=as_of)


def cost_daily(start, end, services: tuple[str, ...] = (), as_of: str | None = None) -> pl.DataFrame:
    return _q("cost_daily", start, end, services, as_of=as_of)


def requests_daily(start, end, services: tuple[str, ...] = (), as_of: str | None = None) -> pl.DataFrame:
    return _q("requests_daily", start, end, services, as_of=as_of)


def unit_cost_daily(start, end, services: tuple[str, ...] = (), as_of: str | None = None) -> pl.DataFrame:
    return _q("unit_cost_daily", start, end, services, as_of=as_of)


def service_month(month_of, services: tuple[str, ...] = (), as_of: str | None = None,
                  through=None) -> pl.DataFrame:
    """The month of `month_of`; with `through` (a day) the month so far ends on that day."""
    return _q("service_month", month_of, services, through, as_of=as_of)


def events(start, end, services: tuple[str, ...] = (), as_of: str | None = None) -> pl.DataFrame:
    return _q("events", start, end, services, as_of=as_of)


def load_runs(as_of: str | None = None) -> pl.DataFrame:
    return _q("load_runs", as_of=as_of)


def load_failures(as_of: str | None = None) -> pl.DataFrame:
    return _q("load_failures", as_of=as_of)


def load_removals(as_of: str | None = None) -> pl.DataFrame:
    return _q("load_removals", as_of=as_of)


def retention_expiries(as_of: str | None = None) -> pl.DataFrame:
    return _q("retention_expiries", as_of=as_of)


def freshness(late_after: str = "1d", as_of: str | None = None) -> pl.DataFrame:
    return _q("freshness", late_after, as_of=as_of)


def freshness_history(as_of: str | None = None) -> pl.DataFrame:
    return _q("freshness_history", as_of=as_of)


def now() -> datetime:
    """The app's clock: $ONEPANE_NOW when set (tests and screenshots pin it), else the real time."""
    return utcnow()


def palette_names() -> tuple[str, ...]:
    """Every service of the store (as loaded now), then every configured model version: the order
    that gives each its chart colour."""
    known = services_known(None)
    services = sorted(set(known["service"].to_list())) if known.height else []
    versions = [v for s in settings().services for v in s.model_versions]
    return tuple(services + [v for v in dict.fromkeys(versions) if v not in services])


def bucket_for(start, end) -> str:
    """The Service page's bucket ('hour' or 'day') for a window."""
    return queries.bucket_for(start, end)


# ---- one service --------------------------------------------------------------------------
def service_technical(service: str, start, end, split: bool = True, as_of: str | None = None) -> pl.DataFrame:
    cfg = settings().service(service)
    gpus = tuple(cfg.gpus) if cfg else ()
    return _q("service_technical", service, start, end, None, gpus, split, as_of=as_of)


def service_technical_week_before(service: str, start, end, split: bool = True,
                                  as_of: str | None = None) -> pl.DataFrame:
    """The same panel one week earlier, shifted onto this window's axis (arm '<version> (week before)')."""
    week = timedelta(days=7)
    cfg = settings().service(service)
    gpus = tuple(cfg.gpus) if cfg else ()
    df = _q("service_technical", service, start - week, end - week,
            queries.bucket_for(start, end), gpus, split, as_of=as_of)
    if not df.height:
        return df
    return df.with_columns(pl.col("bucket_at") + week,
                           (pl.col("model_version").fill_null("GPU") + " (week before)").alias("model_version"))


def service_model(service: str, start, end, as_of: str | None = None) -> pl.DataFrame:
    return _q("service_model", service, start, end, as_of=as_of)


def service_kpis(service: str, start, end, as_of: str | None = None) -> pl.DataFrame:
    cfg = settings().service(service)
    funnel = cfg.funnel if cfg else None
    return _q("service_kpis", service, start, end, None, funnel.action if funnel else None,
              funnel.denominator if funnel else None, as_of=as_of)


def service_cost(service: str, start, end, as_of: str | None = None) -> pl.DataFrame:
    return _q("service_cost", service, start, end, as_of=as_of)


# ---- the analysis layers (other modules' functions, imported lazily so the app starts fast) ----
class Unavailable(str):
    """What a page shows instead of a result: the analysis' own message (e.g. "no funnel")."""


@st.cache_data(ttl=TTL, show_spinner="Computing…", max_entries=200)
def _cached_call(target: str, db: str, data_version: float, config_path: str | None,
                 args: tuple, kwargs: tuple, _lead: tuple):
    import importlib

    from metrics.errors import OnepaneError

    module, fn = target.rsplit(".", 1)
    func = getattr(importlib.import_module(module), fn)
    try:
        return func(*_lead, *args, **dict(kwargs))
    except OnepaneError as e:
        return Unavailable(str(e))


def _call(target: str, *args, with_config: bool = True, **kwargs):
    """Call `module.function(store, [config,] *args, **kwargs)`, cached like the queries."""
    if not store_exists():
        return Unavailable(f"no store at {db_path()}")
    lead = (store(), settings()) if with_config else (store(),)
    # store and config are identified by db path and config path, so they stay out of the key
    return _cached_call(target, db_path(), version(), os.environ.get("ONEPANE_CONFIG"),
                        args, tuple(sorted(kwargs.items())), lead)


def unit_economics(service: str | None, start, end, as_of: str | None = None):
    return _call("metrics.ledger.unit_economics", service, start, end, as_of=as_of)


def token_economics(service: str | None, start, end, as_of: str | None = None):
    return _call("metrics.ledger.token_economics", service, start, end, as_of=as_of)


def marginal_cost_per_bp(service: str, start, end, as_of: str | None = None):
    return _call("metrics.ledger.marginal_cost_per_bp", service, start=start, end=end, as_of=as_of)


def service_baseline(service: str, start, end, as_of: str | None = None):
    """(whatif.Baseline, info) for the what-if controls, or Unavailable."""
    return _call("metrics.ledger.service_baseline", service, start, end, as_of=as_of)


def allocation(start, end, as_of: str | None = None):
    return _call("metrics.analysis.allocation.allocate", start, end, as_of=as_of)


def cost_anomalies(start, end, as_of: str | None = None):
    """Anomalous cost days, from the bills as known at `as_of`."""
    return _call("metrics.analysis.anomalies.cost_anomalies", start, end, with_config=False, as_of=as_of)


def cost_decomposition(service: str | None, before: tuple, after: tuple, as_of: str | None = None):
    return _call("metrics.analysis.anomalies.decompose_cost", service, before, after,
                 with_config=False, as_of=as_of)


def budget_status(at: datetime):
    return _call("metrics.analysis.budgets.budget_status", at)


def month_forecasts(at: datetime):
    """The one month-end forecast (metrics.analysis.budgets.month_end_forecasts) per service and
    per budget: the Overview and the Costs page both show it."""
    return _call("metrics.analysis.budgets.month_end_forecasts", at)


def service_month_forecast(month_of, at: datetime, services: tuple[str, ...] = (),
                           as_of: str | None = None) -> pl.DataFrame:
    """The month so far through `month_of` (a day: later days are left out, as when a link pins
    the last day shown) with its `forecast` column replaced by `month_forecasts(at)` (Float64)."""
    month = service_month(month_of, services, as_of, month_of)
    fc = month_forecasts(at)
    fc = pl.DataFrame([{"service": r["name"], "billing_currency": r["currency"], "forecast_": float(r["forecast"])}
                       for r in ([] if isinstance(fc, Unavailable) else fc) if r["level"] == "service"],
                      schema={"service": pl.Utf8, "billing_currency": pl.Utf8, "forecast_": pl.Float64})
    if not month.height:
        return month
    return month.join(fc, on=["service", "billing_currency"], how="left").with_columns(
        pl.col("forecast_").alias("forecast")).drop("forecast_")


def forecast_time(end, as_of_time: datetime | None = None) -> datetime:
    """The instant month-end forecasts are made at: the end of the window's last day, or the as-of
    time when that is earlier (the store knew nothing later)."""
    from datetime import time as _time
    last = datetime.combine(end, _time(), tzinfo=timezone.utc) - timedelta(seconds=1)
    return min(as_of_time, last) if as_of_time else last


def drift_heatmap(service: str | None, start, end, as_of: str | None = None):
    return _call("metrics.model_health.drift_heatmap", service, None, start, end, as_of=as_of,
                 with_config=False)


def quality_series(service: str | None, start, end, as_of: str | None = None):
    return _call("metrics.model_health.quality_series", service, None, start, end, as_of=as_of,
                 with_config=False)


def fairness_series(service: str | None, start, end, as_of: str | None = None):
    return _call("metrics.model_health.fairness_series", service, None, start, end, as_of=as_of,
                 with_config=False)


def report_links(service: str | None, start, end, as_of: str | None = None):
    return _call("metrics.model_health.report_links", service, None, start, end, as_of=as_of,
                 with_config=False)


def what_changed(service: str | None, at: datetime, window_s: int, as_of: str | None = None):
    """Ranked what-changed items for one service, or every service when `service` is None."""
    return _call("metrics.analysis.what_changed.what_changed", service, at, timedelta(seconds=window_s),
                 config=settings(), as_of=parse_time(as_of) if as_of else None, with_config=False)


def incident_note(items: list, at: datetime, window_s: int, service: str | None) -> str:
    """What-changed items as a Markdown incident note (pure, so not cached)."""
    from metrics.analysis.wc_evidence import incident_note as note

    return note(items, at, timedelta(seconds=window_s), service)


def scenario(base, kpi_drop: float, price_change: float, traffic: float) -> dict:
    """The what-if arithmetic (pure and instant, so not cached)."""
    from metrics import whatif

    return whatif.scenario(base, kpi_drop, price_change, traffic)


def cost_invoiced(start, end, as_of: str | None = None) -> pl.DataFrame:
    return _q("cost_invoiced", start, end, as_of=as_of)


def alert_state() -> list[dict]:
    """Each alert's newest state (firing / resolved), or [] when there are none."""
    out = _call("metrics.alerts.current_state", with_config=False)
    return list(out.values()) if isinstance(out, dict) else []


def first_day(layer: str, as_of: str | None = None, last: bool = False) -> datetime | None:
    """Midnight UTC of the first (or last) day with data in `layer` (cost, telemetry, ...), or None."""
    df = data_range(as_of)
    row = df.filter(pl.col("layer") == layer) if df.height else df
    t = row["last_at" if last else "first_at"][0] if row.height else None
    return datetime(t.year, t.month, t.day, tzinfo=timezone.utc) if t else None


# ---- freshness and traffic lights (definitions in app/health.py) ---------------------------
def freshness_slos() -> dict[str, str]:
    """slo.freshness per configured service (services without one use the default)."""
    from app.health import DEFAULT_FRESHNESS_SLO

    return {s.name: (s.slo.freshness if s.slo and s.slo.freshness else DEFAULT_FRESHNESS_SLO)
            for s in settings().services}


def freshness_status(reference: datetime, as_of: str | None = None) -> pl.DataFrame:
    """Per layer and service: newest_data_at, rows, late_rows, freshness_slo, age_hours and status
    (fresh | stale | n/a) at `reference`: the one freshness definition (Data health, lights)."""
    from app.health import freshness_status as judge

    return judge(freshness("1d", as_of), freshness_slos(), reference)


def health_lights(end, as_of: str | None = None, reference: datetime | None = None) -> pl.DataFrame:
    """Per service: technical, model and business lights (ok | warn | breach | stale | no data) with
    the numbers behind them over the 7 days before `end`; feeds are judged fresh at `reference`
    (default: as_of, else now)."""
    from app.health import lights

    ref = reference or (parse_time(as_of) if as_of else now())
    return lights(_q("service_health", end, as_of=as_of), freshness_status(ref, as_of))
