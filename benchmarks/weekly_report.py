"""Benchmark: the weekly pack for the 90-day demo, as a ratio to the page queries it reuses.

    nice .venv/bin/python benchmarks/weekly_report.py --db demo-data/onepane.duckdb [--week 2026-W48]

Baseline: the same public-API calls the app's pages make for that week, run one after the other
(unit economics of the week and the week before, cost per 1k tokens, marginal cost per bp per
service, what changed over 7 days per service, budgets with the month-end forecast, SLOs, cost
anomalies, freshness, model health and the daily unit cost per service). The pack: `build_report`
(the same calls plus sentences, plotly charts and the self-contained HTML). Both run on fresh
processes: each measurement is a new `python benchmarks/weekly_report.py --side S` (imports, DuckDB
and the OS page cache as a scheduled run finds them, no warm caches carried from the other side),
alternating baseline, pack, pack, baseline, ... `--repeat` times each; the best of each side is
reported with the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics.api import Onepane  # noqa: E402
from metrics.review import build_report  # noqa: E402
from metrics.times import utcnow  # noqa: E402


def page_queries(op: Onepane, week) -> None:
    at = week.end
    prev = week.previous()
    for w in (week, prev):
        op.unit_economics(w.start, w.end)
        op.token_economics(w.start, w.end)
    op.budgets(at)
    op.slos(at)
    op.cost_anomalies(week.start - timedelta(days=35), week.end)
    op.freshness()
    for s in op.services():
        op.marginal_cost(s)
        op.what_changed(s, at=at, window=timedelta(days=7))
        op.model_health(s, prev.start, week.end)
        op.daily_unit_cost(prev.start, week.end, [s])
        op.decisions(service=s, since=week.start)


def one_side(a) -> None:
    """Time one side once in this (fresh) process and print its seconds as JSON."""
    config = a.config or str(Path(a.db).parent / "onepane.toml")
    now = utcnow()
    op = Onepane(a.db, config, as_of=now)
    week = op.week(a.week) if a.week else op.week()
    t = time.perf_counter()
    if a.side == "baseline":
        page_queries(op, week)
        extra = {}
    else:
        _, html = build_report(op, week, generated_at=now)
        extra = {"html_bytes": len(html)}
    print(json.dumps({"side": a.side, "week": week.label, "s": time.perf_counter() - t, **extra}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--config", default=None)
    ap.add_argument("--week", default=None)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--side", choices=("baseline", "pack"), default=None,
                    help="(internal) time one side in this process")
    a = ap.parse_args()
    if a.side:
        return one_side(a)
    args = [sys.executable, __file__, "--db", a.db] + (["--config", a.config] if a.config else []) \
        + (["--week", a.week] if a.week else [])
    times: dict[str, list[float]] = {"baseline": [], "pack": []}
    info: dict = {}
    for i in range(a.repeat):
        order = ("baseline", "pack") if i % 2 == 0 else ("pack", "baseline")
        for side in order:
            r = subprocess.run(args + ["--side", side], capture_output=True, text=True, check=True)
            got = json.loads(r.stdout.strip().splitlines()[-1])
            times[side].append(got["s"])
            info |= {k: v for k, v in got.items() if k in ("week", "html_bytes")}
    base, pack = min(times["baseline"]), min(times["pack"])
    out = {**info, "page_queries_s": round(base, 2), "pack_s": round(pack, 2), "ratio": round(pack / base, 2),
           "load_average": round(os.getloadavg()[0], 1), "repeat": a.repeat, "fresh_process_per_side": True,
           "runs_s": {k: [round(x, 2) for x in v] for k, v in times.items()}}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
