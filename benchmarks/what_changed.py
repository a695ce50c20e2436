"""Benchmark: `what_changed` over 30 days × 3 services, as a ratio to plain DuckDB and pandas.

    nice .venv/bin/python benchmarks/what_changed.py [--db DEMO.duckdb --config onepane.toml --service S --at T] [--cli]

Without --db it builds a store of 30 days × 3 services of one-minute telemetry (requests by status,
a 6-bucket latency histogram, GPU utilisation: ~3.4 M rows), ten-minute KPIs, daily costs and a
handful of events. Baselines read the same range and compute the same per-bucket aggregates
(requests, errors, histogram counts, GPU utilisation) with one DuckDB query, and with pandas over the
rows DuckDB hands it. The target is ≤ 2 s for the whole answer for one service, ≤ 5 s for
every service at once (no --service). With --cli it also times the command itself, `onepane
what-changed --at T --window W [--service S] --format json` in a fresh process (imports included),
once per window: what on-call waits for.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics.lake import Load  # noqa: E402
from metrics.store import Store  # noqa: E402

log = logging.getLogger("benchmarks.what_changed")

DAYS = 30
SERVICES = ("ranker", "chat", "vision")
LE = ("0.1", "0.25", "0.5", "1.0", "2.5", "+Inf")
START = datetime(2026, 10, 1, tzinfo=timezone.utc)


def build(store: Store) -> None:
    rnd = np.random.default_rng(1)
    n = DAYS * 1440
    ts = START.timestamp() + 60.0 * np.arange(n)
    frames = []
    for si, svc in enumerate(SERVICES):
        hour = (ts // 3600) % 24
        rate = (4 + 3 * np.sin(hour / 24 * 2 * np.pi)) * (1 + si)
        if svc == "ranker":
            rate[n - 300:] *= 2.0                          # a load shift in the last five hours
        req = rnd.poisson(rate * 60)
        err = rnd.binomial(req, 0.01)
        series = {("inference_requests_total", (("status", "200"),)): np.cumsum(req - err),
                  ("inference_requests_total", (("status", "500"),)): np.cumsum(err)}
        lat_cdf = np.array([0.05, 0.3, 0.7, 0.93, 0.995, 1.0])
        for le, p in zip(LE, lat_cdf):
            series[("inference_request_duration_seconds_bucket", (("le", le),))] = np.cumsum(np.round(req * p))
        series[("inference_request_duration_seconds_count", ())] = np.cumsum(req)
        series[("DCGM_FI_DEV_GPU_UTIL", (("UUID", f"GPU-{svc}"),))] = np.clip(req / 60 * 8 + rnd.normal(0, 3, n), 0, 100)
        for (metric, extra), values in series.items():
            labels = dict(extra, service=svc) if not metric.startswith("DCGM") else dict(extra)
            lj = json.dumps(labels, sort_keys=True)
            frames.append(pl.DataFrame({
                "sampled_at": pl.Series(ts * 1e6).cast(pl.Int64).cast(pl.Datetime("us", "UTC")),
                "metric": metric, "labels": lj, "labels_hash": hashlib.md5((metric + lj).encode()).hexdigest(),
                "service": svc, "model_version": "v1", "value": values.astype(float), "source": "bench"}))
    with Load(store, "raw_telemetry", collector="bench") as load:
        load.write(pl.concat(frames))
    kpis = []
    for svc in SERVICES:
        t10 = START.timestamp() + 600.0 * np.arange(DAYS * 144)
        kpis.append(pl.DataFrame({"observed_at": pl.Series(t10 * 1e6).cast(pl.Int64).cast(pl.Datetime("us", "UTC")),
                                  "service": svc, "model_version": "v1", "kpi": "impressions",
                                  "value": rnd.poisson(3000, t10.size).astype(float), "source": "bench"}))
    with Load(store, "raw_kpis", collector="bench") as load:
        load.write(pl.concat(kpis))
    cost = [{"charge_period_start": START + timedelta(days=d), "charge_period_end": START + timedelta(days=d + 1),
             "billing_currency": "USD", "effective_cost": 100 + d % 7, "billed_cost": 100 + d % 7,
             "pricing_quantity": 40, "sku_id": "gpu-h100", "x_service": svc}
            for d in range(DAYS) for svc in SERVICES]
    with Load(store, "raw_focus", collector="bench") as load:
        load.write(pl.DataFrame(cost))
    with Load(store, "raw_events", collector="bench") as load:
        load.write(pl.DataFrame({"occurred_at": [START + timedelta(days=d, hours=10) for d in range(0, DAYS, 3)],
                                 "kind": "deploy", "service": "chat", "model_version": "c2",
                                 "event_id": [f"e{d}" for d in range(0, DAYS, 3)]}))


BASELINE_SQL = """
SELECT floor((epoch(sampled_at) - $origin) / $step)::BIGINT AS b, metric,
       json_extract_string(labels, '$.le') AS le, json_extract_string(labels, '$.status') AS status,
       max(value) - min(value) AS delta, avg(value) AS mean
