"""The change point of what-changed (binary segmentation, one breakpoint, l2) against ruptures,
the library it replaces at run time: the same split, or on a tie of ruptures' own l2 costs
(integer-valued series) a split with the same cost."""
from __future__ import annotations

import numpy as np
import pytest


def _l2(x: np.ndarray, k: int) -> float:
    """Summed squared deviations of the two segments, as ruptures' CostL2 computes them."""
    import ruptures as rpt

    c = rpt.costs.CostL2().fit(x.reshape(-1, 1))
    return c.error(0, k) + c.error(k, x.size)


@pytest.mark.parametrize("seed", range(4))
def test_change_point_is_ruptures_binseg_l2(seed):
    import ruptures as rpt

    from metrics.analysis.wc_stats import change_point

    rng = np.random.default_rng(seed)
    for trial in range(150):
        n = int(rng.integers(6, 200))
        x = rng.normal(0, 1, n) * rng.uniform(0.01, 5) + rng.uniform(-100, 100)
        if trial % 2:
            x[int(rng.integers(1, n)):] += rng.normal(0, 3)
        if trial % 5 == 0:
            x = np.round(x)                     # counts: ties between splits happen
        if trial % 11 == 0:
            x[rng.integers(0, n, 3)] = np.nan   # buckets without data are skipped
        t = 1_790_000_000.0 + 15.0 * np.arange(n)
        ok = np.isfinite(x)
        got = change_point(t, x)
        xs, ts = x[ok], t[ok]
        if np.ptp(xs) == 0:
            assert got is None
            continue
        want = rpt.Binseg(model="l2", min_size=2, jump=1).fit(xs.reshape(-1, 1)).predict(n_bkps=1)[0]
        assert got is not None
        k = int(np.flatnonzero(ts == got)[0])
        if k != want:
            assert _l2(xs, k) == pytest.approx(_l2(xs, want), rel=1e-9, abs=1e-9), (trial, k, want)


def test_too_short_or_flat_series_have_no_change_point():
    from metrics.analysis.wc_stats import change_point

    t = np.arange(10) * 60.0
    assert change_point(t[:5], np.arange(5.0)) is None           # fewer than 2 × 3 values
    assert change_point(t, np.full(10, 4.0)) is None              # flat
    assert change_point(t, np.r_[np.zeros(6), np.ones(4)]) == 360.0
