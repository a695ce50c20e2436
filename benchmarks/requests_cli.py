"""Benchmark: `onepane ingest requests FILE` end to end against `python -c 'import duckdb; COPY
(SELECT * FROM read_csv(FILE)) TO ... (FORMAT parquet)'`, each a whole fresh process.

    nice .venv/bin/python benchmarks/requests_cli.py FILE [--runs 3]

Unlike benchmarks/telemetry_scale.py (which times the ingest alone, after each side's imports),
this counts everything a user waits for: interpreter start-up, imports, the CLI, the ingest.
CPU = user + system time of the child (wait4); the store is created (`onepane init`) beforehand,
untimed. Sides alternate; best of --runs; prints the ratio line and the load average.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(cmd: list[str], cwd: str) -> tuple[float, float, float]:
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {cmd}")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - t, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    data = str(Path(a.file).resolve())
    onepane = str(Path(sys.executable).parent / "onepane")
    got: dict[str, list[tuple[float, float, float]]] = {"onepane": [], "duckdb": []}
    for r in range(a.runs):
        for side in (["onepane", "duckdb"] if r % 2 == 0 else ["duckdb", "onepane"]):
            d = tempfile.mkdtemp()
            try:
                if side == "onepane":
                    subprocess.run([onepane, "init", "--db", f"{d}/s.duckdb"], check=True,
                                   stdout=subprocess.DEVNULL, cwd=d)
                    cmd = [onepane, "ingest", "requests", data, "--db", f"{d}/s.duckdb"]
                else:
                    q = f"COPY (SELECT * FROM read_csv('{data}')) TO '{d}/b.parquet' (FORMAT parquet)"
                    cmd = [sys.executable, "-c", f"import duckdb; duckdb.connect().execute({q!r})"]
                got[side].append(_run(cmd, d))
            finally:
                shutil.rmtree(d, ignore_errors=True)
    best = {s: (min(x[0] for x in v), min(x[1] for x in v), max(x[2] for x in v)) for s, v in got.items()}
    for s, (cpu, wall, rss) in best.items():
        print(f"{s}: best CPU {cpu:.3f} s, best wall {wall:.3f} s, peak RSS {rss:.0f} MiB")
    print(f"CPU ratio {best['onepane'][0] / best['duckdb'][0]:.2f}x, wall ratio "
          f"{best['onepane'][1] / best['duckdb'][1]:.2f}x, load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
