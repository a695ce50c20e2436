"""Benchmark: the page queries on DuckDB and on ClickHouse's engine in-process (chdb), as ratios.

    nice .venv/bin/python benchmarks/engines.py [--line-items 2000000] [--requests 200000]
        [--samples 0] [--rounds 3] [--repeat 3] [--db STORE] [--first duckdb|chdb]

1. Builds a store of generated FOCUS line items (tests/engines_lake.py: four months, five
   services and an untagged share, two currencies, a restated month) and request-log rows,
   through the real loader (metrics.lake.Load); with `--samples`, telemetry samples too (request
   counters per status code with resets and a gauge, every 15 s), and the telemetry reads below
   are timed as well (requests_daily then reads the counters: stg_telemetry_delta).
   The build is vectorised end to end: every month is one `range()` query written by the lake's
   own writer (Load.write_query: DuckDB COPY ... PARTITION_BY into the lake's Parquet layout), so
   20M line items take minutes, not hours (no Python row loop, no per-row ingest).
2. Each side runs in a fresh Python process (`--side duckdb|chdb`), the sides alternating for
   `--rounds` rounds as in benchmarks/sides.py (round 0 DuckDB first, round 1 chdb first, ...); a
   process times every query once cold (the chdb view set-up is timed apart) and then `--repeat`
   warm runs, wall and CPU time (time.process_time: every thread of the process, so chdb's and
   DuckDB's worker threads count), and writes each result to Parquet: the answers of every run
   are checked equal to the first DuckDB run's within 1e-9 relative (metrics.engines.compare).
   Each side's JSON is also kept in the results folder as it finishes (`side-*.json`), so a run
   stopped half way keeps what it measured; progress goes to stderr.
3. Prints one JSON object: per query, best warm wall and CPU seconds per engine, chdb / DuckDB for
   both, and each side's peak RSS (VmHWM of its process).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE_QUERIES = ["cost_daily", "cost_invoiced", "unit_cost_daily", "requests_daily", "service_cost",
                "service_month", "data_range", "services_known"]
TELEMETRY_QUERIES = ["service_technical", "telemetry_versions", "telemetry_window_older", "freshness",
                     "service_technical@day", "requests_daily@day"]   # @day: the last day only


def _names(samples: bool) -> list[str]:
    return PAGE_QUERIES + (TELEMETRY_QUERIES if samples else [])


def _params(store, name: str = ""):
    """A page's parameters over the whole range (service ranker); `name@day`: the last day of
    telemetry (the generated samples may end before the bills and request logs do)."""
    from datetime import timedelta

    from metrics.engines.compare import _data_range, _params as page_params

    p = page_params(_data_range(store), "ranker")
    if name.endswith("@day"):
        last = store.query("SELECT max(sampled_at) AS t FROM raw_telemetry")["t"][0]
        p.update(start=last - timedelta(days=1), end=last + timedelta(seconds=1))
    return p


def side(db: str, which: str, out_dir: str, samples: bool = False, repeat: int = 3) -> dict:
    import re

    from metrics import queries
    from metrics.engines.clickhouse import ChdbEngine
    from metrics.engines.compare import _with_window
    from metrics.store import Store

    store = Store(db)
    t0 = time.perf_counter()
    engine = ChdbEngine(store) if which == "chdb" else None
    setup = time.perf_counter() - t0
    out = {"setup_s": setup, "queries": {}}
    for name in _names(samples):
        p = _params(store, name)
        sql = _with_window(queries._drop_unused(queries.sql_text(name.split("@")[0]), p))   # `_window` as a subquery
        code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
        pp = {k: v for k, v in p.items() if k in set(re.findall(r"\$([a-z_0-9]+)", code))}
        times, cpus, frame = [], [], None
        for _ in range(1 + repeat):              # the first is cold; the best of the others counts
            t, c = time.perf_counter(), time.process_time()
            frame = engine.query(sql, pp) if engine else store.query(sql, pp or None)
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        path = Path(out_dir) / f"{which}-{time.time_ns()}-{name}.parquet"
        frame.write_parquet(path)
        warm, warm_cpu = times[1:] or times, cpus[1:] or cpus      # --repeat 0: the cold run counts
        out["queries"][name] = {"cold_s": times[0], "best_s": min(warm), "cold_cpu_s": cpus[0],
                                "best_cpu_s": min(warm_cpu), "rows": frame.height, "result": str(path)}
        print(f"{which} {name}: cold {times[0]:.2f} s (cpu {cpus[0]:.2f} s), best {min(warm):.2f} s "
              f"(cpu {min(warm_cpu):.2f} s)", file=sys.stderr, flush=True)
    if engine:
        engine.close()
    from benchmarks.sides import _vmhwm_mib

    out["peak_rss_mib"] = _vmhwm_mib()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--line-items", type=int, default=2_000_000)
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--samples", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3,
                    help="warm runs per query after the cold one (0: the cold run is the figure)")
    ap.add_argument("--db", default=None, help="reuse a store built by an earlier run")
    ap.add_argument("--side", choices=["duckdb", "chdb"], default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--first", choices=["duckdb", "chdb"], default="duckdb",
                    help="the side that runs first in round 0 (then they alternate)")
    a = ap.parse_args()
    if a.side:
        print(json.dumps(side(a.db, a.side, a.out, a.samples > 0, a.repeat)))
        return
    import polars as pl

    from metrics.engines.compare import TOLERANCE, max_rel_diff

    out_dir = tempfile.mkdtemp(prefix="onepane-engines-results-")
    if a.db:
        db = a.db
    else:
        from tests.engines_lake import build

        folder = Path(tempfile.mkdtemp(prefix="onepane-engines-"))
        t = time.perf_counter()
        db = str(build(folder, a.line_items, a.requests, a.samples).db_path)
        print(f"built {a.line_items} line items, {a.samples} samples in {time.perf_counter() - t:.1f} s: {db}",
              file=sys.stderr, flush=True)
    runs: dict[str, list[dict]] = {"duckdb": [], "chdb": []}
    for r in range(a.rounds):
        order = ("duckdb", "chdb") if (r % 2 == 0) == (a.first == "duckdb") else ("chdb", "duckdb")
        for which in order:                                                       # alternating
            proc = subprocess.run([sys.executable, __file__, "--db", db, "--side", which, "--out", out_dir,
                                   "--samples", str(a.samples), "--repeat", str(a.repeat)],
                                  stdout=subprocess.PIPE, text=True, check=True)
            runs[which].append(json.loads(proc.stdout))
            (Path(out_dir) / f"side-{r}-{which}.json").write_text(proc.stdout)
    table = {}
    for name in _names(a.samples > 0):
        d = min(x["queries"][name]["best_s"] for x in runs["duckdb"])
        c = min(x["queries"][name]["best_s"] for x in runs["chdb"])
        dc = min(x["queries"][name]["best_cpu_s"] for x in runs["duckdb"])
        cc = min(x["queries"][name]["best_cpu_s"] for x in runs["chdb"])
        first = pl.read_parquet(runs["duckdb"][0]["queries"][name]["result"])
        diff = max(max_rel_diff(first, pl.read_parquet(x["queries"][name]["result"]))
                   for x in runs["duckdb"] + runs["chdb"])
        table[name] = {"duckdb_s": round(d, 4), "chdb_s": round(c, 4), "chdb_over_duckdb": round(c / d, 2),
                       "duckdb_cpu_s": round(dc, 4), "chdb_cpu_s": round(cc, 4),
                       "chdb_over_duckdb_cpu": round(cc / dc, 2),
                       "rows": runs["duckdb"][0]["queries"][name]["rows"], "max_rel_diff": diff, "equal": diff <= TOLERANCE}
    print(json.dumps({"line_items": a.line_items, "requests": a.requests, "samples": a.samples, "rounds": a.rounds,
                      "repeat": a.repeat, "order": "alternating",
                      "chdb_view_setup_s": round(min(x["setup_s"] for x in runs["chdb"]), 3),
                      "peak_rss_mib": {w: max(x["peak_rss_mib"] or 0 for x in runs[w]) for w in runs},
                      "queries": table}, indent=1))
    if not all(v["equal"] for v in table.values()):
        raise SystemExit("answers differ between the engines (see max_rel_diff): no ratio holds")


if __name__ == "__main__":
    main()
