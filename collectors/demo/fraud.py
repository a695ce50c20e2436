"""Feature batches for the fraud classifier: a reference set and one current Parquet batch per day.

Rows are transactions with features, the model's score and decision (`prediction`), the label
(`is_fraud`, known after review) and a sensitive attribute (`customer_region`). The model is a fixed
logistic score; its threshold flags ~2.5% of reference transactions. In the drift window a new
high-value merchant shifts `amount` of legitimate transactions upward, so the model flags many more
legitimate ones and precision falls; labels themselves keep the same fraud rate.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from collectors.demo.scenario import World

FRAUD_RATE = 0.02
ROWS_PER_DAY = 2000
REFERENCE_ROWS = 10_000
DRIFT_FEATURE = "amount"
FEATURES = ("amount", "account_age_days", "n_tx_24h", "country_risk", "merchant_category")
REGIONS = np.array(["north", "south", "east", "west"])
CATEGORIES = np.array(["grocery", "electronics", "travel", "fashion", "gaming", "utilities"])


def _score(amount, age, n_tx, risk) -> np.ndarray:
    z = -7.4 + 0.9 * np.log(amount) - 0.55 * np.log1p(age) + 0.45 * n_tx + 2.2 * risk
    return 1 / (1 + np.exp(-z))


def _batch(rng: np.random.Generator, n: int, t0: float, drift: tuple[float, float] | None = None,
           span: float = 86400) -> dict[str, np.ndarray]:
    """n transactions in [t0, t0 + span); rows inside the `drift` interval (unix seconds) drift."""
    event_time = np.sort(t0 + rng.random(n) * span)
    fraud = rng.random(n) < FRAUD_RATE
    amount = np.where(fraud, rng.lognormal(np.log(220), 0.7, n), rng.lognormal(np.log(38), 0.9, n))
    shift = rng.random(n) < 0.45
    if drift is not None:
        inside = (event_time >= drift[0]) & (event_time < drift[1])
        amount = np.where(inside & ~fraud & shift, amount * 6.0, amount)
    age = np.where(fraud, rng.exponential(60, n), rng.exponential(800, n)).round()
    n_tx = np.where(fraud, rng.poisson(6, n), rng.poisson(2, n))
    risk = np.where(fraud, rng.beta(4, 3, n), rng.beta(2, 5, n))
    return {
        "event_time": event_time,
        "amount": amount.round(2), "account_age_days": age.astype(np.int64),
        "n_tx_24h": n_tx.astype(np.int64), "country_risk": risk.round(4),
        "merchant_category": rng.choice(CATEGORIES, n), "customer_region": rng.choice(REGIONS, n),
        "score": _score(amount, age, n_tx, risk).round(6), "is_fraud": fraud.astype(np.int64),
    }


def _table(b: dict, threshold: float, prefix: str) -> pa.Table:
    n = len(b["amount"])
    cols = {"transaction_id": [f"{prefix}-{i:05d}" for i in range(n)],
            "event_time": pa.array((b["event_time"] * 1e6).astype("int64"), pa.timestamp("us", tz="UTC"))}
    for k in ("amount", "account_age_days", "n_tx_24h", "country_risk", "merchant_category",
              "customer_region", "score"):
        cols[k] = b[k]
    cols["prediction"] = (b["score"] >= threshold).astype(np.int64)
    cols["is_fraud"] = b["is_fraud"]
    return pa.table(cols)


def write(w: World, folder: Path) -> dict:
    """Write reference.parquet and current/batch-YYYY-MM-DD.parquet; return per-day truths."""
    rng = np.random.default_rng(w.seed + 7)
    (folder / "current").mkdir(parents=True, exist_ok=True)
    ref_start = (w.start - timedelta(days=30)).timestamp()
    ref = _batch(rng, REFERENCE_ROWS, ref_start, None, span=30 * 86400)
    threshold = float(np.quantile(ref["score"], 1 - 0.025))
    pq.write_table(_table(ref, threshold, "ref"), folder / "reference.parquet")
    m = w.marks
    drift = (w.at(m["drift_start"]).timestamp(), w.at(m["drift_end"]).timestamp())
    precision, flag_rate, missed_rate, tps, flagged = [], [], [], [], []
    files = []
    for day in range(w.days):
        t0 = (w.start + timedelta(days=day)).timestamp()
        b = _batch(rng, ROWS_PER_DAY, t0, drift)
        tbl = _table(b, threshold, f"d{day:03d}")
        p = folder / "current" / f"batch-{(w.start + timedelta(days=day)):%Y-%m-%d}.parquet"
        pq.write_table(tbl, p)
        files.append(p)
        pred = tbl["prediction"].to_numpy()
        y = b["is_fraud"]
        tp = int((pred & y).sum())
        precision.append(tp / max(int(pred.sum()), 1))
        tps.append(tp)
        flagged.append(int(pred.sum()))
        flag_rate.append(pred.mean())
        missed_rate.append(((1 - pred) & y).mean())
    return {"threshold": threshold, "precision": np.array(precision), "flag_rate": np.array(flag_rate),
            "missed_rate": np.array(missed_rate), "files": files,
            "true_positives": np.array(tps), "flagged": np.array(flagged)}
