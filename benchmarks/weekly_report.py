"""Benchmark: the weekly pack for the 90-day demo, as a ratio to the page queries it reuses.

    nice .venv/bin/python benchmarks/weekly_report.py --db demo-data/onepane.duckdb [--week 2026-W48]

Baseline: the same public-API calls the app's pages make for that week, run one after the other
(unit economics of the week and the week before, cost per 1k tokens, marginal cost per bp per
service, what changed over 7 days per service, budgets with the month-end forecast, SLOs, cost
anomalies, freshness, model health and the daily unit cost per service). The pack: `build_report`
(the same calls plus sentences, plotly charts and the self-contained HTML). Both run on fresh
processes (one per run), alternating, `--runs` times; the best of each is reported, once both sides
gave the same answer (the service budgets' month-end forecasts; benchmarks/sides.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics.api import Onepane  # noqa: E402
from metrics.review import build_report  # noqa: E402

import sides  # noqa: E402


def page_queries(op: Onepane, week) -> list:
    at = week.end
    prev = week.previous()
    for w in (week, prev):
        op.unit_economics(w.start, w.end)
        op.token_economics(w.start, w.end)
    budgets = op.budgets(at)
    op.slos(at)
    op.cost_anomalies(week.start - timedelta(days=35), week.end)
    op.freshness()
    for s in op.services():
        op.marginal_cost(s)
        op.what_changed(s, at=at, window=timedelta(days=7))
        op.model_health(s, prev.start, week.end)
        op.daily_unit_cost(prev.start, week.end, [s])
        op.decisions(service=s, since=week.start)
    return [b for b in budgets if b["level"] == "service"]


def _answer(budgets: list) -> list:
    """Both sides' service budgets: name, month and forecast to the cent."""
    return sorted([b["name"], b["month"], f"{float(b['forecast']):.2f}"] for b in budgets)


def _open(a):
    config = a.config or str(Path(a.db).parent / "onepane.toml")
    now = datetime.fromisoformat(a.now)
    op = Onepane(a.db, config, as_of=now)
    return op, (op.week(a.week) if a.week else op.week()), now


def pages_side(a):
    op, week, _ = _open(a)
    return (lambda: page_queries(op, week)), _answer


def pack_side(a):
    op, week, now = _open(a)
    return (lambda: build_report(op, week, generated_at=now)), lambda r: _answer(
        [b for s in r[0]["services"] for b in s["budgets"]])


SIDES = {"pages": pages_side, "pack": pack_side}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--config", default=None)
    ap.add_argument("--week", default=None)
    ap.add_argument("--now", default=None, help="the clock both sides use (default: now)")
    sides.add_arguments(ap)
    a = ap.parse_args()
    if a.side:
        return sides.child(SIDES, a)
    now = a.now or datetime.now(timezone.utc).isoformat()
    argv = ["--db", a.db, "--now", now] + (["--config", a.config] if a.config else []) + (
        ["--week", a.week] if a.week else [])
    res = sides.compare(__file__, list(SIDES), argv, runs=a.runs)
    base, pack = res["sides"]["pages"]["best_s"], res["sides"]["pack"]["best_s"]
    out = {"page_queries_s": round(base, 2), "pack_s": round(pack, 2), "ratio": round(pack / base, 2),
           "answer_budgets": len(res["answer"]), "load_average": round(os.getloadavg()[0], 1),
           "runs": a.runs}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
