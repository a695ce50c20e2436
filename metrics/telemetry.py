"""Technical health of one service per model version, and what its GPU time costs.

`telemetry_summary(store, config, service, start, end)` is what `onepane telemetry summary` prints and
what pages call. It selects the service's samples in the window once - filter-first from
raw_telemetry, with the de-duplication and increase rules of `stg_telemetry_delta`
(telemetry_window.sql) - and runs named queries over them (metrics/sql/queries/telemetry_*.sql):

- requests, error rate, fallback/abstain rate per version: increase of `inference_requests_total`
  (else the histogram `_count`), `inference_fallback_total`, `inference_abstain_total` (else the
  request logs' fallback/abstained flags); a version with no request counters at all (the service
  only has request logs) takes every figure from its request log (telemetry_request_log.sql);
- latency p50/p95: Prometheus' `histogram_quantile` interpolation over the bucket increases;
- GPU seconds = sum(utilisation x dt); busy time and energy split across versions per bucket by
  their share of request-seconds; idle = observed (paid) GPU time - busy, reported for the service,
  never hidden in the unit cost. Cost = GPU-seconds x the GPU-hour price / 3600 (exact Decimal).
"""
from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from metrics.pricing import gpu_hour_price
from metrics.store import scope_days, unscope

log = logging.getLogger(__name__)

QUERIES = Path(__file__).parent / "sql" / "queries"
ALL_START = datetime(1970, 1, 1, tzinfo=timezone.utc)
ALL_END = datetime(9999, 1, 1, tzinfo=timezone.utc)
DEFAULT_BUCKET_S = 60
# where the window looks for each series' previous sample first: scrapes come every few seconds to a
# minute; a series silent for longer is found by the older-history probe (exact, rarely needed)
LOOKBACK = timedelta(minutes=10)


