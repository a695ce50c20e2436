"""Benchmark: `what_changed` (one service, and every service) as a ratio to one DuckDB query reading
the same range, each side in a fresh process, alternating (benchmarks/sides.py).

    nice .venv/bin/python benchmarks/what_changed.py --db DEMO/onepane.duckdb --config DEMO/onepane.toml \
        --service search-ranker --at 2026-10-20T10:05:00Z [--windows 10m,1h,1d,7d] [--runs 3]

Without --db it builds a synthetic store (30 days × 3 services of one-minute telemetry, ten-minute
KPIs, daily costs, a few deploys; `--keep PATH` keeps it). Targets: ≤ 2 s for one service, ≤ 5 s for
every service (no --service), on the 30-day demo store.

Sides, per window W (T = --at):
- `onepane/<service>`: `what_changed(store, service, T, W)` (`onepane/all`: without a service).
- `duckdb`: one hand-written query over `raw_telemetry` reading `[T − 3W − 10 min, T)` of the service
  (and every GPU series), de-duplicated as stg_telemetry is, with the per-bucket aggregates the
  analysis starts from (counter increases per series and bucket, gauge means).
Every side answers the same canonical question, so the answers are checked equal before a ratio is
printed: the service's request count over `[T − 3W, T)` (the sum of its `inference_requests_total`
increases; a drop is a counter reset). The onepane sides read it, after the timed call, from the
request-rate series that what-changed's own reader (`signals.technical`) builds over that range; the
duckdb side from its query's rows. Each child also records the CPU seconds of its timed work
(`time.process_time`, DuckDB's threads included), so a loaded machine shows in wall, not in CPU.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import sides  # noqa: E402
from metrics.lake import Load  # noqa: E402
from metrics.store import Store  # noqa: E402

log = logging.getLogger("benchmarks.what_changed")

DAYS = 30
SERVICES = ("ranker", "chat", "vision")
LE = ("0.1", "0.25", "0.5", "1.0", "2.5", "+Inf")
START = datetime(2026, 10, 1, tzinfo=timezone.utc)
WINDOWS = {"10m": timedelta(minutes=10), "1h": timedelta(hours=1), "1d": timedelta(days=1),
           "7d": timedelta(days=7)}
LOOKBACK = timedelta(minutes=10)       # as wc_telemetry: a counter's value before the range


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


# one query: the range of the service (and every GPU series), de-duplicated as stg_telemetry is, with
# per-series counter increases (a drop is a reset) and per-bucket aggregates
BASELINE_SQL = """
WITH s AS (
    SELECT sampled_at, metric, labels, labels_hash, value, series_start
    FROM raw_telemetry
    WHERE sampled_at >= $lookback::TIMESTAMPTZ AND sampled_at < $end::TIMESTAMPTZ
      AND (service = $service OR metric LIKE 'DCGM%')
    QUALIFY row_number() OVER (PARTITION BY metric, labels_hash, sampled_at
                               ORDER BY _loaded_at DESC, _load_id DESC) = 1
),
inc AS (
    SELECT *, CASE WHEN lag(value) OVER w IS NULL THEN (CASE WHEN series_start THEN value ELSE 0 END)
                   WHEN value >= lag(value) OVER w THEN value - lag(value) OVER w
                   ELSE value END AS delta
    FROM s WINDOW w AS (PARTITION BY metric, labels_hash ORDER BY sampled_at)
)
SELECT floor((epoch(sampled_at) - $origin) / $step)::BIGINT AS b, metric,
       json_extract_string(labels, '$.le') AS le, json_extract_string(labels, '$.status') AS status,
       sum(delta) AS delta, avg(value) AS mean
