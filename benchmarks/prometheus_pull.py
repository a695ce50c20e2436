"""Benchmark: pull 30 days x 50 series at a 1-minute step from a real Prometheus.

Generates an OpenMetrics file of that size (10 GPUs x 3 DCGM series + 10 model versions x 2 service
series = 50 series, 43,200 points each), backfills a TSDB with `promtool tsdb create-blocks-from
openmetrics`, starts `prometheus` on 127.0.0.1 (retention 100y), then times in one run:

- onepane: `collectors.prometheus.collect` through prometheus-api-client (split into requests of
  <= 11,000 points, 5 in flight, retries) and the all-or-nothing Parquet load into a fresh store,
  with a tqdm progress bar on stderr;
- baseline: the same range queries sent one by one with plain `requests`, JSON parsed into one
  pandas DataFrame (no load, no store).

Each side runs as a fresh process per run, the sides alternate (--runs, default 3), and both must
return the same points and series before the ratio is printed (benchmarks/sides.py).
Target: onepane <= 60 s on the 2-core machine. Run niced:  nice -n 10 .venv/bin/python benchmarks/prometheus_pull.py
Options: --days N --gpus N --versions N (defaults 30, 10, 10) --keep DIR.
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sides  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=timezone.utc)        # a fixed past month: reproducible


def generate(path: Path, days: int, gpus: int, versions: int) -> int:
    """Write the OpenMetrics file; returns the number of samples."""
    rng = random.Random(7)
    start = int((END - timedelta(days=days)).timestamp())
    n = days * 1440
    ts = [start + 60 * i for i in range(n)]
    samples = 0
    with open(path, "w") as fh:
        def family(name: str, typ: str, series: list[tuple[str, list[float]]]):
            nonlocal samples
            fh.write(f"# TYPE {name} {typ}\n")
            sample = name + "_total" if typ == "counter" else name
            for labels, values in series:
                prefix = f"{sample}{{{labels}}} "
                fh.write("".join(f"{prefix}{v} {t}\n" for v, t in zip(values, ts)))
                samples += len(values)

        def walk(lo, hi):
            x, out = (lo + hi) / 2, []
            for _ in range(n):
                x = min(hi, max(lo, x + rng.uniform(-3, 3)))
                out.append(round(x, 1))
            return out

        def counter(rate):
            x, out = 0.0, []
            for _ in range(n):
                x += rng.randint(0, rate)
                out.append(x)
            return out

        gl = [f'Hostname="node-{g // 8}",UUID="GPU-{g:04d}",gpu="{g % 8}"' for g in range(gpus)]
        family("DCGM_FI_DEV_GPU_UTIL", "gauge", [(lb, walk(0, 100)) for lb in gl])
        family("DCGM_FI_DEV_POWER_USAGE", "gauge", [(lb, walk(80, 700)) for lb in gl])
        family("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "gauge", [(lb, counter(40000)) for lb in gl])
        vl = [f'model_version="v{v}",service="bench",status="200"' for v in range(versions)]
        family("inference_requests", "counter", [(lb, counter(50)) for lb in vl])
        ql = [f'model_version="v{v}",service="bench"' for v in range(versions)]
        family("inference_queue_depth", "gauge", [(lb, walk(0, 20)) for lb in ql])
        fh.write("# EOF\n")
    return samples


def fetch_baseline(url: str, plan: list[tuple[str, datetime, datetime]], step: str) -> list:
    import pandas as pd
    import requests

    frames = []
    with requests.Session() as s:
        for expr, a, b in plan:
            r = s.get(f"{url}/api/v1/query_range", params={"query": expr, "start": int(a.timestamp()),
                                                           "end": int(b.timestamp()), "step": step}, timeout=120)
            r.raise_for_status()
            for series in r.json()["data"]["result"]:
                df = pd.DataFrame(series["values"], columns=["t", "value"])
                df["value"] = df["value"].astype(float)
                df["labels"] = str(series["metric"])
                frames.append(df)
    return frames


def _plan(a):
    from collectors.prometheus import PromSettings, _align_up, chunks, queries_of

    settings = PromSettings(url=a.url, step="60s", timeout_s=120)
    start, end = END - timedelta(days=a.days), END
    plan = [(q.expr, x, y) for _, q in queries_of(settings)
            for x, y in chunks(_align_up(start, 60), end - timedelta(seconds=60), 60, 11_000)]
    return settings, start, end, plan


def onepane_side(a):
    """collectors.prometheus through the runner into a fresh store (left in --work for the summary)."""
    import uuid

    from tqdm import tqdm

    from collectors.registry import get
    from collectors.runner import run_source
    from metrics.config import Settings
    from metrics.store import Store

    settings, start, end, _ = _plan(a)
    store = Store(Path(a.work) / "onepane" / f"{uuid.uuid4().hex[:8]}.duckdb").ensure()
    bar = tqdm(desc="prometheus pull", unit="req", file=sys.stderr)

    def work():
        return run_source(store, Settings(), get("prometheus"), "bench", settings, start, end, progress=bar)

    def finish(result):
        bar.close()
        if not result.ok:
            raise SystemExit(f"collect failed: {result.error}")
        n, series = store.query("SELECT count(*) n, count(DISTINCT metric || labels_hash) s FROM raw_telemetry").row(0)
        return {"points": int(n), "series": int(series)}
    return work, finish


def baseline_side(a):
    """The same range queries one by one with plain requests, JSON into pandas (no load, no store)."""
    import pandas  # noqa: F401 - imported before the clock starts, as the onepane side's are
    import requests  # noqa: F401

    _, _, _, plan = _plan(a)
    return (lambda: fetch_baseline(a.url, plan, "60s")), lambda frames: {
        "points": sum(len(f) for f in frames), "series": len({f["labels"].iloc[0] for f in frames if len(f)})}


SIDES = {"onepane": onepane_side, "baseline": baseline_side}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--gpus", type=int, default=10)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--keep", default=None, help="work folder to keep (default: a temp folder)")
    ap.add_argument("--url", default=None, help="internal: the running Prometheus (for --side)")
    ap.add_argument("--work", default=None, help="internal: the work folder (for --side)")
    sides.add_arguments(ap)
    args = ap.parse_args()
    if args.side:
        return sides.child(SIDES, args)

    from metrics.config import Settings
    from metrics.store import Store
    from tests.prom_helpers import prometheus_from_openmetrics

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="onepane-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    om = work / "bench.om"
    t = time.perf_counter()
    samples = generate(om, args.days, args.gpus, args.versions)
    series = args.gpus * 3 + args.versions * 2
    print(f"generated {samples:,} samples ({series} series) in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    t = time.perf_counter()
    with prometheus_from_openmetrics([om], work / "prom", block_duration="744h") as prom:
        print(f"backfilled and started prometheus in {time.perf_counter() - t:.1f}s at {prom.url}",
              file=sys.stderr)
        # each side a fresh process per run, alternating; equal points and series required
        res = sides.compare(__file__, list(SIDES), ["--url", prom.url, "--days", str(args.days),
                                                     "--work", str(work)], runs=args.runs)
        onepane_s, base_s = res["sides"]["onepane"]["best_s"], res["sides"]["baseline"]["best_s"]
        store = Store(next((work / "onepane").glob("*.duckdb")))
        from metrics.telemetry import telemetry_summary

        t = time.perf_counter()
        summary = telemetry_summary(store, Settings(), "bench")
        summary_s = time.perf_counter() - t
    print(f"onepane collect: best {onepane_s:.1f} s of {args.runs}, {res['answer']['points']:,} points "
          f"({res['answer']['series']} series) loaded into the store")
    print(f"baseline (requests + pandas, sequential, no load): best {base_s:.1f} s, the same points")
    print(f"ratio onepane/baseline: {onepane_s / base_s:.2f}x; target <= 60 s: "
          f"{'met' if onepane_s <= 60 else 'MISSED'}")
    print(f"telemetry summary over the {res['answer']['points']:,} stored points: {summary_s:.1f} s "
          f"({len(summary['versions'])} versions)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
