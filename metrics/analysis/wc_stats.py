"""What changed, statistics: shifts between two segments of a signal and its change point.

See metrics.analysis.what_changed for the method; the constants here are its thresholds."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics.analysis.signals import Frame, Series

D_MIN = 1.0            # minimum |effect size| for a shift
REL_MIN = 0.10         # minimum relative change of the segment values
OTHER_SERVICE_D = 2.0  # an event on another service needs |d| ≥ this, starting right after it
STRENGTH_CAP = 8.0
MIN_POINTS = 3         # buckets with a value needed on each side
N_BUCKETS = 30         # at most 1/30 of the span of data read ...
BUCKETS_PER_WINDOW = 40  # ... and at most 1/40 of the window (then whole sampling intervals)
MIN_STEP_S = 5.0       # and never below 5 s: a bucket needs requests enough for a latency quantile
ONSET_MIN_AFTER = 3    # buckets with a value after a change point before it can count
ONSET_D_SCALE = 4.0    # after-onset shifts need |d| ≥ max(D_MIN, ONSET_D_SCALE / √(buckets after))
IDLE_SHARE_MIN = 0.25  # name idle GPU time when at least this share of C is idle
EXPLAINED_KEEP = 0.5   # share of its strength a symptom keeps once a cause explains it
LIKELY = 0.5           # an item explaining at least half of what shifted: the page labels it "likely"
LAYERS = ("event", "technical", "model", "business", "cost", "data")
DAY = 86400.0
WEEK = 7 * DAY
WINDOW_NOISE_MIN_N = 3  # windows ≥ 1 day: σ is floored at the spread of ≥ 3 earlier blocks' medians
WINDOW_NOISE_Z = 2.0   # ... so that |d| ≥ 1 means beyond 2 × the spread between two quiet blocks
LATE_MIN_S = 900.0     # data arriving less than 15 min after its time is never "late"
SKU_SPIKE_SHARE = 0.6  # a cost rise is one SKU's spike when that SKU holds this share of it
# Simultaneous events of one service are one change; it is named after the most telling of them:
# an experiment start is the umbrella of the treatment's rollout, while an experiment stop changes
# no traffic by itself (the rollout to 100 % that follows it does).
KIND_PRIORITY = {"experiment_start": 3, "deploy": 2, "rollback": 2, "config": 2, "price_change": 2,
                 "data_backfill": 1, "experiment_stop": 1, "incident": 0}


@dataclass
class Shift:
    series: Series
    before: float
    after: float
    d: float
    rel: float
    onset: float | None
    segments: tuple[tuple[float, float], tuple[float, float]]
    compared: str = "previous window"

    @property
    def strength(self) -> float:
        return min(abs(self.d), STRENGTH_CAP)


# ---- statistics --------------------------------------------------------------------------------
def effect_size(before: np.ndarray, after: np.ndarray, min_points: int = MIN_POINTS,
                floor: float = 0.0) -> float | None:
    """(median after − median before) / pooled robust σ, floored at 5 % of the level and at `floor`
    (the block-to-block noise of answers with long windows, see segment_noise)."""
    b = before[np.isfinite(before)]
    a = after[np.isfinite(after)]
    if b.size < min_points or a.size < min_points:
        return None
    mb, ma = float(np.median(b)), float(np.median(a))
    sb = 1.4826 * float(np.median(np.abs(b - mb)))
    sa = 1.4826 * float(np.median(np.abs(a - ma)))
    sigma = max(np.sqrt((sb * sb + sa * sa) / 2), 0.05 * max(abs(mb), abs(ma)), floor, 1e-12)
    return (ma - mb) / sigma


def change_point(t: np.ndarray, v: np.ndarray) -> float | None:
    """Start time of the bucket where the series' single best l2 change point lies: binary
    segmentation with one breakpoint (the split minimising the two segments' summed squared
    deviations, each segment ≥ 2 values; the first such split on ties), as ruptures'
    `Binseg(model="l2", min_size=2, jump=1).predict(n_bkps=1)` finds it (the tests check that),
    computed from cumulative sums in O(n): importing ruptures (and scipy.stats with it) cost a
    fresh `onepane what-changed` process seconds, and its per-split variances ~1 s an answer."""
    ok = np.isfinite(v)
    x, tt = v[ok].astype(float), t[ok]
    n = x.size
    if n < 2 * MIN_POINTS or np.ptp(x) == 0:
        return None
    x = x - x.mean()                              # the split does not depend on the level
    c1 = np.concatenate(([0.0], np.cumsum(x)))
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    k = np.arange(2, n - 1)                       # left = x[:k], right = x[k:], both ≥ 2 values
    left = c2[k] - c1[k] ** 2 / k
    right = (c2[n] - c2[k]) - (c1[n] - c1[k]) ** 2 / (n - k)
    cost = left + right
    i = int(k[np.flatnonzero(cost <= cost.min() + 1e-12 * max(1.0, abs(cost.min())))[0]])
    return float(tt[i]) if i < n else None


def compare(fr: Frame, s: Series, before: tuple[float, float], after: tuple[float, float],
            compared: str) -> Shift | None:
    mb, ma = fr.mask(*before), fr.mask(*after)
    noise = getattr(s, "noise", None)              # windows ≥ 1 day: long_window_noise
    d = effect_size(s.v[mb], s.v[ma], s.min_points, noise(after[1] - after[0]) if noise else 0.0)
    if d is None:
        return None
    vb, va = s.value(mb), s.value(ma)
    if not (np.isfinite(vb) and np.isfinite(va)):
        return None
    rel = (va - vb) / abs(vb) if vb else (np.inf if va else 0.0)
    if s.gate is not None and va > vb and not s.gate(ma):
        return None                  # e.g. a feature's drift score rose but its test says "no drift"
    return Shift(s, vb, va, d, rel, None, (before, after), compared)


def significant(sh: Shift | None) -> bool:
    return sh is not None and abs(sh.d) >= D_MIN and abs(sh.rel) >= REL_MIN


def segment_noise(fr: Frame, s: Series, before: float, length: float) -> float:
    """The σ floor of `s` for a segment `length` seconds long, in answers with windows of a day or
    more: WINDOW_NOISE_Z × √2 × the spread of the medians of the length-long blocks that tile the data
    before `before` (the current window's start) back to the frame's start, counting blocks with ≥
    min_points values; 0 with fewer than WINDOW_NOISE_MIN_N such blocks. The spread is the standard
    deviation of the block medians, not a robust one: day-level series are heavy-tailed (a KPI
    drawn per day has days at 0 and at twice its median) and the reference day itself may be the
    unusual one. The price: an incident inside the read range raises the floor for a while.

    Why: a window of a day or more is compared with another day (or week) of the series, and two
    quiet days differ by the day-to-day spread, which the bucket-to-bucket (hour-to-hour) spread
    inside them does not show: a KPI drawn per day looks steady hour by hour and "shifts" every day.
    The difference of two quiet segments' medians has a spread of √2 × the block medians' spread, so
    with this floor |d| ≥ 1 asks for a shift beyond WINDOW_NOISE_Z times what quiet stretches of the
    same length show. A shift since an onset a few hours ago is held to the spread of few-hour blocks."""
    meds = []
    k = 1
    while before - k * length >= fr.start - 1e-9:
        m = fr.mask(before - k * length, before - (k - 1) * length) & np.isfinite(s.v)
        if int(m.sum()) >= s.min_points:
            meds.append(float(np.median(s.v[m])))
        k += 1
    if len(meds) < WINDOW_NOISE_MIN_N:
        return 0.0
    spread = float(np.std(np.asarray(meds), ddof=1))
    return WINDOW_NOISE_Z * np.sqrt(2.0) * spread


def long_window_noise(fr: Frame, series: list[Series], before: float) -> None:
    """Give each series its σ floor by segment length (segment_noise, cached): `s.noise(length)`,
    which compare() uses for the after segment's length."""
    for s in series:
        cache: dict[float, float] = {}

        def noise(length: float, s=s, cache=cache) -> float:
            key = round(length / fr.step) * fr.step       # whole buckets
            if key not in cache:
                cache[key] = segment_noise(fr, s, before, max(key, fr.step)) if key > 0 else 0.0
            return cache[key]
        s.noise = noise


def onset_shift(fr: Frame, s: Series, onset: float | None, C: tuple[float, float], w: float,
                seasonal: float | None) -> Shift | None:
    """The shift since `onset` (the series' change point) when it lies inside C: [onset, T) against
    the window-length before the onset, or against the same hours `seasonal` seconds earlier.

    The rule for a shift that began late in the window: it counts once it has ONSET_MIN_AFTER
    buckets with a value after its onset, and |d| ≥ max(D_MIN, ONSET_D_SCALE / √n) for n such
    buckets (2.3σ with 3 buckets, 2σ with 4, 1σ from 16 on), so a few noisy buckets at the end of a quiet
    window are not a change. None when the onset is outside C or the rule does not hold."""
    T = C[1]
    if onset is None or not (C[0] < onset < T):
        return None
    after = (onset, T)
    n_after = int((fr.mask(*after) & np.isfinite(s.v)).sum())
    if n_after < max(ONSET_MIN_AFTER, s.min_points):
        return None
    if "/" in s.subject and int((fr.mask(C[0] - w, C[0]) & np.isfinite(s.v)).sum()) < s.min_points:
        return None                   # a version that starts inside C: a rollout's warm-up
    sh = None
    if seasonal:
        sh = compare(fr, s, (onset - seasonal, T - seasonal), after,
                     f"since its onset vs the same hours {seasonal / 86400:g} day(s) earlier")
    if sh is None:
        sh = compare(fr, s, (onset - w, onset), after, "since its onset vs before it")
    if sh is None or abs(sh.d) < max(D_MIN, ONSET_D_SCALE / np.sqrt(n_after)) or abs(sh.rel) < REL_MIN:
        return None
    return sh


STEP_BUCKETS = 4       # an event on another service explains a shift that steps within this many buckets


def steps_at(fr: Frame, s: Series, te: float, step: float) -> bool:
    """Does `s` step at te: the STEP_BUCKETS buckets after it against the STEP_BUCKETS before, with
    |d| ≥ OTHER_SERVICE_D and ≥ REL_MIN relative change? A slow creep already under way does not."""
    k = STEP_BUCKETS * step
    sh = compare(fr, s, (te - k, te), (te, te + k), "around the event")
    return sh is not None and abs(sh.d) >= OTHER_SERVICE_D and abs(sh.rel) >= REL_MIN


def version_local(fr: Frame, series: list[Series], s: Series, before, after, service: str) -> bool:
    """Is the shift of service-wide `s` confined to some of the service's versions: another version's
    series of the same signal exists and did not shift significantly between before and after?"""
    versions = [x for x in series if x.kind == s.kind and x.subject.startswith(service + "/")]
    if len(versions) < 2:
        return False
    moved = [significant(compare(fr, x, before, after, "")) for x in versions]
    return any(moved) and not all(moved)