FROM inc
WHERE sampled_at >= $start::TIMESTAMPTZ
GROUP BY ALL
"""


def _setup(args):
    from metrics.config import load_settings
    from metrics.times import parse_time

    cfg = load_settings(args.config) if args.config else None
    store = Store(args.db).ensure()
    return store, cfg, parse_time(args.at), WINDOWS[args.window]


def _requests_read_by_onepane(store, cfg, service: str, at: datetime, window: timedelta) -> float:
    """The service's request count over [T − 3W, T) from what-changed's reader (signals.technical),
    with buckets of whole sampling intervals as the analysis makes them."""
    from metrics.analysis import signals as S
    from metrics.analysis.signals import Frame, dt

    T, w = at.timestamp(), window.total_seconds()
    span = store.query(S.sql("wc_span"), {"service": service, "start": dt(T - 3 * w), "end": dt(T)})
    natives = [x for x in span["native_s"].to_list() if x is not None and x > 0]
    step = max(w / 40, 5.0)
    if natives:
        step = min(natives) * max(1, int(np.ceil(step / min(natives) - 1e-9)))
    fr = Frame(T - 3 * w, T, step)
    rate = next(s for s in S.technical(store, cfg, service, fr) if s.kind == "request_rate" and s.subject == service)
    return float(np.nansum(rate.v) * step)


def _answer(n: float) -> dict:
    return {"requests": int(round(n))}


def side_onepane(args):
    from metrics.analysis.what_changed import what_changed

    store, cfg, at, window = _setup(args)
    every = args.side.endswith("/all")
    cpu = {}

    def work():
        c0 = time.process_time()
        items = what_changed(store, None if every else args.service, at, window, config=cfg)
        cpu["s"] = time.process_time() - c0
        return items

    def finish(items):
        _cpu_log(args, cpu["s"], len(items))
        return _answer(_requests_read_by_onepane(store, cfg, args.service, at, window))
    return work, finish


def side_duckdb(args):
    store, cfg, at, window = _setup(args)
    w = window.total_seconds()
    params = {"origin": at.timestamp() - 3 * w, "step": w / 40, "service": args.service,
              "lookback": at - 3 * window - LOOKBACK, "start": at - 3 * window, "end": at}
    cpu = {}

    def work():
        c0 = time.process_time()
        df = store.query(BASELINE_SQL, params)
        cpu["s"] = time.process_time() - c0
        return df

    def finish(df):
        _cpu_log(args, cpu["s"], df.height)
        return _answer(df.filter(pl.col("metric") == "inference_requests_total")["delta"].sum())
    return work, finish


def _cpu_log(args, cpu_s: float, n: int) -> None:
    if args.cpu_log:
        with open(args.cpu_log, "a") as f:
            f.write(json.dumps({"side": args.side, "window": args.window, "cpu_s": cpu_s, "n": n}) + "\n")


SIDES = {"onepane/service": side_onepane, "onepane/all": side_onepane, "duckdb": side_duckdb}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db")
    ap.add_argument("--config", help="onepane.toml of the store (the demo's), passed to what_changed")
    ap.add_argument("--service", default="ranker")
    ap.add_argument("--at")
    ap.add_argument("--windows", default=",".join(WINDOWS))
    ap.add_argument("--window", help="internal: the window of one side's run")
    ap.add_argument("--cpu-log", help="internal: where children record their CPU seconds")
    ap.add_argument("--keep", help="build the synthetic store at this path and keep it")
    sides.add_arguments(ap)
    args = ap.parse_args()
    if args.side:
        return sides.child(SIDES, args)
    tmp = None
    if not args.db:
        tmp = None if args.keep else tempfile.TemporaryDirectory()
        db = Path(args.keep or Path(tmp.name) / "bench.duckdb")
        t0 = time.perf_counter()
        build(Store(db).ensure())
        print(f"built store in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        args.db, args.at = str(db), (START + timedelta(days=DAYS)).isoformat()
    cpu_log = Path(tempfile.mkdtemp()) / "cpu.jsonl"
    out = {"db": Path(args.db).name, "service": args.service, "at": args.at, "runs": args.runs, "windows": {}}
    for name in args.windows.split(","):
        argv = ["--db", args.db, "--service", args.service, "--at", args.at, "--window", name,
                "--cpu-log", str(cpu_log)] + (["--config", args.config] if args.config else [])
        res = sides.compare(__file__, list(SIDES), argv, runs=args.runs)
        cpu = [json.loads(x) for x in cpu_log.read_text().splitlines()]
        cpu = {s: [c["cpu_s"] for c in cpu if c["side"] == s and c["window"] == name] for s in SIDES}
        best = {s: res["sides"][s]["best_s"] for s in SIDES}
        out["windows"][name] = {
            "answer": res["answer"],
            "one_service_s": round(best["onepane/service"], 3), "all_services_s": round(best["onepane/all"], 3),
            "duckdb_s": round(best["duckdb"], 3),
            "one_service_vs_duckdb": round(sides.ratio(res, "onepane/service", "duckdb"), 2),
            "all_services_vs_duckdb": round(sides.ratio(res, "onepane/all", "duckdb"), 2),
            "cpu_best_s": {s: round(min(v), 3) for s, v in cpu.items()},
            "cpu_median_s": {s: round(statistics.median(v), 3) for s, v in cpu.items()},
        }
        print(json.dumps({name: out["windows"][name]}), file=sys.stderr, flush=True)
    try:
        import os

        out["load_average_1m_at_end"] = round(os.getloadavg()[0], 1)
    except OSError:
        pass
    print(json.dumps(out, indent=1))
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
