"""How every benchmark compares its sides (onepane against a baseline), in one place.

- Each run of a side is a **fresh process**: `python BENCHMARK --side NAME ARGS...`. The child does
  its setup (imports, opening files), times only the work, and prints one JSON line
  `{"seconds": s, "answer": ...}` last; the parent adds the process's peak RSS (wait4).
- The sides **alternate**: run 0 goes A, B, ...; run 1 goes ..., B, A; and so on, so a machine
  that gets busier or quieter during the benchmark does not favour one side.
- Every side **does the same work** and returns its answer in the same canonical form (counts, sums
  rounded to a stated precision, sorted keys); the answers of all sides and all runs must be equal,
  or the benchmark stops without reporting a ratio.

A benchmark uses it as:

    SIDES = {"onepane": run_onepane, "duckdb": run_duckdb}     # each: (args) -> answer

    if args.side:                                   # in the child
        sides.child(SIDES, args)
    else:                                           # in the parent
        res = sides.compare(__file__, list(SIDES), argv, runs=args.runs)
        print(sides.ratio(res, "onepane", "duckdb"))
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]


def child(sides: dict[str, Callable[[Any], Any]], args: Any) -> None:
    """Run one side once in this process and print {"seconds", "answer"} as the last line.

    A side is either `(args) -> answer` (the whole call is timed) or `(args) -> (work, finish)`
    where `work()` is timed and `finish(result)` turns its result into the answer untimed."""
    fn = sides[args.side]
    out = fn(args)
    if isinstance(out, tuple) and len(out) == 2 and callable(out[0]):
        work, finish = out
        t0, c0 = time.perf_counter(), time.process_time()
        result = work()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        answer = finish(result)
    else:
        raise SystemExit(f"side {args.side} must return (work, finish)")
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "vmhwm_mib": _vmhwm_mib(), "answer": answer},
                     default=str, sort_keys=True), flush=True)


def _vmhwm_mib() -> float | None:
    """This process's peak RSS. Unlike wait4's ru_maxrss, VmHWM starts afresh at exec: ru_maxrss
    keeps the parent's size at the fork, so a big parent (one that built the store) would floor
    every side's figure."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _run(script: str, side: str, argv: list[str]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, script, "--side", side, *argv], env=env,
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"side {side} failed with exit code {code}")
    last = json.loads(out.strip().splitlines()[-1])
    return {"seconds": last["seconds"], "cpu_s": last.get("cpu_s"), "answer": last["answer"], "wall_s": wall,
            "peak_rss_mib": last.get("vmhwm_mib") or usage.ru_maxrss / 1024}


def compare(script: str, sides: list[str], argv: list[str], runs: int = 3) -> dict[str, Any]:
    """Run every side `runs` times, alternating the order; check the answers; best/median per side."""
    got: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    for r in range(runs):
        for side in (sides if r % 2 == 0 else list(reversed(sides))):
            got[side].append(_run(str(script), side, argv))
    answers = {json.dumps(x["answer"], sort_keys=True, default=str) for s in sides for x in got[s]}
    if len(answers) != 1:
        detail = {s: [x["answer"] for x in got[s]] for s in sides}
        raise SystemExit(f"the sides disagree, no ratio is reported: {json.dumps(detail, default=str)[:2000]}")
    return {"runs": runs, "order": "alternating", "answer": got[sides[0]][0]["answer"],
            "sides": {s: {"best_s": min(x["seconds"] for x in got[s]),
                          "median_s": statistics.median(x["seconds"] for x in got[s]),
                          "best_cpu_s": min(x["cpu_s"] for x in got[s]),   # CPU of this process's work
                          "peak_rss_mib": max(x["peak_rss_mib"] for x in got[s])} for s in sides}}


def ratio(res: dict[str, Any], a: str, b: str) -> float:
    """best(a) / best(b)."""
    return res["sides"][a]["best_s"] / res["sides"][b]["best_s"]


def add_arguments(ap) -> None:
    ap.add_argument("--side", default=None, help=("internal: run one side in this process "
                                                  "(the parent starts one process per run)"))
    ap.add_argument("--runs", type=int, default=3, help="runs per side (alternating order)")


def table(results: dict[str, dict]) -> None:
    """Print {path: compare() result} as a markdown table, each side against `<path>/duckdb`."""
    print("| path | side | best s | ratio to DuckDB | CPU s | CPU ratio | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for read, res in results.items():
        base = res["sides"][f"{read}/duckdb"]
        for name, r in res["sides"].items():
            print(f"| {read} | {name.split('/')[1]} | {r['best_s']:.3f} | {r['best_s'] / base['best_s']:.2f}x | "
                  f"{r['best_cpu_s']:.3f} | {r['best_cpu_s'] / base['best_cpu_s']:.2f}x | {r['peak_rss_mib']:.0f} |")
