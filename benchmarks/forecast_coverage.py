"""Coverage of the month-end forecast's 80 % interval over generated daily cost series.

Kinds: flat, trending (+1..+5 a day), weekly (±40 around 200), step (+50 % on a random day of the
history); Gaussian noise sd 15. History 28 + 15 days, forecast the sum of the next 15 days (a
mid-month forecast of a 30-day month). Prints the coverage per kind at widen = 1 and the factor that
makes 80 % of the true sums fall inside the interval (used as metrics.analysis.forecast.WIDEN).

    nice python benchmarks/forecast_coverage.py --per-kind 25 --seed 1000
"""
from __future__ import annotations

import argparse
import json

import numpy as np

HIST, STEPS = 28 + 15, 15
KINDS = ("flat", "trend", "weekly", "step")


def generate(kind: str, rng: np.random.Generator, n: int = HIST + STEPS) -> np.ndarray:
    t = np.arange(n)
    if kind == "flat":
        mu = np.full(n, 200.0)
    elif kind == "trend":
        mu = 200.0 + rng.uniform(1, 5) * t
    elif kind == "weekly":
        phase = rng.uniform(0, 2 * np.pi)
        mu = 200.0 + 40 * np.sin(2 * np.pi * t / 7 + phase)
    else:
        k = int(rng.integers(10, HIST - 7))
        mu = np.where(t >= k, 300.0, 200.0)
    return mu + rng.normal(0, 15, n)


def main() -> None:
    from metrics.analysis.forecast import forecast_sum

    ap = argparse.ArgumentParser()
    ap.add_argument("--per-kind", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--widen", type=float, default=1.0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    ratios, out = [], {}
    for kind in KINDS:
        hits, models = 0, {}
        for i in range(a.per_kind):
            y = generate(kind, rng)
            fc = forecast_sum(y[:HIST], STEPS, seed=i, widen=a.widen)
            truth = float(y[HIST:].sum())
            hits += fc.low <= truth <= fc.high
            half = (fc.high - fc.low) / 2 or 1e-9
            ratios.append(abs(truth - (fc.high + fc.low) / 2) / half)
            models[fc.model] = models.get(fc.model, 0) + 1
        out[kind] = {"coverage": hits / a.per_kind, "models": models}
        print(kind, json.dumps(out[kind]), flush=True)
    cov = float(np.mean([v["coverage"] for v in out.values()]))
    r = np.asarray(ratios)
    print(json.dumps({"coverage": cov, "widen_for_80": float(np.quantile(r, 0.8)) * a.widen,
                      "coverage_if_widened": {str(w): float(np.mean(r <= w / a.widen))
                                              for w in (1.0, 1.2, 1.3, 1.4, 1.5, 1.75, 2.0)},
                      "series": len(ratios)}))


if __name__ == "__main__":
    main()
