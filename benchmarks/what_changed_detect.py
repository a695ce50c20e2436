"""Time to detect: what-changed asked 2, 5, 10 and 30 minutes after each planted incident's onset.

    nice .venv/bin/python benchmarks/what_changed_detect.py [--days 90] [--capture ../shared/data]

Builds the demo company (seed 7, ending 2026-11-01, --days days) as `onepane demo` does, then for
every planted incident (ground_truth.json) and for the real H100 capture's v42 rollout runs
what-changed for the incident's service at onset + delay with windows 10m, 1h and 1d, and counts how
often the planted cause is the top item (and its score). False alarms: in the demo's quiet periods
(ground truth: runs of ≥ 5 whole days with no incident onset within a day, the first week excluded),
what-changed at 10:00 and 22:00 UTC of every other day from the period's second day (at most
--quiet-per-period instants per period) per window, for each service and without a service, counting
answers whose top item scores ≥ LIKELY (what the page labels "likely"), ≥ 0.25, and answers with any
item. Prints Markdown tables for the README; --json writes every answer's top item, and
`--report FILE` prints the tables of such a file again.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DELAYS = (2, 5, 10, 30)                  # minutes after the onset
WINDOWS = {"10m": timedelta(minutes=10), "1h": timedelta(hours=1), "1d": timedelta(days=1)}


def main() -> None:
    from collectors.demo import generate
    from collectors.runner import publish_services, run_sources
    from metrics.analysis.wc_stats import LIKELY
    from metrics.analysis.what_changed import what_changed
    from metrics.config import load_settings, parse_settings
    from metrics.errors import OnepaneError
    from metrics.store import Store
    from metrics.times import parse_time

    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--capture", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--demo", help="an already built demo folder (onepane demo's output) to reuse")
    ap.add_argument("--quiet-per-period", type=int, default=12, help="instants per quiet period")
    ap.add_argument("--json", help="write every answer's top item here")
    ap.add_argument("--windows", default=",".join(WINDOWS), help="a subset of " + ",".join(WINDOWS))
    ap.add_argument("--no-detect", action="store_true", help="only the quiet periods (false alarms)")
    args = ap.parse_args()
    for name in list(WINDOWS):
        if name not in args.windows.split(","):
            del WINDOWS[name]
    tmp = tempfile.TemporaryDirectory()
    t0 = time.perf_counter()
    if args.demo:
        out = Path(args.demo)
        config = load_settings(out / "onepane.toml")
        store = Store(out / "onepane.duckdb").ensure()
    else:
        out = generate(Path(tmp.name) / "demo", seed=7, days=args.days, end="2026-11-01T00:00:00Z")
        config = load_settings(out / "onepane.toml")
        store = Store(out / "onepane.duckdb").ensure()
        publish_services(store, config)
        run_sources(store, config)
    truth = json.loads((out / "ground_truth.json").read_text())
    print(f"demo ready in {time.perf_counter() - t0:.0f} s ({out})", file=sys.stderr)

    def top_of(st, service, at, window, cfg):
        try:
            items = what_changed(st, service, at, window, config=cfg)
        except OnepaneError:
            return None
        return items[0] if items else None

    rows = []
    cases = [(inc["id"], inc["service"], parse_time(inc["start"]), inc["cause"], store, config)
             for inc in truth["incidents"]]
    cap = Path(args.capture)
    if (cap / "gpu-serving-capture").exists():
        from tests.whatchanged_helpers import V42_ROLLOUT, load_capture

        cstore = Store(Path(tmp.name) / "capture.duckdb").ensure()
        ccfg = parse_settings({"services": [{"name": "assistant-api"}]})
        load_capture(cstore, cap, ccfg)
        cases.append(("capture-v42-rollout", "assistant-api", parse_time(V42_ROLLOUT),
                      {"layer": "event", "kind": "deploy", "subject": "assistant-api/ranker-v42"}, cstore, ccfg))
    timings, every = [], []
    for cid, service, onset, cause, st, cfg in ([] if args.no_detect else cases):
        for wname, window in WINDOWS.items():
            for d in DELAYS:
                t1 = time.perf_counter()
                top = top_of(st, service, onset + timedelta(minutes=d), window, cfg)
                timings.append(time.perf_counter() - t1)
                got = (top["layer"], top["kind"], top["subject"]) if top else None
                ok = got == (cause["layer"], cause["kind"], cause["subject"])
                rows.append((cid, wname, d, ok, got, top and top["score"]))
                print("case", cid, wname, d, ok, got, top and top["score"], f"{timings[-1]:.1f}s",
                      file=sys.stderr, flush=True)
    answers = []
    for q in truth["quiet_periods"]:
        start, end = parse_time(q["start"]), parse_time(q["end"])
        k = 0
        t = start.replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=1)
        while t < end and k < args.quiet_per_period:
            for wname, window in WINDOWS.items():
                for svc in truth["services"] + [None]:
                    t1 = time.perf_counter()
                    top = top_of(store, svc, t, window, config)
                    (timings if svc else every).append(time.perf_counter() - t1)
                    got = top and (top["layer"], top["kind"], top["subject"], top["service"], top["score"])
                    answers.append((t.isoformat(), wname, svc, got))
                    print("quiet", t.isoformat(), wname, svc, got, file=sys.stderr, flush=True)
            t += timedelta(hours=12) if t.hour == 10 else timedelta(days=2, hours=-12)
            k += 1
    report(rows, answers, [] if args.no_detect else [c[0] for c in cases], LIKELY)
    if args.json:
        Path(args.json).write_text(json.dumps({"detect": rows, "quiet": answers}, default=str, indent=1))
    if every:
        every.sort()
        print(f"all services per call: median {every[len(every) // 2]:.2f} s, max {every[-1]:.2f} s",
              file=sys.stderr)
    timings.sort()
    print(f"\nper call: median {timings[len(timings) // 2]:.2f} s, max {timings[-1]:.2f} s", file=sys.stderr)
    for r in rows:
        if not r[3]:
            print("miss", *r, file=sys.stderr)
    tmp.cleanup()


def report(rows: list, answers: list, ids: list[str], likely: float) -> None:
    """Markdown tables: time to detect (✓ the cause on top and likely, ○ on top below "likely",
    · not on top) and false alarms in the quiet periods."""
    hit = {(r[0], r[1], r[2]): (r[3], r[5]) for r in rows}
    cells = [(w, d) for w in WINDOWS for d in DELAYS]
    ids = ids if rows else []
    if ids:
        detect_table(hit, cells, ids, likely)
    false_alarm_table(answers, likely)


def detect_table(hit: dict, cells: list, ids: list[str], likely: float) -> None:
    print("\n### Time to detect: the cause on top (✓ likely, ○ below \"likely\") by window and minutes after onset\n")
    print("| incident | " + " | ".join(f"{w} +{d}m" for w, d in cells) + " |")
    print("|---|" + "---|" * len(cells))
    mark = lambda ok, score: ("✓" if score >= likely else "○") if ok else "·"  # noqa: E731
    for cid in ids:
        print(f"| {cid} | " + " | ".join(mark(*hit[(cid, w, d)]) for w, d in cells) + " |")
    print("| **on top** | " + " | ".join(f"{sum(hit[(c, w, d)][0] for c in ids)}/{len(ids)}" for w, d in cells) + " |")
    print("| **on top, likely** | " + " | ".join(
        f"{sum(hit[(c, w, d)][0] and hit[(c, w, d)][1] >= likely for c in ids)}/{len(ids)}" for w, d in cells) + " |")


def false_alarm_table(answers: list, likely: float) -> None:
    quiet = defaultdict(lambda: [0, 0, 0, 0])
    for _, wname, svc, got in answers:
        c = quiet[(wname, svc is None)]
        score = got[4] if got else None
        c[0] += 1
        c[1] += bool(got and score >= likely)
        c[2] += bool(got and score >= 0.25)
        c[3] += bool(got)
    print("\n### False alarms in the quiet periods\n")
    print(f"| window | asked for | answers | top item ≥ {likely} (\"likely\": false alarm) | ≥ 0.25 | any item |")
    print("|---|---|---|---|---|---|")
    for wname in WINDOWS:
        for every_svc in (False, True):
            n, lk, quarter, anyi = quiet[(wname, every_svc)]
            if n:
                print(f"| {wname} | {'all services' if every_svc else 'each service'} | {n} | "
                      f"{lk} ({lk / n:.0%}) | {quarter} ({quarter / n:.0%}) | {anyi} ({anyi / n:.0%}) |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report"]:          # re-print the tables of a saved --json run
        from metrics.analysis.wc_stats import LIKELY

        saved = json.loads(Path(sys.argv[2]).read_text())
        ids = list(dict.fromkeys(r[0] for r in saved["detect"]))
        report(saved["detect"], saved["quiet"], ids, LIKELY)
    else:
        main()
