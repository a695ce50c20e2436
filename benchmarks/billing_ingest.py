"""Billing ingest benchmark: onepane vs DuckDB's own readers vs pandas, as ratios in one run.

    nice python benchmarks/billing_ingest.py [--rows 10000000] [--csv /tmp/focus.csv] [--runs 2]

Generates (once) a FOCUS CSV with a JSON Tags column with ../shared/tools/gen_focus.py under the
system temp folder (never in the repository) and a Parquet copy of it. Every side runs in its own
fresh process (wall time and peak RSS from wait4), the sides alternate, and the best of the runs of
each side is compared:

- onepane_csv      `ingest_file` into a fresh store: content hash, parse/cast every column,
                   tag normalization, allocation-key extraction (default keys), scopes, Parquet
- duckdb_csv       CREATE TABLE t AS SELECT * FROM read_csv(file) in a DuckDB database file
- duckdb_csv_mem   the same into an in-memory database (for information)
- pandas_csv       pandas.read_csv(file)
- onepane_parquet  `ingest_file` of the Parquet copy
- duckdb_parquet   CREATE TABLE t AS SELECT * FROM read_parquet(file) in a DuckDB database file

Targets (issue 4): onepane_csv <= 1.3x duckdb_csv time and <= 1.2x its peak memory, <= 0.45x
pandas time; onepane_parquet <= 1.1x duckdb_parquet time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT.parent / "shared" / "tools" / "gen_focus.py"

SIDES = {
    "onepane_csv": """
from pathlib import Path
from metrics.store import Store
from collectors.billing.ingest import ingest_file
s = Store(Path(WORK) / 'o.duckdb').ensure()
r = ingest_file(s, Path(CSV))
assert r['rows'] == ROWS, r
""",
    "duckdb_csv": """
import duckdb
con = duckdb.connect(WORK + '/d.duckdb')
con.execute('SET enable_progress_bar = false')
con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{CSV}')")
assert con.execute('SELECT count(*) FROM t').fetchone()[0] == ROWS
con.close()
""",
    "duckdb_csv_mem": """
import duckdb
con = duckdb.connect()
con.execute('SET enable_progress_bar = false')
con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{CSV}')")
assert con.execute('SELECT count(*) FROM t').fetchone()[0] == ROWS
""",
    "pandas_csv": """
import pandas as pd
df = pd.read_csv(CSV)
assert len(df) == ROWS
""",
    "onepane_parquet": """
from pathlib import Path
from metrics.store import Store
from collectors.billing.ingest import ingest_file
s = Store(Path(WORK) / 'o.duckdb').ensure()
r = ingest_file(s, Path(PARQUET))
assert r['rows'] == ROWS, r
""",
    "duckdb_parquet": """
import duckdb
con = duckdb.connect(WORK + '/d.duckdb')
con.execute('SET enable_progress_bar = false')
con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{PARQUET}')")
assert con.execute('SELECT count(*) FROM t').fetchone()[0] == ROWS
con.close()
""",
}


def run_side(name: str, csv: Path, parquet: Path, rows: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one side in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="bench-billing-") as work:
        code = (f"WORK={work!r}; CSV={str(csv)!r}; PARQUET={str(parquet)!r}; ROWS={rows}\n"
                + SIDES[name])
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"side {name} failed with exit code {proc.returncode}")
        return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--csv", type=Path, default=None, help="existing generated CSV (else generated)")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    csv = args.csv or Path(tempfile.gettempdir()) / f"onepane-bench-focus-{args.rows}.csv"
    if not csv.exists():
        subprocess.run([sys.executable, str(GEN), str(csv), str(args.rows)], check=True)
    parquet = csv.with_suffix(".parquet")
    if not parquet.exists():
        import duckdb
        duckdb.connect().execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{parquet}' (FORMAT parquet)")
    sides = args.sides.split(",")
    results: dict[str, list[tuple[float, float]]] = {s: [] for s in sides}
    for run in range(args.runs):
        for side in (sides if run % 2 == 0 else list(reversed(sides))):   # alternate the order
            t, mem = run_side(side, csv, parquet, args.rows)
            results[side].append((t, mem))
            print(f"run {run + 1} {side:16s} {t:8.2f} s {mem:9.0f} MiB", flush=True)
    best = {s: (min(r[0] for r in v), min(r[1] for r in v)) for s, v in results.items() if v}

    def ratio(a, b, i):
        return best[a][i] / best[b][i] if a in best and b in best else None
    ratios = {
        "csv_time_vs_duckdb": ratio("onepane_csv", "duckdb_csv", 0),
        "csv_peak_mem_vs_duckdb": ratio("onepane_csv", "duckdb_csv", 1),
        "csv_time_vs_duckdb_in_memory": ratio("onepane_csv", "duckdb_csv_mem", 0),
        "csv_peak_mem_vs_duckdb_in_memory": ratio("onepane_csv", "duckdb_csv_mem", 1),
        "csv_time_vs_pandas": ratio("onepane_csv", "pandas_csv", 0),
        "parquet_time_vs_duckdb": ratio("onepane_parquet", "duckdb_parquet", 0),
        "parquet_peak_mem_vs_duckdb": ratio("onepane_parquet", "duckdb_parquet", 1),
    }
    print(f"\nbest of {args.runs} ({args.rows:,} rows, {csv.stat().st_size / 2**20:,.0f} MiB CSV):")
    for s, (t, m) in best.items():
        print(f"  {s:16s} {t:8.2f} s {m:9.0f} MiB")
    for k, v in ratios.items():
        if v is not None:
            print(f"  {k:34s} {v:6.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "best": best, "ratios": ratios,
                                         "runs": results}, indent=2))


if __name__ == "__main__":
    main()
