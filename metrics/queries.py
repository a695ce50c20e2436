"""The typed query API for the app and notebooks: (store or connection, primitives, as_of) -> polars.

Each function runs one named SQL file from `metrics/sql/queries/` (header: name, grain, inputs,
params) with DuckDB `$name` parameters. Aggregation happens in SQL, so results are small: one row
per day and service, never raw line items. A file may inline another query file as a subquery by
writing `{other_query}` where a table would go, and mark an optional filter line `-- when: p`:
it is dropped when parameter p is empty (`-- unless: p`: dropped when p is set).

Trace a number: page -> app/data.py -> a function here -> metrics/sql/queries/<name>.sql -> stg_*
view (metrics/sql/staged) -> raw_* table (metrics/migrations) -> the collector named in its load.
"""
from __future__ import annotations

import functools
import logging
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import duckdb
import polars as pl

from metrics.store import Store, frame, may_hold_days_through, pin_loads, scope_days, set_as_of, unscope
from metrics.telemetry import LOOKBACK
from metrics.times import parse_duration, parse_time

log = logging.getLogger(__name__)

QUERY_DIR = Path(__file__).parent / "sql" / "queries"
_INCLUDE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")

Source = Store | duckdb.DuckDBPyConnection
Time = datetime | date | str | None


@functools.cache
def sql_text(name: str) -> str:
    """The SQL of query file `name`, with `{other}` includes expanded (as parenthesised subqueries)."""
    lines = (QUERY_DIR / f"{name}.sql").read_text(encoding="utf-8").splitlines()
    return "\n".join(line if line.lstrip().startswith("--") else
                     _INCLUDE.sub(lambda m: "(\n" + sql_text(m.group(1)) + "\n)", line)
                     for line in lines)


_WHEN = re.compile(r"--\s*(when|unless):\s*([a-z_]+)\s*$")


def _drop_unused(sql: str, params: dict) -> str:
    """Drop lines marked `-- when: p` when parameter p is empty (e.g. no service filter), so an
    optional filter costs nothing instead of a per-row `len($p) = 0 OR ...`; and lines marked
    `-- unless: p` when p is set (a part of the query a switch leaves out: not even bound)."""
    out = []
    for line in sql.splitlines():
        m = _WHEN.search(line)
        if m and (m.group(1) == "when") != bool(params.get(m.group(2))):
            continue
        out.append(line)
    return "\n".join(out)


def _prepared(name: str, params: dict | None) -> tuple[str, dict]:
    """Query file `name` with its unused `-- when:` lines dropped, and the parameters it uses."""
    sql = _drop_unused(sql_text(name), params or {})
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    used = set(re.findall(r"\$([a-z_0-9]+)", code))
    return sql, {k: v for k, v in (params or {}).items() if k in used}


def run(source: Source, name: str, params: dict | None = None, as_of: Time = None) -> pl.DataFrame:
    """Run query file `name` on a Store (Store.connect: a short-lived read-only connection, or a cursor
    of the app's shared reader) or on an open connection."""
    sql, params = _prepared(name, params)
    if isinstance(source, Store) and source.engine is not None:   # [storage] engine = "clickhouse"
        return source.engine.query(sql, params, as_of=as_of)
    if isinstance(source, Store):
        return source.query(sql, params, as_of=as_of)
    cur = source.cursor()
    try:
        set_as_of(cur, as_of)
        return frame(cur, sql, params)
    finally:
        cur.close()


def _ts(t: Time) -> datetime | None:
    if t is None:
        return None
    if isinstance(t, date) and not isinstance(t, datetime):
        return datetime(t.year, t.month, t.day, tzinfo=timezone.utc)
    return parse_time(t)


def _services(services: Iterable[str] | None) -> list[str]:
    return sorted(set(services or ()))


def _window(start: Time, end: Time) -> dict:
    return {"start": _ts(start) or datetime(1970, 1, 1, tzinfo=timezone.utc),
            "end": _ts(end) or datetime(9999, 1, 1, tzinfo=timezone.utc)}


# ---- what is in the store -----------------------------------------------------------------
def data_range(source: Source, as_of: Time = None) -> pl.DataFrame:
    """layer, first_at, last_at, rows for cost, telemetry, requests, model_health, kpis, events."""
    return run(source, "data_range", as_of=as_of)


