"""Benchmark: validating and reshaping a KPI file (collectors.kpi.parse_kpis: time parsing, number,
negative, duplicate and service checks, line numbers) against polars.read_csv of the same file
with no validation at all (a lower bound). Reports a ratio.
    nice .venv/bin/python benchmarks/ledger_kpi_parse.py [--rows 200000] [--runs 3]
Each side runs as a fresh process, the sides alternate, and both must return the same answer (rows,
sum of values, rows per service) before the ratio is printed (benchmarks/sides.py).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import sides


def _config():
    from metrics.config import parse_settings

    return parse_settings({"services": [{"name": f"s{i}", "model_versions": ["v1", "v2"]} for i in range(3)]})


def _answer(df) -> dict:
    per = {r["service"]: r["n"] for r in df.group_by("service").len(name="n").to_dicts()}
    return {"rows": df.height, "value_sum": round(float(df["value"].sum()), 6), "per_service": per}


def onepane(a):
    from collectors.kpi import parse_kpis

    cfg = _config()
    return (lambda: parse_kpis(Path(a.csv), cfg)[0]), _answer


def polars_read_csv(a):
    import polars as pl

    return (lambda: pl.read_csv(a.csv)), _answer


SIDES = {"onepane": onepane, "polars": polars_read_csv}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--csv", default=None)
    sides.add_arguments(ap)
    a = ap.parse_args()
    if a.side:
        return sides.child(SIDES, a)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "k.csv"
        start = datetime(2026, 1, 1)
        with open(p, "w") as fh:
            fh.write("time,service,model_version,kpi,value\n")
            for i in range(a.rows):
                fh.write(f"{(start + timedelta(hours=i // 24)).isoformat()}Z,s{i % 3},v{1 + (i // 3) % 2},"
                         f"k{(i // 6) % 4},{i % 97}\n")
        res = sides.compare(__file__, list(SIDES), ["--csv", str(p)], runs=a.runs)
        assert res["answer"]["rows"] == a.rows
        print(f"rows={a.rows:,}; answers equal on both sides: {res['answer']['value_sum']}")
        print(f"parse_kpis (validated, typed, traced): best {res['sides']['onepane']['best_s']:.3f}s")
        print(f"polars.read_csv (no validation):       best {res['sides']['polars']['best_s']:.3f}s")
        print(f"ratio = {sides.ratio(res, 'onepane', 'polars'):.1f}")
        print(json.dumps(res))


if __name__ == "__main__":
    main()
