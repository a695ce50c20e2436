"""Benchmark: validating and reshaping a KPI file (collectors.kpi.parse_kpis: time parsing, number,
negative, duplicate and service checks, line numbers) against polars.read_csv of the same file
with no validation at all (a lower bound). Reports a ratio.

    nice .venv/bin/python benchmarks/ledger_kpi_parse.py [--rows 200000]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from collectors.kpi import parse_kpis
from metrics.config import parse_settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    a = ap.parse_args()
    cfg = parse_settings({"services": [{"name": f"s{i}", "model_versions": ["v1", "v2"]} for i in range(3)]})
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "k.csv"
        start = datetime(2026, 1, 1)
        with open(p, "w") as fh:
            fh.write("time,service,model_version,kpi,value\n")
            for i in range(a.rows):
                fh.write(f"{(start + timedelta(hours=i // 24)).isoformat()}Z,s{i % 3},v{1 + (i // 3) % 2},"
                         f"k{(i // 6) % 4},{i % 97}\n")
        parse_kpis(p, cfg)                      # warm-up: imports
        best_ours = best_ref = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            out, _ = parse_kpis(p, cfg)
            best_ours = min(best_ours, time.perf_counter() - t0)
            t0 = time.perf_counter()
            ref = pl.read_csv(p)
            best_ref = min(best_ref, time.perf_counter() - t0)
        assert out.height == ref.height == a.rows
        print(f"rows={a.rows:,}")
        print(f"parse_kpis (validated, typed, traced): best {best_ours:.3f}s")
        print(f"polars.read_csv (no validation):       best {best_ref:.3f}s")
        print(f"ratio = {best_ours / best_ref:.1f}")


if __name__ == "__main__":
    main()
