"""Test data for model health: the Adult census data (../shared/data/drift) split into a reference
and daily prediction batches, scored by a small scikit-learn model trained in the test.

Day 3 is deliberately shifted: `age` +40 years, `hours-per-week` +30 hours and `race` remapped
(White <-> Black), so exactly those three columns drift."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

SHIFTED = {"age", "hours-per-week", "race"}
DAY0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
POS = ">50K"
NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]


def adults(shared: Path) -> pd.DataFrame:
    df = pd.read_parquet(shared / "drift" / "adults.parquet")
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype(object)
    return df


def shift(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["age"] = out["age"] + 40
    out["hours-per-week"] = out["hours-per-week"] + 30
    out["race"] = out["race"].map({"White": "Black", "Black": "White"}).fillna(out["race"])
    return out


def build(shared: Path, folder: Path, *, rows_ref: int = 4000, rows_day: int = 2500, days: int = 3,
          shift_day: int | None = 2, seed: int = 7) -> dict:
    """Write reference.parquet and current/day-N.parquet (ts, id, features, pred, score, class).
    Returns the frames (with predictions) for computing expected values in tests."""
    from sklearn.linear_model import LogisticRegression

    df = adults(shared).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    train = df.iloc[:5000]
    model = LogisticRegression(max_iter=500).fit(train[NUMERIC], train["class"] == POS)

    def score(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out["score"] = model.predict_proba(frame[NUMERIC])[:, 1]
        out["pred"] = np.where(out["score"] >= 0.5, POS, "<=50K")
        return out

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "current").mkdir(exist_ok=True)
    ref = score(df.iloc[5000:5000 + rows_ref]).copy()
    ref["ts"] = DAY0 - timedelta(days=10)
    ref["id"] = np.arange(len(ref)) + 10_000_000
    ref.to_parquet(folder / "reference.parquet", index=False)
    frames = {}
    start = 5000 + rows_ref
    for d in range(days):
        day = df.iloc[start + d * rows_day:start + (d + 1) * rows_day].copy()
        if d == shift_day:
            day = shift(day)
        day = score(day)
        rng = np.random.default_rng(seed + d)
        day["ts"] = DAY0 + timedelta(days=d) + pd.to_timedelta(rng.uniform(0, 86399, len(day)), unit="s")
        day["id"] = np.arange(len(day)) + d * 1_000_000
        day = day[["ts", "id"] + [c for c in day.columns if c not in ("ts", "id")]]
        frames[d] = day
        day.to_parquet(folder / "current" / f"day-{d}.parquet", index=False)
    return {"reference": ref, "days": frames, "model": model}


def config(folder: Path, name: str = "onepane.toml", **extra) -> str:
    """An onepane.toml with one drift source over `folder` (paths relative to the config)."""
    import json

    src = {"name": "adult-drift", "type": "drift", "service": "income", "model_version": "v1",
           "reference": "reference.parquet", "current": "current/*.parquet",
           "timestamp_column": "ts", "window": "1d", "prediction_column": "pred",
           "prediction_proba_column": "score", "target_column": "class", "pos_label": POS,
           "sensitive": ["sex"], "id_column": "id", "sample_size": 5000}
    src.update(extra)
    src = {k: v for k, v in src.items() if v is not None}
    lines = ['[[services]]', 'name = "income"', 'team = "risk"', '', '[[source]]']
    lines += [f"{k} = {json.dumps(v)}" for k, v in src.items()]
    text = "\n".join(lines) + "\n"
    (folder / name).write_text(text)
    return str(folder / name)


def run(store, config_path: str, **options):
    from collectors.runner import publish_services, run_sources
    from metrics.config import load_settings

    cfg = load_settings(config_path)
    publish_services(store, cfg)
    return run_sources(store, cfg, ["drift"], **options)


def health(store, as_of=None, **where) -> pd.DataFrame:
    cond = " AND ".join(f"{k} = ?" for k in where) or "true"
    return store.query(f"SELECT * FROM stg_model_health WHERE {cond} ORDER BY window_start, metric, feature",
                       list(where.values()), as_of=as_of).to_pandas()