def services_known(source: Source, as_of: Time = None) -> pl.DataFrame:
    """service, team, configured: configured services plus any seen in the data."""
    return run(source, "services_known", as_of=as_of)


# ---- cost and traffic ---------------------------------------------------------------------
def cost_daily(source: Source, start: Time = None, end: Time = None,
               services: Iterable[str] | None = None, as_of: Time = None) -> pl.DataFrame:
    """day, service, billing_currency, effective_cost, billed_cost (DECIMAL), line_items."""
    return run(source, "cost_daily", {**_window(start, end), "services": _services(services)}, as_of)


def requests_daily(source: Source, start: Time = None, end: Time = None,
                   services: Iterable[str] | None = None, as_of: Time = None) -> pl.DataFrame:
    """day, service, model_version, requests, errors, measured_by (telemetry | request_logs)."""
    return run(source, "requests_daily", {**_window(start, end), "services": _services(services)}, as_of)


def month_bounds(t: Time) -> tuple[datetime, datetime, datetime]:
    """(start of the month before, start of t's month, start of the next month), UTC."""
    t = _ts(t)
    m = datetime(t.year, t.month, 1, tzinfo=timezone.utc)
    prev = (m - timedelta(days=1)).replace(day=1)
    nxt = (m + timedelta(days=32)).replace(day=1)
    return prev, m, nxt


def service_month(source: Source, month_of: Time, services: Iterable[str] | None = None,
                  through: Time = None, as_of: Time = None) -> pl.DataFrame:
    """Per service and currency for the month containing `month_of`: month_to_date, last_cost_day,
    days_elapsed, days_in_month, forecast, budget (same currency only), requests,
    cost_per_prediction, prev_cost_per_prediction (the month before). With `through` (a day), the
    month so far ends with that day: cost and requests of later days are left out."""
    prev, start, end = month_bounds(month_of)
    cut = end if through is None else max(start, min(end, _ts(through) + timedelta(days=1)))
    return run(source, "service_month", {"start": prev, "month_start": start, "end": cut, "month_end": end,
                                         "services": _services(services)}, as_of)


# ---- data health --------------------------------------------------------------------------
def load_runs(source: Source, as_of: Time = None) -> pl.DataFrame:
    """Per source, collector and table: runs, failed_runs, last_run_at, last_status, last_ok_at,
    last_ok_rows, rows_loaded, last_error."""
    return run(source, "load_runs", as_of=as_of)


def load_failures(source: Source, as_of: Time = None) -> pl.DataFrame:
    """The newest 100 failed loads: finished_at, source, collector, target_table, source_file, error."""
    return run(source, "load_failures", as_of=as_of)


def load_removals(source: Source, as_of: Time = None) -> pl.DataFrame:
    """Loads taken back with `onepane loads rm`: removed_at, removed_load, target_table,
    removed_source, removed_rows, removed_by, reason, removal_load."""
    return run(source, "load_removals", as_of=as_of)


def retention_expiries(source: Source, as_of: Time = None) -> pl.DataFrame:
    """Data dropped by `[retention]` at `onepane compact`, every expiry (also those after `as_of`,
    flagged `after_as_of`): expired_at, target_table, retention, cutoff, expired_before,
    expired_rows, after_as_of, expiry_load."""
    return run(source, "retention_expiries", as_of=as_of)


def freshness(source: Source, late_after: str | timedelta = "1d", as_of: Time = None) -> pl.DataFrame:
    """Per layer and service: newest_data_at, rows, late_rows (loaded more than `late_after` after
    their data time)."""
    return run(source, "freshness", {"late_after": parse_duration(late_after)}, as_of)


def unit_cost_daily(source: Source, start: Time = None, end: Time = None,
                    services: Iterable[str] | None = None, as_of: Time = None) -> pl.DataFrame:
    """day, service, billing_currency, effective_cost, requests, cost_per_prediction."""
    return run(source, "unit_cost_daily", {**_window(start, end), "services": _services(services)}, as_of)


def events(source: Source, start: Time = None, end: Time = None,
           services: Iterable[str] | None = None, as_of: Time = None) -> pl.DataFrame:
    """occurred_at, kind, service, model_version, detail, source, event_id (at most 500)."""
    return run(source, "events", {**_window(start, end), "services": _services(services)}, as_of)


