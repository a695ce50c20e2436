"""Bounded report cost: seeded samples, stratified by label where labels exist."""
from __future__ import annotations

import numpy as np
import pandas as pd


def sample(frame: pd.DataFrame, n: int, seed: int = 0, stratify: str | None = None) -> pd.DataFrame:
    """At most `n` rows, the same rows for the same input and seed. With `stratify`, each label
    value (unlabelled rows are one more stratum) keeps its share, rounded by largest remainder."""
    if len(frame) <= n:
        return frame
    if not stratify or stratify not in frame.columns:
        return frame.sample(n=n, random_state=seed)
    keys = frame[stratify].astype("object").where(frame[stratify].notna(), "\0missing")
    sizes = keys.value_counts(sort=False)
    exact = sizes / len(frame) * n
    take = np.floor(exact).astype(int)
    short = n - int(take.sum())
    if short:
        order = (exact - take).sort_values(ascending=False, kind="stable").index[:short]
        take[order] += 1
    rng = np.random.default_rng(seed)
    picked = []
    for key, k in take.items():
        idx = np.flatnonzero((keys == key).to_numpy())
        if k:
            picked.append(rng.choice(idx, size=int(k), replace=False))
    return frame.iloc[np.sort(np.concatenate(picked))] if picked else frame.iloc[:0]
