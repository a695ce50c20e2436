"""Helpers for the what-changed / alerts tests: load the real H100 capture into a store."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

CAPTURE_START = 1795527966.86
V42_ROLLOUT = 1795528236.898314
ROLLBACK = 1795528398.8720129
CAPTURE_END = CAPTURE_START + 540


def load_capture(store, shared: Path, config=None) -> None:
    """telemetry.om and events.jsonl of gpu-serving-capture through the real importers."""
    from collectors.events import ingest_events
    from collectors.openmetrics import ingest_openmetrics

    cap = shared / "gpu-serving-capture"
    ingest_openmetrics(store, cap / "telemetry.om", config=config)
    ingest_events(store, cap / "events.jsonl", config=config)


def write_request_counters(store, service: str, start: float, minutes: int, per_minute: int,
                           errors_at: dict[int, int], slow_at: dict[int, int] | None = None) -> None:
    """Cumulative Prometheus-style counters, one sample a minute: requests by status and a latency
    histogram (le 0.5 / 1 / +Inf) where minute m has errors_at[m] errors and slow_at[m] requests
    slower than 0.5 s. The first sample (m = 0) is the counters' starting point."""
    from metrics.lake import Load

    slow_at = slow_at or {}
    rows = []
    ok = err = fast = total = 0.0

    def row(t, metric, labels, value):
        lj = json.dumps(labels, sort_keys=True)
        rows.append({"sampled_at": datetime.fromtimestamp(t, timezone.utc), "metric": metric, "labels": lj,
                     "labels_hash": hashlib.md5((metric + lj).encode()).hexdigest(), "service": service,
                     "model_version": "v1", "value": value, "source": "test"})

    for m in range(minutes + 1):
        if m > 0:
            e = errors_at.get(m - 1, 0)      # the increase up to sample m belongs to minute m - 1
            s = slow_at.get(m - 1, 0)
            ok += per_minute - e
            err += e
            fast += per_minute - s
            total += per_minute
        t = start + 60 * m
        base = {"service": service, "model_version": "v1"}
        row(t, "inference_requests_total", {**base, "status": "200"}, ok)
        row(t, "inference_requests_total", {**base, "status": "500"}, err)
        row(t, "inference_request_duration_seconds_bucket", {**base, "le": "0.5"}, fast)
        row(t, "inference_request_duration_seconds_bucket", {**base, "le": "1.0"}, total)
        row(t, "inference_request_duration_seconds_bucket", {**base, "le": "+Inf"}, total)
        row(t, "inference_request_duration_seconds_count", base, total)
    with Load(store, "raw_telemetry", collector="test") as load:
        load.write(pl.DataFrame(rows))


def write_costs(store, lines: list[dict]) -> None:
    """FOCUS line items: dicts with day (date), service, team, sku, cost, quantity[, region, currency]."""
    from datetime import timedelta as _td
    from decimal import Decimal as _D

    from metrics.lake import Load

    rows = []
    for i, ln in enumerate(lines):
        start = datetime(ln["day"].year, ln["day"].month, ln["day"].day, tzinfo=timezone.utc)
        cost = _D(str(ln["cost"]))
        rows.append({"billing_currency": ln.get("currency", "USD"), "charge_period_start": start,
                     "charge_period_end": start + _td(days=1), "billing_period_start": start.replace(day=1),
                     "billed_cost": cost, "effective_cost": cost, "list_cost": cost,
                     "pricing_quantity": _D(str(ln["quantity"])) if ln.get("quantity") is not None else None,
                     "sku_id": ln["sku"], "x_service": ln["service"], "x_team": ln.get("team"),
                     "x_model_version": ln.get("model_version"), "region_id": ln.get("region", "us-east-1"),
                     "charge_category": "Usage", "x_source": "test", "x_source_line": i + 2})
    with Load(store, "raw_focus", collector="test") as load:
        load.write(pl.DataFrame(rows, infer_schema_length=None))


LE = (0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))


def write_minutes(store, service: str, start: float, rate: list[float], error_share: list[float],
                  median_s: list[float], gpu_s_per_req: list[float], version: str = "v1", seed: int = 0,
                  source: str = "scrape") -> None:
    """Per-minute cumulative counters (requests by status, latency histogram) and a DCGM GPU
    utilisation gauge for one service, from per-minute request rates (req/s), error shares, median
    latencies (lognormal, σ = 0.4) and GPU-seconds per request."""
    import numpy as np

    from metrics.lake import Load

    rnd = np.random.default_rng(seed)
    rows = []
    ok = err = 0.0
    buckets = np.zeros(len(LE))

    def row(t, metric, labels, value, svc=service):
        lj = json.dumps(labels, sort_keys=True)
        rows.append({"sampled_at": datetime.fromtimestamp(t, timezone.utc), "metric": metric, "labels": lj,
                     "labels_hash": hashlib.md5((metric + lj).encode()).hexdigest(), "service": svc,
                     "model_version": labels.get("model_version"), "value": value, "source": source})

    n_min = len(rate)
    for m in range(n_min + 1):
        t = start + 60 * m
        if m > 0:
            i = m - 1
            n = int(rnd.poisson(rate[i] * 60))
            e = int(rnd.binomial(n, error_share[i]))
            ok += n - e
            err += e
            lat = rnd.lognormal(np.log(median_s[i]), 0.4, n)
            buckets += np.array([(lat <= le).sum() for le in LE])
            util = min(100.0, 100.0 * n * gpu_s_per_req[i] / 60.0 * (1 + 0.05 * rnd.standard_normal()))
            row(t, "DCGM_FI_DEV_GPU_UTIL", {"UUID": f"GPU-{service}", "gpu": "0"}, max(util, 0.0))
        base = {"service": service, "model_version": version}
        row(t, "inference_requests_total", {**base, "status": "200"}, ok)
        row(t, "inference_requests_total", {**base, "status": "500"}, err)
        for le, c in zip(LE, buckets):
            row(t, "inference_request_duration_seconds_bucket",
                {**base, "le": "+Inf" if le == float("inf") else str(le)}, float(c))
        row(t, "inference_request_duration_seconds_count", base, float(buckets[-1]))
    with Load(store, "raw_telemetry", collector="test", source=source) as load:
        load.write(pl.DataFrame(rows, infer_schema_length=None))


def write_events(store, events: list[dict]) -> None:
    from metrics.lake import Load

    rows = [{"occurred_at": datetime.fromtimestamp(e["t"], timezone.utc), "kind": e["kind"],
             "service": e["service"], "model_version": e.get("model_version"), "detail": e.get("detail"),
             "source": "test", "event_id": f"{e['service']}-{e['kind']}-{e['t']}"} for e in events]
    with Load(store, "raw_events", collector="test") as load:
        load.write(pl.DataFrame(rows, infer_schema_length=None))


def write_rows(store, table: str, rows: list[dict], source: str = "test") -> None:
    from metrics.lake import Load

    with Load(store, table, collector="test", source=source) as load:
        load.write(pl.DataFrame(rows, infer_schema_length=None))