# ---- one service --------------------------------------------------------------------------
def bucket_for(start: Time, end: Time) -> str:
    """'hour' for windows up to 8 days, else 'day'."""
    s, e = _window(start, end).values()
    return "hour" if (e - s) <= timedelta(days=8) else "day"


def service_technical(source: Source, service: str, start: Time, end: Time, bucket: str | None = None,
                      gpus: Iterable[str] | None = None, split: bool = True,
                      as_of: Time = None) -> pl.DataFrame:
    """Long format bucket_at, model_version, metric, value with metric in p50_s, p95_s, p99_s,
    requests, error_rate, fallback_rate, abstain_rate, gpu_util_pct; split=False merges versions
    as '(all)'.

    On a DuckDB store the window is read first from its day partitions only (`scope_days` over
    [start - LOOKBACK, end)) and without the older-history probe (which reads every earlier day of
    the service). Only when a series found no previous sample in the look-back and its model
    version has older samples (service_technical_older) is the query run again as written. Either
    way the answer is the query's. That look for older samples is skipped when the lake holds no
    day of raw telemetry up to the look-back's first (a window that starts with the store)."""
    params = {**_window(start, end), "service": service, "bucket": bucket or bucket_for(start, end),
              "split": split, "gpus": _services(gpus)}
    if not isinstance(source, Store) or source.engine is not None:
        return run(source, "service_technical", params, as_of)
    con = source.connect(as_of)
    try:
        pin_loads(con)          # one read of the run log for the query's six raw view references
        since = params["start"] - LOOKBACK
        scoped = scope_days(source, con, ("raw_telemetry", "_dedup_raw_telemetry", "raw_requests"),
                            since, params["end"])
        try:
            df = source.query(*_prepared("service_technical", {**params, "skip_older": True}), con=con)
        finally:
            unscope(con, scoped)
        flag = pl.col("metric") == "series_without_previous"
        versions = df.filter(flag)["model_version"].to_list()
        # older samples lie in day folders up to the look-back's first day: none there (the window
        # starts with the store), nothing to look for
        if versions and may_hold_days_through(source, "raw_telemetry", since):
            probe = {**params, "versions": [v for v in versions if v is not None], "null_version": None in versions}
            if source.rows(*_prepared("service_technical_older", probe), con=con)[0]["n"]:
                return source.query(*_prepared("service_technical", params), con=con)
        return df.filter(~flag)
    finally:
        con.close()


def service_model(source: Source, service: str, start: Time, end: Time, as_of: Time = None) -> pl.DataFrame:
    """window_start, window_end, model_version, metric, feature, value, threshold, status, method,
    sample_size, report_path."""
    return run(source, "service_model", {**_window(start, end), "service": service}, as_of)


def service_kpis(source: Source, service: str, start: Time, end: Time, bucket: str | None = None,
                 action: str | None = None, denominator: str | None = None,
                 as_of: Time = None) -> pl.DataFrame:
    """bucket_at, arm, kpi, value; with a funnel, kpi = 'conversion' rows hold action/denominator."""
    return run(source, "service_kpis", {**_window(start, end), "service": service,
                                        "bucket": bucket or bucket_for(start, end),
                                        "action": action, "denominator": denominator}, as_of)


def service_cost(source: Source, service: str, start: Time, end: Time, as_of: Time = None) -> pl.DataFrame:
    """day, model_version, charge, billing_currency, effective_cost."""
    return run(source, "service_cost", {**_window(start, end), "service": service}, as_of)


def cost_invoiced(source: Source, start: Time = None, end: Time = None, as_of: Time = None) -> pl.DataFrame:
    """billing_month, billing_currency, provider, invoiced, estimated, estimated_lines."""
    return run(source, "cost_invoiced", _window(start, end), as_of)


def service_health(source: Source, end: Time, as_of: Time = None) -> pl.DataFrame:
    """Per service over the 7 days before `end`: requests, error_rate, slo_error_rate, drift_share,
    drift_status, slo_drift_share, funnel_action, funnel_rate, funnel_prev_rate (week before)."""
    e = _ts(end)
    return run(source, "service_health", {"start": e - timedelta(days=7), "prev": e - timedelta(days=14),
                                          "end": e, "services": []}, as_of)


def freshness_history(source: Source, as_of: Time = None) -> pl.DataFrame:
    """Per layer, source and load: arrived_at (load time), newest_data_at, rows."""
    return run(source, "freshness_history", as_of=as_of)