def sql(name: str) -> str:
    return (QUERIES / f"{name}.sql").read_text(encoding="utf-8")


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (upper bound, count) pairs.

    Linear interpolation inside the bucket holding rank q*total; the lowest bucket starts at 0 (when
    its bound is positive); a rank in the +Inf bucket returns the highest finite bound."""
    pts = sorted((le, c) for le, c in buckets if c is not None and not math.isnan(c))
    if not pts or not math.isinf(pts[-1][0]):
        return None
    total = pts[-1][1]
    if total <= 0:
        return None
    # enforce monotonic cumulative counts (Prometheus does the same for float noise)
    fixed, top = [], 0.0
    for le, c in pts:
        top = max(top, c)
        fixed.append((le, top))
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for i, (le, c) in enumerate(fixed):
        if c >= rank:
            if math.isinf(le):
                return fixed[i - 1][0] if i > 0 else None
            if i == 0 and le <= 0:
                return le
            lower = prev_le if i > 0 else 0.0
            if c == prev_c:
                return le
            return lower + (le - lower) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return None


def _ratio(a, b):
    return (a / b) if a is not None and b else None


def _rate(count, requests, log_row, key):
    """From telemetry counters when the service exports them, else from its request logs."""
    if count is not None:
        return _ratio(count, requests)
    if log_row and log_row[key] is not None:
        return _ratio(float(log_row[key]), log_row["requests"])
    return None


def _money(seconds: float | None, price: Decimal | None) -> Decimal | None:
    if seconds is None or price is None:
        return None
    return (Decimal(repr(float(seconds))) * price / Decimal(3600)).quantize(Decimal(1).scaleb(-18))


def _window(con, params: dict, start: datetime | None, store=None) -> None:
    """The temporary table `_window`: the service's samples in the window with their increase,
    read filter-first (telemetry_window.sql; only the series the summary uses). The previous sample
    of each series is looked for LOOKBACK before the window; only if a counter has none there is
    older history probed, and if it has an older one the window is read again from the beginning
    of the store (exact, slower; rare: a counter silent for longer). With `store`, the first read
    opens only the day partitions of [start - LOOKBACK, end) (metrics.store.scope_days), so it
    costs the same whatever the days stored."""
    frm = params["start"] - LOOKBACK if start is not None else ALL_START
    scoped = scope_days(store, con, ("raw_telemetry", "_dedup_raw_telemetry"), frm, params["end"]) \
        if store is not None and start is not None else []
    try:
        con.execute("CREATE TEMP TABLE _window AS " + sql("telemetry_window"), {**params, "from": frm})
    finally:
        unscope(con, scoped)
    if start is None or not con.execute("SELECT bool_or(no_prev) FROM _window").fetchall()[0][0]:
        return                            # every series found its previous sample (or none is needed)
    older = con.execute(sql("telemetry_window_older"), {"service": params["service"], "from": frm}).fetchall()[0][0]
    if older:
        con.execute("DROP TABLE _window")
        con.execute("CREATE TEMP TABLE _window AS " + sql("telemetry_window"), {**params, "from": ALL_START})


def telemetry_summary(store, config, service: str, start: datetime | None = None,
                      end: datetime | None = None, as_of=None, bucket_s: int = DEFAULT_BUCKET_S) -> dict:
    """Per-version technical health and GPU cost of one service in [start, end) (None = all)."""
    params = {"service": service, "start": start or ALL_START, "end": end or ALL_END}
    con = store.connect(as_of)
    try:
        # the service's samples in the window, computed once (a temporary table on a read-only connection)
        _window(con, params, start, store)
        versions = store.rows(sql("telemetry_versions"), con=con)
        buckets: dict = {}
        for b in store.rows(sql("telemetry_latency_buckets"), con=con):
            buckets.setdefault(b["model_version"], []).append((b["le"], b["count"]))
        gpu = store.rows(sql("telemetry_gpu_attribution"), {"bucket_s": bucket_s}, con=con)
        logs = {r["model_version"]: r for r in store.rows(sql("telemetry_request_log"), params, con=con)}
    finally:
        con.close()
    price, currency = gpu_hour_price(store, config)
    by_version = {g["model_version"]: g for g in gpu if g["model_version"] is not None}
    unattributed = next((g for g in gpu if g["model_version"] is None), None)
    out_versions = []
    counted = {v["model_version"] for v in versions
               if v["requests"] is not None or v["histogram_count"] is not None}
    for v in versions:
        mv = v["model_version"]
        if mv not in counted and mv in logs:
            continue                      # no request counters: the version comes from its request log
        requests = v["requests"] if v["requests"] is not None else v["histogram_count"]
        pairs = buckets.get(mv, [])
        g = by_version.get(mv, {})
        gpu_s = g.get("gpu_seconds")
        cost = _money(gpu_s, price)
        out_versions.append({
            "model_version": mv,
            "requests": int(round(requests)) if requests is not None else None,
            "error_rate": _ratio(v["errors"] or 0.0, requests) if v["requests"] is not None else None,
            "latency_p50_s": histogram_quantile(0.5, pairs),
            "latency_p95_s": histogram_quantile(0.95, pairs),
            "latency_mean_s": _ratio(v["request_seconds"], v["histogram_count"]),
            "gpu_seconds": gpu_s,
            "gpu_seconds_per_request": _ratio(gpu_s, requests),
            "energy_j": g.get("energy_j"),
            "energy_j_per_request": _ratio(g.get("energy_j"), requests),
            "fallback_rate": _rate(v["fallbacks"], requests, logs.get(mv), "fallbacks"),
            "abstain_rate": _rate(v["abstains"], requests, logs.get(mv), "abstains"),
            "tokens": v["tokens"],
            "cost": cost,
            "cost_per_request": (cost / Decimal(int(round(requests)))) if cost is not None and requests else None,
        })
    for mv, lg in logs.items():
        if mv in counted or (mv is None and counted):
            continue                      # (a log without versions only speaks for a log-only service)
        g = by_version.get(mv, {})
        out_versions.append(_from_log(lg, g.get("gpu_seconds"), g.get("energy_j"), price))
    out_versions.sort(key=lambda r: (r["model_version"] is None, r["model_version"] or ""))
    observed = sum(g["observed_gpu_seconds"] or 0.0 for g in gpu)
    busy = sum(g["gpu_seconds"] or 0.0 for g in gpu)
    idle = observed - busy if gpu else None
    unattr = unattributed["gpu_seconds"] if unattributed else 0.0 if gpu else None
    return {
        "service": service,
        "from": params["start"] if start else None,
        "to": params["end"] if end else None,
        "versions": out_versions,
        "observed_gpu_seconds": observed if gpu else None,
        "idle_gpu_seconds": idle,
        "idle_cost": _money(idle, price),
        "unattributed_gpu_seconds": unattr,
        "unattributed_cost": _money(unattr, price),
        "idle_energy_j": unattributed["energy_j"] if unattributed else 0.0 if gpu else None,
        "gpu_hour_price": price,
        "currency": currency,
    }


def _from_log(lg: dict, gpu_s: float | None, energy_j: float | None, price: Decimal | None) -> dict:
    """A version whose only technical source is its request log: every figure from the log rows
    (latency quantiles exact over the logged latencies; error rate over rows with a status)."""
    requests = int(lg["requests"])
    cost = _money(gpu_s, price)
    return {
        "model_version": lg["model_version"],
        "requests": requests,
        "error_rate": _ratio(float(lg["errors"]), lg["with_status"]) if lg["with_status"] else None,
        "latency_p50_s": lg["latency_p50_s"],
        "latency_p95_s": lg["latency_p95_s"],
        "latency_mean_s": lg["latency_mean_s"],
        "gpu_seconds": gpu_s,
        "gpu_seconds_per_request": _ratio(gpu_s, requests),
        "energy_j": energy_j,
        "energy_j_per_request": _ratio(energy_j, requests),
        "fallback_rate": _ratio(float(lg["fallbacks"]), requests) if lg["fallbacks"] is not None else None,
        "abstain_rate": _ratio(float(lg["abstains"]), requests) if lg["abstains"] is not None else None,
        "tokens": float(lg["tokens"]) if lg["tokens"] is not None else None,
        "cost": cost,
        "cost_per_request": (cost / Decimal(requests)) if cost is not None and requests else None,
        "measured_by": "request_log",
    }


def summary_rows(summary: dict) -> list[dict]:
    """The summary as table rows: one per version plus a service line for idle time."""
    rows = [dict(v) for v in summary["versions"]]
    if summary["idle_gpu_seconds"] is not None:
        rows.append({"model_version": "(idle, paid)", "gpu_seconds": summary["idle_gpu_seconds"],
                     "cost": summary["idle_cost"]})
        if summary["unattributed_gpu_seconds"]:
            rows.append({"model_version": "(busy, no requests)",
                         "gpu_seconds": summary["unattributed_gpu_seconds"],
                         "cost": summary["unattributed_cost"]})
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return [{k: r.get(k) for k in keys} for r in rows]
