"""Benchmark: bounded cost of one drift report, as ratios measured in one run.

    nice .venv/bin/python benchmarks/drift_report.py [--rows 100000] [--sample 5000]

1. One 30-column window of `--rows` rows (the Adult census data resampled: its 14 features, 14
   noisy copies, score and pred): the full Evidently report (baseline) vs onepane's path (seeded stratified sample
   of `--sample` rows, then the same report). Target: the sampled report takes <= 5 s.
2. Quality metrics of the same window: onepane's numpy code vs scikit-learn (baseline), each run
   as a fresh process, alternating, the five values required equal (benchmarks/sides.py).
Part 1 is a trade-off, not two implementations of one answer: the sampled report is allowed to
differ, and how many columns keep their status is reported.
3. Peak RSS of the process after the reports (Evidently's import alone is ~280 MB).

Prints one JSON object (wall and CPU seconds, ratios baseline/onepane). On a shared machine the
CPU seconds of the process are the fairer measure of what one report costs.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sides  # noqa: E402


CPU: dict[str, float] = {}


def timed(fn, *args, **kwargs):
    """Wall seconds (and the process CPU seconds, kept in CPU: the machine may be shared)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    CPU[getattr(fn, "__name__", "fn")] = time.process_time() - c
    return time.perf_counter() - t, out


def window(rows: int, seed: int) -> pd.DataFrame:
    df = pd.read_parquet(ROOT.parent / "shared" / "data" / "drift" / "adults.parquet")
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype(object)
    df = df.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    for c in list(df.columns[:15]):
        if c == "class":
            continue
        if pd.api.types.is_numeric_dtype(df[c]):
            df[f"{c}_x"] = df[c] + rng.normal(0, 1, rows)
        else:
            df[f"{c}_x"] = df[c].where(rng.uniform(size=rows) > 0.05, None)
    df["score"] = rng.uniform(size=rows)
    df["pred"] = np.where(df["score"] >= 0.5, ">50K", "<=50K")
    return df


NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc")


def _rounded(values) -> list:
    return [round(float(v), 9) for v in values]


def quality_onepane(a):
    from collectors.model_health import quality

    cur = window(a.rows, 2)

    def finish(rows):
        got = {r["metric"]: r["value"] for r in rows}
        return _rounded(got[n] for n in NAMES)
    return (lambda: quality.classification(cur, "class", "pred", "score", ">50K")), finish


def quality_sklearn(a):
    from sklearn import metrics as skm

    cur = window(a.rows, 2)

    def sk():
        y, p = cur["class"], cur["pred"]
        return (skm.accuracy_score(y, p), skm.precision_score(y, p, pos_label=">50K"),
                skm.recall_score(y, p, pos_label=">50K"), skm.f1_score(y, p, pos_label=">50K"),
                skm.roc_auc_score(y == ">50K", cur["score"]))
    return sk, _rounded


QUALITY = {"quality_onepane": quality_onepane, "quality_sklearn": quality_sklearn}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=5000)
    sides.add_arguments(ap)
    args = ap.parse_args()
    if args.side:
        return sides.child(QUALITY, args)

    from collectors.model_health import quality
    from collectors.model_health.drift import run_drift
    from collectors.model_health.sampling import sample

    ref, cur = window(args.rows, 1), window(args.rows, 2)
    features = [c for c in cur.columns if c != "class"]            # 28 inputs + score + pred = 30
    t_import, _ = timed(__import__, "evidently")
    run_drift(ref.iloc[:2000], cur.iloc[:2000], features[:3])          # warm-up (lazy imports)

    t_full, full = timed(run_drift, ref, cur, features)
    def sampled():
        return run_drift(sample(ref, args.sample, 0, "class"), sample(cur, args.sample, 0, "class"), features)
    t_sampled, small = timed(sampled)
    agree = sum(a["status"] == b["status"] for a, b in zip(
        sorted(full.columns, key=lambda r: r["feature"]), sorted(small.columns, key=lambda r: r["feature"])))

    # quality metrics: onepane's numpy code and scikit-learn, each run in a fresh process, alternating,
    # with the same five values required of both (benchmarks/sides.py)
    q = sides.compare(__file__, list(QUALITY), ["--rows", str(args.rows)], runs=args.runs)
    t_ours, t_sk = q["sides"]["quality_onepane"]["best_s"], q["sides"]["quality_sklearn"]["best_s"]
    out = {
        "rows": args.rows, "columns": len(features), "sample": args.sample,
        "evidently_import_s": round(t_import, 2),
        "full_report_s": round(t_full, 2), "sampled_report_s": round(t_sampled, 2),
        "report_speedup_full_over_sampled": round(t_full / t_sampled, 2),
        "full_report_cpu_s": round(CPU["run_drift"], 2), "sampled_report_cpu_s": round(CPU["sampled"], 2),
        "sampled_within_5s": t_sampled <= 5.0, "sampled_cpu_within_5s": CPU["sampled"] <= 5.0,
        "columns_same_status_full_vs_sampled": f"{agree}/{len(features)}",
        "quality_onepane_s": round(t_ours, 3), "quality_sklearn_s": round(t_sk, 3),
        "quality_ratio_sklearn_over_onepane": round(t_sk / t_ours, 2), "quality_answer": q["answer"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
