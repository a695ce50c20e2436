"""Benchmark: the weekly pack for the 90-day demo, as a ratio to the page queries it reuses.

    nice .venv/bin/python benchmarks/weekly_report.py --db demo-data/onepane.duckdb [--week 2026-W48]

Baseline: the same public-API calls the app's pages make for that week, run one after the other
(unit economics of the week and the week before, cost per 1k tokens, marginal cost per bp per
service, what changed over 7 days per service, budgets with the month-end forecast, SLOs, cost
anomalies, freshness, model health and the daily unit cost per service). The pack: `build_report`
(the same calls plus sentences, plotly charts and the self-contained HTML). Both run on fresh
connections, interleaved, `--repeat` times; the best of each is reported.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics.api import Onepane  # noqa: E402
from metrics.review import build_report  # noqa: E402


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--config", default=None)
    ap.add_argument("--week", default=None)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    config = a.config or str(Path(a.db).parent / "onepane.toml")
    now = datetime.now(timezone.utc)
    op = Onepane(a.db, config, as_of=now)
    week = op.week(a.week) if a.week else op.week()
    base, pack = [], []
    for _ in range(a.repeat):
        t = time.perf_counter()
        page_queries(op, week)
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        _, html = build_report(op, week, generated_at=now)
        pack.append(time.perf_counter() - t)
    out = {"week": week.label, "page_queries_s": round(min(base), 2), "pack_s": round(min(pack), 2),
           "ratio": round(min(pack) / min(base), 2), "html_bytes": len(html),
           "load_average": round(os.getloadavg()[0], 1), "repeat": a.repeat}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