FROM stg_telemetry
WHERE (service = $service OR metric LIKE 'DCGM%') AND sampled_at >= $start AND sampled_at < $end
GROUP BY ALL
"""


def timed(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db")
    ap.add_argument("--service", default="ranker")
    ap.add_argument("--at")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="build the synthetic store at this path and keep it")
    ap.add_argument("--config", help="onepane.toml of the store (the demo's), passed to what_changed")
    ap.add_argument("--cli", action="store_true", help="also time the onepane command in a fresh process")
    args = ap.parse_args()
    from metrics.analysis.what_changed import what_changed as wc
    from metrics.config import load_settings
    from metrics.times import parse_time

    cfg = load_settings(args.config) if args.config else None

    def what_changed(store, service, at, window):
        return wc(store, service, at, window, config=cfg)

    tmp = None
    if args.db:
        store = Store(args.db).ensure()
        at = parse_time(args.at)
    else:
        tmp = None if args.keep else tempfile.TemporaryDirectory()
        store = Store(args.keep or Path(tmp.name) / "bench.duckdb").ensure()
        t0 = time.perf_counter()
        build(store)
        print(f"built store in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        at = START + timedelta(days=DAYS)
    rows = store.query("SELECT count(*) AS n FROM raw_telemetry")["n"][0]
    print(f"store: {rows:,} telemetry rows, service {args.service}, at {at.isoformat()}")
    print(f"{'window':>7} {'what_changed s':>15} {'duckdb s':>9} {'pandas s':>9} {'vs duckdb':>10} {'vs pandas':>10} items")
    for window in (timedelta(minutes=10), timedelta(hours=1), timedelta(days=1), timedelta(days=7)):
        items = what_changed(store, args.service, at, window)
        ours = timed(lambda: what_changed(store, args.service, at, window), args.repeat)
        params = {"origin": (at - 3 * window).timestamp(), "step": 3 * window.total_seconds() / 30,
                  "service": args.service, "start": at - 3 * window, "end": at}
        duck = timed(lambda: store.query(BASELINE_SQL, params), args.repeat)

        def pandas_way():
            con = store.connect()
            try:
                df = con.execute("SELECT sampled_at, metric, labels, value FROM stg_telemetry WHERE "
                                 "(service = $service OR metric LIKE 'DCGM%') AND sampled_at >= $start "
                                 "AND sampled_at < $end",
                                 {k: params[k] for k in ("service", "start", "end")}).df()
            finally:
                con.close()
            df["b"] = ((df["sampled_at"].astype("int64") / 1e9 - params["origin"]) // params["step"]).astype(int)
            df.groupby(["b", "metric", "labels"])["value"].agg(["min", "max", "mean"])
        pand = timed(pandas_way, args.repeat)
        top = f"{items[0]['layer']}/{items[0]['kind']}/{items[0]['subject']}" if items else "-"
        every = timed(lambda: what_changed(store, None, at, window), args.repeat)
        print(f"{str(window):>7} {ours:15.3f} {duck:9.3f} {pand:9.3f} {ours / duck:10.2f} {ours / pand:10.2f} "
              f"{len(items)} (top: {top}); all services (target ≤ 5 s): {every:.3f} s", flush=True)
        if args.cli:
            for svc in (args.service, None):
                cmd = [sys.executable, "-m", "app", "what-changed", "--at", at.isoformat(), "--window",
                       f"{int(window.total_seconds())}s", "--format", "json", "--db", str(store.db_path)]
                cmd += ["--config", args.config] if args.config else []
                cmd += ["--service", svc] if svc else []
                t0 = time.perf_counter()
                p = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
                took = time.perf_counter() - t0
                n = len(json.loads(p.stdout)) if p.returncode == 0 else p.stderr.strip()[-200:]
                print(f"{'':>7} cli {svc or 'all services'}: {took:.2f} s ({n} items)", flush=True)
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
