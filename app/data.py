"""The app's data access: cached wrappers over metrics.queries, taking primitives only.

Pages call these functions and nothing else to read data. The store and config are process-wide
(`st.cache_resource`); results are `st.cache_data` keyed by the store path, a *data version* and
the call's primitive arguments. The data version is the modification time of the run log's
folders: every committed load publishes a run-log file there, so a collector's write invalidates
the cache at once, and the TTL only bounds memory. Each uncached query opens a short-lived
read-only connection (Store.query), so the app never holds the DuckDB file open and `onepane init`
is never blocked by a browser tab. The app never writes.
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
    return Store(path)


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


def service_month(month_of, services: tuple[str, ...] = (), as_of: str | None = None) -> pl.DataFrame:
    return _q("service_month", month_of, services, as_of=as_of)


def events(start, end, services: tuple[str, ...] = (), as_of: str | None = None) -> pl.DataFrame:
    return _q("events", start, end, services, as_of=as_of)


def load_runs(as_of: str | None = None) -> pl.DataFrame:
    return _q("load_runs", as_of=as_of)


def load_failures(as_of: str | None = None) -> pl.DataFrame:
    return _q("load_failures", as_of=as_of)


def freshness(late_after: str = "1d", as_of: str | None = None) -> pl.DataFrame:
    return _q("freshness", late_after, as_of=as_of)


def now() -> datetime:
    return datetime.now(timezone.utc)


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
