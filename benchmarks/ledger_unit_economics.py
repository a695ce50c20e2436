"""Benchmark: the ledger's SQL (counter increases with resets, cost joins, ratios) against the
same computation in pandas on the same rows. Reports a ratio, not an absolute time.

    nice .venv/bin/python benchmarks/ledger_unit_economics.py [--days 30] [--step-s 60] [--runs 3]
Each side runs as a fresh process over the same store, the sides alternate, and both must return
the same answer (rows, predictions in all and per service) before the ratio is printed
(benchmarks/sides.py).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from metrics.config import parse_settings
from metrics.lake import Load
from metrics.ledger import unit_economics
from metrics.store import Store

import sides


def build(store: Store, days: int, step_s: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    n = days * 86400 // step_s
    times = [start + timedelta(seconds=step_s * i) for i in range(n)]
    frames, costs = [], []
    for s in range(4):
        for v in range(2):
            inc = rng.poisson(5 + 3 * v, n).astype(float)
            val = np.cumsum(inc)
            reset = n // 2                                    # one restart mid-way
            val[reset:] -= val[reset - 1]
            frames.append(pl.DataFrame({
                "sampled_at": times, "metric": "inference_requests_total",
                "labels_hash": f"s{s}v{v}", "labels": f"s{s}v{v}", "service": f"svc{s}",
                "model_version": f"v{v}", "value": val}))
            for d in range(days):
                costs.append({"charge_period_start": start + timedelta(days=d), "x_service": f"svc{s}",
                              "x_model_version": f"v{v}", "billing_currency": "USD",
                              "effective_cost": f"{rng.uniform(50, 150):.6f}"})
    tel = pl.concat(frames)
    with Load(store, "raw_telemetry", collector="bench") as ld:
        ld.write(tel)
    cost = pl.DataFrame(costs)
    with Load(store, "raw_focus", collector="bench") as ld:
        ld.write(cost)
    return tel.to_pandas(), cost.to_pandas()


def pandas_from_lake(store: Store) -> pd.DataFrame:
    """The baseline starts where the ledger starts: the Parquet files in the lake."""
    def read(table):
        files = [f for f in (store.lake / table).rglob("*.parquet") if f.name != "_schema.parquet"]
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)

    tel = read("raw_telemetry").drop_duplicates(["metric", "labels_hash", "sampled_at"], keep="last")
    tel = tel[tel["metric"] == "inference_requests_total"]
    return pandas_ledger(tel, read("raw_focus"))


def pandas_ledger(tel: pd.DataFrame, cost: pd.DataFrame) -> pd.DataFrame:
    t = tel.sort_values(["labels_hash", "sampled_at"])
    prev = t.groupby("labels_hash")["value"].shift()
    inc = np.where(prev.isna(), 0, np.where(t["value"] < prev, t["value"], t["value"] - prev))
    t = t.assign(inc=inc, day=pd.to_datetime(t["sampled_at"], utc=True).dt.floor("D"))
    p = t.groupby(["service", "model_version", "day"], as_index=False)["inc"].sum()
    c = cost.assign(day=pd.to_datetime(cost["charge_period_start"], utc=True).dt.floor("D"),
                    cost=cost["effective_cost"].astype(float))
    c = c.groupby(["x_service", "x_model_version", "day"], as_index=False)["cost"].sum()
    m = p.merge(c, left_on=["service", "model_version", "day"],
                right_on=["x_service", "x_model_version", "day"], how="outer")
    m["cost_per_prediction"] = m["cost"] / m["inc"].replace(0, np.nan)
    return m


def _store(a):
    from metrics.store import Store

    return Store(Path(a.db))


def onepane(a):
    from metrics.config import parse_settings

    store = _store(a)
    cfg = parse_settings({"services": [{"name": f"svc{s}"} for s in range(4)]})

    def finish(df):
        per = df.group_by("service").agg(pl.col("predictions").sum()).to_dicts()
        return {"rows": df.height, "predictions": round(float(df["predictions"].sum()), 6),
                "per_service": {r["service"]: round(float(r["predictions"]), 6) for r in per}}
    return (lambda: unit_economics(store, cfg)), finish


def pandas_side(a):
    store = _store(a)

    def finish(ref):
        per = ref.groupby("service")["inc"].sum().to_dict()
        return {"rows": len(ref), "predictions": round(float(ref["inc"].sum()), 6),
                "per_service": {k: round(float(v), 6) for k, v in per.items()}}
    return (lambda: pandas_from_lake(store)), finish


SIDES = {"onepane": onepane, "pandas": pandas_side}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--step-s", type=int, default=60)
    ap.add_argument("--db", default=None)
    sides.add_arguments(ap)
    a = ap.parse_args()
    if a.side:
        return sides.child(SIDES, a)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "b.duckdb").ensure()
        tel, cost = build(store, a.days, a.step_s)
        # same answer on both sides (rows, predictions per service), or the timing means nothing
        res = sides.compare(__file__, list(SIDES), ["--db", str(store.db_path)], runs=a.runs)
        print(f"rows={len(tel):,} telemetry samples, {len(cost):,} cost lines; answers equal: "
              f"{res['answer']['predictions']:,.0f} predictions")
        print(f"ledger SQL (from Parquet, incl. connect + view setup): best {res['sides']['onepane']['best_s']:.3f}s")
        print(f"pandas from the same Parquet files:                   best {res['sides']['pandas']['best_s']:.3f}s")
        print(f"ratio ledger/pandas = {sides.ratio(res, 'onepane', 'pandas'):.2f}")
        print(json.dumps(res))


if __name__ == "__main__":
    main()
