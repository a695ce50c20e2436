""""What changed and where?": a ranked list of candidate explanations for a service at time T.

Windows: the current window C = [T − w, T) is compared with a reference window: the same hours one
week earlier (else one day earlier, for w < 1 day) when the store has data there, so weekly and
daily cycles are not mistaken for a change; the same hours `baseline` earlier when --baseline is
given; else the previous window P = [T − 2w, T − w). Data is read over R = [T − 3w, T) (extended back to the reference) so an event
near the start of P still has a "before". Around an event the "before" is likewise the same hours a
day earlier when that reference is in use and no other change of the service happened since.

Ranking method
--------------
1. Every layer becomes signals (metrics.analysis.signals): per-bucket series of request rate, error
   rate, latency quantiles, GPU utilisation and GPU-seconds per request, drift share, quality, KPIs,
   cost, null rates. Buckets are 1/30 of the span of data in R, rounded up to a whole
   multiple of the inputs' sampling interval (so hourly scrapes never alias into uneven buckets).
2. Shift of a signal between two segments = effect size d = (median after − median before) / σ,
   where σ is the series' own variability: the pooled robust standard deviation (1.4826 × MAD) of its
   bucket values in both segments, floored at 5 % of the level so a flat series does not divide by
   zero. A shift counts when |d| ≥ 1 and the segment values differ by ≥ 10 %. Series need 3 values
   a side, except windowed reports (model health: one value per day or week), where one value a
   side is compared against the 5 % floor alone. Its strength is
   min(|d|, 8), so one wild series cannot drown the others. The onset of the shift is the single
   change point of the series over P ∪ C found by ruptures (binary segmentation, l2 cost).
3. Change events (deploys, rollbacks, config, price changes, backfills) in R are each compared
   before/after: [t_e − L, t_e) against [t_e, t_e + L), clipped to R and to the neighbouring events
   of the same service (L = max(w, T − t_e)). The symptom signals of *this* service that shift across
   the event are its evidence; an event explains the sum of their strengths. A shift that the load
   explains (request rate moved across the event in the direction that moves this signal) is not
   evidence. An event on another service needs a strong shift here (|d| ≥ 2) whose change point lies
   just after it (within w/2); without one it is dropped (never blamed without evidence here). An
   event of this service without evidence stays in the list with score 0.
4. Causes before symptoms. Load (request rate), input drift and data problems are causes; latency,
   errors, GPU, quality, KPI and cost shifts are symptoms. Each symptom found in C vs P is credited to
   at most one cause: an event whose evidence contains it (strongest first), else a request-rate shift
   whose onset is not later than the symptom's (for load-sensitive signals), else an input-drift shift
   (for model and business signals), else a data problem of the same input. A cause's score adds the
   strength of what it explains; a credited symptom keeps half of its own strength.
5. score = strength explained / Σ strength of every shift observed (0..1): how much of the observed
   change the item explains. Items are sorted by score; ties go to causes, then to the earlier onset.

Idle GPU time in C (utilisation ≤ 1 %) is named on its own as a cost finding (GPU-seconds and, with
[pricing] gpu_hour, money); cost line items (stg_cost) are compared C vs P and decomposed into
price × volume × mix by dimension (metrics.analysis.anomalies.decompose_cost).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import numpy as np

from metrics.analysis import signals as S
from metrics.analysis.signals import CAUSE, SYMPTOM, Frame, Series, dt, ts
from metrics.config import Settings
from metrics.errors import OnepaneError
from metrics.store import Store

log = logging.getLogger(__name__)

D_MIN = 1.0            # minimum |effect size| for a shift
REL_MIN = 0.10         # minimum relative change of the segment values
OTHER_SERVICE_D = 2.0  # an event on another service needs |d| ≥ this, starting right after it
STRENGTH_CAP = 8.0
MIN_POINTS = 3         # buckets with a value needed on each side
N_BUCKETS = 30
IDLE_SHARE_MIN = 0.25  # name idle GPU time when at least this share of C is idle
EXPLAINED_KEEP = 0.5   # share of its strength a symptom keeps once a cause explains it
LAYERS = ("event", "technical", "model", "business", "cost", "data")
DAY = 86400.0
WEEK = 7 * DAY
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
def effect_size(before: np.ndarray, after: np.ndarray, min_points: int = MIN_POINTS) -> float | None:
    """(median after − median before) / pooled robust σ, floored at 5 % of the level."""
    b = before[np.isfinite(before)]
    a = after[np.isfinite(after)]
    if b.size < min_points or a.size < min_points:
        return None
    mb, ma = float(np.median(b)), float(np.median(a))
    sb = 1.4826 * float(np.median(np.abs(b - mb)))
    sa = 1.4826 * float(np.median(np.abs(a - ma)))
    sigma = max(np.sqrt((sb * sb + sa * sa) / 2), 0.05 * max(abs(mb), abs(ma)), 1e-12)
    return (ma - mb) / sigma


def change_point(t: np.ndarray, v: np.ndarray) -> float | None:
    """Start time of the bucket where the series' single best l2 change point lies (ruptures)."""
    import ruptures as rpt

    ok = np.isfinite(v)
    x, tt = v[ok], t[ok]
    if x.size < 2 * MIN_POINTS:
        return None
    if np.ptp(x) == 0:
        return None
    bkps = rpt.Binseg(model="l2", min_size=2, jump=1).fit(x.reshape(-1, 1)).predict(n_bkps=1)
    i = bkps[0]
    return float(tt[i]) if i < x.size else None


def compare(fr: Frame, s: Series, before: tuple[float, float], after: tuple[float, float],
            compared: str) -> Shift | None:
    mb, ma = fr.mask(*before), fr.mask(*after)
    d = effect_size(s.v[mb], s.v[ma], s.min_points)
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


# ---- the analysis ------------------------------------------------------------------------------
def what_changed(store: Store, service: str, at: datetime, window: timedelta = timedelta(hours=1),
                 baseline: timedelta | None = None, config: Settings | None = None,
                 as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Ranked explanations of what changed for `service` in [at − window, at). See module doc."""
    T, w = ts(at), window.total_seconds()
    if w <= 0:
        raise OnepaneError("--window must be positive")
    C, P = (T - w, T), (T - 2 * w, T - w)
    # the same hours one day (or the --baseline) earlier: the reference for series with a daily cycle
    # the same hours a week (else a day) earlier, or --baseline: the reference for series with
    # weekly and daily cycles; the first one the store has data for is used
    shifts = ([baseline.total_seconds()] if baseline else
              [WEEK, DAY] if w < DAY else [WEEK] if w < WEEK else [])
    R = (min([T - 3 * w] + [C[0] - x for x in shifts]), T)
    con = store.connect(as_of)
    try:
        span = store.query(S.sql("wc_span"), {"service": service, "start": dt(R[0]), "end": dt(R[1])},
                           con=con)
        firsts = [x.timestamp() for x in span["first_at"].drop_nulls().to_list()]
        lasts = [x.timestamp() for x in span["last_at"].drop_nulls().to_list()]
        lo = max(R[0], min(firsts)) if firsts else R[0]
        hi = min(T, max(lasts) + 1) if lasts else T
        step = max((hi - max(lo, T - 3 * w)) / N_BUCKETS, 1.0)
        natives = [x for x in span["native_s"].to_list() if x is not None and x > 0]
        if natives:                   # whole multiples of the sampling interval: no aliasing
            native = min(natives)
            step = native * max(1, int(np.ceil(step / native - 1e-9)))
        # buckets start exactly at C's start, so C (and the day-earlier reference) are whole buckets
        fr = Frame(C[0] - np.ceil((C[0] - R[0]) / step - 1e-9) * step, R[1], step)
        price = _gpu_price_per_s(config)
        # only the reference's stretch and the analysed range are read, not the days in between
        far = next((x for x in shifts if lo <= C[0] - x + step), None)
        skip = (T - far, T - 3 * w) if far and T - far < T - 3 * w else None
        series = (S.technical(store, config, service, fr, price, con=con, skip=skip)
                  + S.model_health(store, service, fr, con=con)
                  + S.business(store, config, service, fr, con=con)
                  + S.coverage(store, service, fr, lo, hi, con=con))
        loads = {r["source"]: r for r in store.query(S.sql("source_loads"), con=con).to_dicts()}
        events = store.query(S.sql("wc_events"), {"start": dt(T - 3 * w), "end": dt(T)}, con=con).to_dicts()
        base_values: dict[tuple[str, str], float] = {}
        if baseline:
            b = baseline.total_seconds()
            bfr = Frame(T - b - w, T - b, step)
            for s in (S.technical(store, config, service, bfr, price, con=con)
                      + S.model_health(store, service, bfr, con=con)
                      + S.business(store, config, service, bfr, con=con)):
                base_values[(s.kind, s.subject)] = s.value(np.ones(bfr.n, bool))
        # bills come per day (or longer): comparing part-days would compare missing lines
        cost_items = _cost_items(store, service, C, P, con) if w >= DAY else []
    finally:
        con.close()
    if not series and not cost_items and not any(e["service"] == service for e in events):
        raise OnepaneError(f"no data for service {service!r} in [{dt(R[0]):%Y-%m-%dT%H:%M:%SZ}, "
                           f"{at:%Y-%m-%dT%H:%M:%SZ}); check the service name and --at")

    # the reference window: the same hours a day (or --baseline) earlier when data covers it, so a
    # daily cycle is not read as a change; else the previous window
    REF, ref_label = P, "previous window"
    shift = next((x for x in shifts if lo <= C[0] - x + step), None)
    if shift:
        REF, ref_label = (C[0] - shift, C[1] - shift), f"same time {_dur(shift)} earlier"

    # 2. shifts C vs the reference (or around the change point inside C when there is no reference)
    shifts: dict[int, Shift] = {}
    for i, s in enumerate(series):
        if not s.ranked:
            continue
        win = (min(P[0], REF[0]), C[1])
        onset = change_point(fr.t[fr.mask(*win)], s.v[fr.mask(*win)])
        sh = compare(fr, s, REF, C, ref_label)
        if sh is None and onset is not None and C[0] < onset < C[1] and "/" not in s.subject:
            # no previous window (data starts inside C): split C at its change point; not for
            # per-version series, whose start inside C is a rollout's warm-up, not a change
            sh = compare(fr, s, (C[0], onset), (onset, C[1]), "change point inside the window")
        if s.kind == "data_rows" and sh is not None and sh.after >= sh.before:
            continue                                    # data arriving is not a data problem
        if s.kind == "arrival_lag_s" and sh is not None and (sh.after <= sh.before or sh.after < LATE_MIN_S):
            continue                                    # only data arriving later than it used to
        if significant(sh):
            sh.onset = onset
            shifts[i] = sh

    # 3. events: before/after comparisons
    cost_evidence: dict = {}
    ev_items = []
    gap = 2 * step
    same = sorted(ts(e["occurred_at"]) for e in events if e["service"] == service)
    cluster_start: dict[float, float] = {}
    for x in same:                       # events of this service within `gap` are one change
        prev = [y for y in same if y < x and x - y <= gap]
        cluster_start[x] = cluster_start[prev[-1]] if prev else x
    for e in events:
        te = ts(e["occurred_at"])
        t0 = cluster_start.get(te, te) if e["service"] == service else te
        L = max(w, T - t0)
        prev_same = max([x for x in same if x < t0 - gap / 2] or [T - 3 * w])
        next_same = min([x for x in same if x > te + gap] or [T])
        before = (max(t0 - L, T - 3 * w, prev_same), t0)
        after = (t0, min(t0 + L, next_same, T))
        if REF is not P and e["service"] == service and not any(
                after[0] - shift <= x < t0 - gap / 2 for x in same):
            # seasonal services: compare with the same hours a day earlier (no other change since)
            before = (after[0] - shift, after[1] - shift)
        load = next((compare(fr, s, before, after, "before/after the event") for s in series
                     if s.kind == "request_rate"), None)
        load_dir = int(np.sign(load.after - load.before)) if significant(load) else 0
        evidence = []
        for i, s in enumerate(series):
            if s.role != SYMPTOM or not s.ranked:
                continue
            sh = compare(fr, s, before, after, "before/after the event")
            if not significant(sh):
                continue
            if load_dir and s.load_sign and np.sign(sh.after - sh.before) * s.load_sign == load_dir:
                continue            # the load moved across the event and explains this shift
            if e["service"] != service:
                # another service's event needs a strong shift here that starts right after it
                m = fr.mask(before[0], after[1])
                onset = change_point(fr.t[m], s.v[m])
                if abs(sh.d) < OTHER_SERVICE_D or onset is None or not (te - 2 * step <= onset <= te + w / 2):
                    continue
            evidence.append((i, sh))
        cost_sh = cost_evidence.get((before, after))
        if cost_sh is None and e["service"] == service and after[1] - after[0] >= DAY and before[1] - before[0] >= DAY:
            cost_sh = cost_evidence[(before, after)] = _cost_shift(store, service, before, after, as_of)
        if cost_sh is not None and e["service"] == service:
            evidence.append((-1, cost_sh))
        if e["service"] != service and not evidence:
            continue
        ev_items.append((e, te, before, after, evidence))

    # an own event explains a shift before another service's event does: drop the other's claim
    own_claims = {i for e, *_, ev in ev_items if e["service"] == service for i, _ in ev}
    ev_items = [(e, te, b, a, ev if e["service"] == service else [(i, sh) for i, sh in ev if i not in own_claims])
                for e, te, b, a, ev in ev_items]
    ev_items = [x for x in ev_items if x[0]["service"] == service or x[4]]

    # 4. credit symptoms to causes
    strength: dict[int, float] = {i: sh.strength for i, sh in shifts.items()}
    for _, _, _, _, evidence in ev_items:
        for i, sh in evidence:
            if i >= 0:
                strength[i] = max(strength.get(i, 0.0), sh.strength)
    cost_ev = max((sh.strength for *_, ev in ev_items for i, sh in ev if i < 0), default=0.0)
    idle_item = _idle_item(series, fr, C, P, price)
    total = sum(strength.values()) + (idle_item["_strength"] if idle_item else 0.0)
    total += max(sum(ci["_strength"] for ci in cost_items), cost_ev)
    total = total or 1.0
    tol = 2 * step
    credited: dict[int, str] = {}
    credit_to: dict[str, float] = {}
    ev_keys = []
    for k, (e, te, _, _, evidence) in enumerate(ev_items):
        ev_keys.append(f"event:{k}")
    by_strength = sorted(((sh.strength, k, i) for k, (_, _, _, _, ev) in enumerate(ev_items)
                          for i, sh in ev), reverse=True)
    for _, k, i in by_strength:
        if i in shifts and i not in credited and series[i].role == SYMPTOM:
            onset = shifts[i].onset
            te = ev_items[k][1]
            if onset is None or te <= onset + tol:
                credited[i] = f"event:{k}"
    causes = {i: sh for i, sh in shifts.items() if sh.series.role == CAUSE}
    for i, sh in shifts.items():
        s = sh.series
        if s.role != SYMPTOM or i in credited:
            continue
        for j, c in sorted(causes.items(), key=lambda x: (-x[1].strength, -abs(x[1].d))):
            cs = c.series
            onset_ok = c.onset is None or sh.onset is None or c.onset <= sh.onset + tol
            load_ok = (s.load_sensitive and c.after != c.before
                       and np.sign(sh.after - sh.before) * s.load_sign == np.sign(c.after - c.before))
            fits = ((cs.kind == "request_rate" and load_ok)
                    or (cs.layer == "model" and s.layer in ("model", "business"))
                    or (cs.layer == "data" and cs.source_key == s.source_key))
            if fits and onset_ok:
                credited[i] = f"signal:{j}"
                break
    for i, key in credited.items():
        credit_to[key] = credit_to.get(key, 0.0) + strength[i]

    # 5. items
    items: list[dict[str, Any]] = []
    lead = {}                         # per cluster of simultaneous events, the one named first
    for k, (e, te, before, after, evidence) in enumerate(ev_items):
        key = (e["service"], before, after)
        if key not in lead or KIND_PRIORITY.get(e["kind"], 1) > KIND_PRIORITY.get(ev_items[lead[key]][0]["kind"], 1):
            lead[key] = k
    for k, (e, te, before, after, evidence) in enumerate(ev_items):
        explained = sum(sh.strength for _, sh in evidence)
        part_of = lead[(e["service"], before, after)]
        share = explained / total * (1.0 if part_of == k else EXPLAINED_KEEP)
        item = _event_item(e, te, before, after, evidence, share, service)
        if part_of != k:
            item["evidence"]["part_of"] = _event_subject(ev_items[part_of][0]) + " " + ev_items[part_of][0]["kind"]
        items.append(item)
    cost_event = next((k for k, (*_, ev) in enumerate(ev_items) if any(i < 0 for i, _ in ev)
                       and lead[(ev_items[k][0]["service"], ev_items[k][2], ev_items[k][3])] == k), None)
    for i, sh in shifts.items():
        own = strength[i]
        if sh.series.role == CAUSE:
            score = (own + credit_to.get(f"signal:{i}", 0.0)) / total
        else:
            score = own / total * (EXPLAINED_KEEP if i in credited else 1.0)
        by = None
        if i in credited:
            kind, idx = credited[i].split(":")
            by = (_event_subject(ev_items[int(idx)][0]) + " " + ev_items[int(idx)][0]["kind"]
                  if kind == "event" else f"{series[int(idx)].kind} of {series[int(idx)].subject}")
        items.append(_shift_item(sh, score, by, base_values.get((sh.series.kind, sh.series.subject)),
                                 loads))
    if idle_item:
        idle_item["score"] = idle_item["_strength"] / total
        items.append(idle_item)
    for ci in cost_items:
        ci["score"] = ci["_strength"] / total
        if cost_event is not None:    # the bill moved with an event: the event explains it
            e = ev_items[cost_event][0]
            ci["score"] *= EXPLAINED_KEEP
            ci["evidence"]["explained_by"] = f"{_event_subject(e)} {e['kind']}"
        items.append(ci)
    for it in items:
        it["score"] = round(min(float(it["score"]), 1.0), 4)
        it["link"] = f"?page=service&service={quote(service)}&at={quote(_iso(at))}"
    items.sort(key=lambda it: (-it["score"], 0 if it.pop("_cause", False) else 1,
                               it.pop("_onset", 0.0) or 0.0))
    out = []
    for r, it in enumerate(items, 1):
        clean = {k: v for k, v in it.items() if not k.startswith("_")}
        out.append({"rank": r, **clean})
    return out


# ---- items -------------------------------------------------------------------------------------
def _dur(seconds: float) -> str:
    for unit, n in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % n == 0:
            k = int(seconds // n)
            return f"{k} {unit}{'s' if k != 1 else ''}"
    return f"{seconds:g} s"


def _iso(x: datetime | float) -> str:
    d = dt(x) if isinstance(x, (int, float)) else x
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (f".{d.microsecond // 1000:03d}" if d.microsecond else "") + "Z"


def _fmt(x: float, unit: str = "") -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    if unit == "share":
        return f"{x * 100:.2f}%"
    if unit == "money":
        return f"{x:.6g}"
    return f"{x:.4g}" + (f" {unit}" if unit and unit not in ("", "%") else ("%" if unit == "%" else ""))


def _pct(rel: float) -> str:
    if not np.isfinite(rel):
        return "from zero"
    return f"{rel * 100:+.0f}%"


def _event_subject(e: dict) -> str:
    """service/model_version; for a price change the SKU it names (attributes.sku), if any."""
    if e.get("kind") == "price_change" and e.get("attributes"):
        try:
            sku = json.loads(e["attributes"]).get("sku")
        except (ValueError, AttributeError):
            sku = None
        if sku:
            return str(sku)
    return f"{e['service']}/{e['model_version']}" if e.get("model_version") else str(e["service"])


def _shift_evidence(sh: Shift) -> dict[str, Any]:
    (b0, b1), (a0, a1) = sh.segments
    out = {"signal": sh.series.kind, "subject": sh.series.subject, "unit": sh.series.unit,
           "before": _num(sh.before), "after": _num(sh.after), "change_pct": _num(sh.rel * 100),
           "effect_size": round(sh.d, 2), "before_window": [_iso(b0), _iso(b1)],
           "after_window": [_iso(a0), _iso(a1)], "compared": sh.compared}
    return out | getattr(sh, "extra", {})


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(f"{x:.6g}")


def _event_item(e: dict, te: float, before, after, evidence, score: float, service: str) -> dict:
    subject = _event_subject(e)
    # the service's own signals first, then per-version ones; strongest first within each
    ev = sorted(evidence, key=lambda x: (x[1].series.subject != service, -x[1].strength))
    moved = "; ".join(f"{sh.series.kind}{'' if sh.series.subject == service else ' of ' + sh.series.subject} "
                      f"{_pct(sh.rel)} ({_fmt(sh.before, sh.series.unit)} → "
                      f"{_fmt(sh.after, sh.series.unit)})" for _, sh in ev[:5])
    where = "" if e["service"] == service else f" (on another service, {e['service']})"
    summary = (f"{e['kind']} of {subject} at {_iso(te)}{where} was followed by {moved}."
               if ev else f"{e['kind']} of {subject} at {_iso(te)}{where}; no measurable shift after it.")
    return {"layer": "event", "kind": e["kind"], "subject": subject, "score": score,
            "summary": summary,
            "evidence": {"occurred_at": _iso(te), "detail": e.get("detail"), "event_id": e.get("event_id"),
                         "before_window": [_iso(before[0]), _iso(before[1])],
                         "after_window": [_iso(after[0]), _iso(after[1])],
                         "shifts": [_shift_evidence(sh) for _, sh in ev]},
            "_cause": True, "_onset": te}


def _shift_item(sh: Shift, score: float, by: str | None, base: float | None,
                loads: dict | None = None) -> dict:
    s = sh.series
    verb = "rose" if sh.after > sh.before else "fell"
    (b0, b1), (a0, a1) = sh.segments
    kind = s.kind
    pct = f" {_pct(sh.rel)}" if np.isfinite(sh.rel) else ""
    summary = (f"{s.kind} of {s.subject} {verb}{pct} from {_fmt(sh.before, s.unit)} to "
               f"{_fmt(sh.after, s.unit)} ([{_iso(a0)}, {_iso(a1)}) vs [{_iso(b0)}, {_iso(b1)}), "
               f"effect size {sh.d:+.1f}σ)" + (f", explained by {by}" if by else "") + ".")
    ev = _shift_evidence(sh)
    if s.kind == "arrival_lag_s":
        kind = "late_data"
        summary = (f"{s.source_key} source {s.subject} delivered its rows for [{_iso(a0)}, {_iso(a1)}) "
                   f"{_fmt(sh.after / 3600)} h after their time on average, against {_fmt(sh.before / 3600)} h "
                   f"before: late data, not (necessarily) a change in the service.")
    if s.kind == "data_rows":
        last = getattr(s, "last_at", None)
        (_, _), (_, c_end) = sh.segments
        # stale: nothing in the last quarter of the window; else it thinned out (missing rows)
        quiet = (c_end - (last.timestamp() if last else 0.0)) > (c_end - sh.segments[1][0]) / 4
        kind = "stale_source" if sh.after == 0 or quiet else "missing_data"
        load = (loads or {}).get(s.subject)
        ev["last_data_at"] = _iso(last) if last else None
        if load:
            ev["last_load_at"] = _iso(load["last_load_at"])
        summary = (f"{s.source_key} source {s.subject} delivered data at {_fmt(sh.after)} instants per bucket in "
                   f"[{_iso(a0)}, {_iso(a1)}) against {_fmt(sh.before)} before ({_pct(sh.rel)})"
                   + (f"; its newest data is from {_iso(last)}" if last else "")
                   + (f", newest load finished {_iso(load['last_load_at'])}" if load else "")
                   + ": the data is late or missing, not (necessarily) the service.")
    ev["onset"] = _iso(sh.onset) if sh.onset else None
    if base is not None and np.isfinite(base):
        ev["baseline"] = _num(base)
    if by:
        ev["explained_by"] = by
    return {"layer": s.layer, "kind": kind, "subject": s.subject, "score": score,
            "summary": summary, "evidence": ev, "_cause": s.role == CAUSE, "_onset": sh.onset}


def _gpu_price_per_s(config: Settings | None) -> float | None:
    if config and config.pricing.gpu_hour is not None:
        return float(config.pricing.gpu_hour) / 3600.0
    return None


def _idle_item(series: list[Series], fr: Frame, C, P, price: float | None) -> dict | None:
    s = next((x for x in series if x.kind == "gpu_idle_share"), None)
    if s is None:
        return None
    mc, mp = fr.mask(*C), fr.mask(*P)
    idle_c, cov_c = float(s.idle_s[mc].sum()), float(s.covered_s[mc].sum())
    if cov_c <= 0 or idle_c / cov_c < IDLE_SHARE_MIN:
        return None
    idle_p, cov_p = float(s.idle_s[mp].sum()), float(s.covered_s[mp].sum())
    share = idle_c / cov_c
    ev: dict[str, Any] = {"idle_gpu_seconds": round(idle_c, 3), "covered_gpu_seconds": round(cov_c, 3),
                          "idle_share": round(share, 4), "gpus": s.gpus,
                          "before": {"idle_gpu_seconds": round(idle_p, 3),
                                     "idle_share": round(idle_p / cov_p, 4) if cov_p else None},
                          "window": [_iso(C[0]), _iso(C[1])]}
    money = ""
    if price is not None:
        cost = Decimal(str(idle_c)) * Decimal(str(price * 3600)) / Decimal(3600)
        ev["idle_cost"] = str(cost)
        ev["gpu_hour_price"] = str(Decimal(str(price * 3600)))
        money = f", costing {float(cost):.4g} at {price * 3600:.4g} per GPU-hour"
    summary = (f"GPU idle (utilisation ≤ 1%) for {idle_c:.0f} of {cov_c:.0f} GPU-seconds "
               f"({share * 100:.0f}%) in [{_iso(C[0])}, {_iso(C[1])}){money}; "
               f"before: {idle_p:.0f} GPU-seconds idle.")
    return {"layer": "cost", "kind": "idle_gpu_time", "subject": s.subject, "score": 0.0,
            "summary": summary, "evidence": ev, "_strength": STRENGTH_CAP * share,
            "_cause": False, "_onset": C[0]}


def _cost_items(store: Store, service: str, C, P, con) -> list[dict]:
    from metrics.analysis.anomalies import decompose_cost

    d = decompose_cost(store, service, (dt(P[0]), dt(P[1])), (dt(C[0]), dt(C[1])), con=con)
    if d is None or d["before"] == 0 and d["after"] == 0:
        return []
    before, after = float(d["before"]), float(d["after"])
    rel = (after - before) / abs(before) if before else np.inf
    if abs(rel) < REL_MIN:
        return []
    items = []
    strength = min(STRENGTH_CAP, abs(rel) / 0.05 if np.isfinite(rel) else STRENGTH_CAP)
    top = d["dimensions"][0] if d["dimensions"] else None
    where = (f"; most of it in {top['dimension']}={top['top_value']} ({top['top_share'] * 100:.0f}% of the delta)"
             if top else "")
    summary = (f"cost of {service} {'rose' if after > before else 'fell'} {_pct(rel)} from "
               f"{before:.2f} to {after:.2f} {d['currency']} (price {float(d['price_effect']):+.2f}, "
               f"volume {float(d['volume_effect']):+.2f}, mix {float(d['mix_effect']):+.2f}){where}.")
    kind, subject, cause = "cost", service, False
    pe, ve = abs(float(d["price_effect"])), abs(float(d["volume_effect"]))
    sku = next((x for x in d["dimensions"] if x["dimension"] == "sku"), None)
    if pe > ve and pe > abs(float(d["mix_effect"])) and d.get("price_sku"):
        kind, subject, cause = "price_change", d["price_sku"], True
    elif sku and after > before and sku["top_share"] >= SKU_SPIKE_SHARE:
        # most of a rise sits in one SKU whose price did not move: that SKU's usage spiked
        kind, subject, cause = "sku_spike", sku["top_value"], True
    items.append({"layer": "cost", "kind": kind, "subject": subject, "score": 0.0, "summary": summary,
                  "evidence": {k: (str(v) if isinstance(v, Decimal) else v) for k, v in d.items()},
                  "_strength": strength, "_cause": cause, "_onset": C[0]})
    return items


def _cost_shift(store: Store, service: str, before: tuple[float, float], after: tuple[float, float],
                as_of) -> Shift | None:
    """The bill's change across an event as a shift: cost per day before/after, with its price ×
    volume × mix split (the before segment scaled to the after segment's length)."""
    from metrics.analysis.anomalies import decompose_cost

    con = store.connect(as_of)
    try:
        d = decompose_cost(store, service, (dt(before[0]), dt(before[1])), (dt(after[0]), dt(after[1])),
                           con=con, scale_before=(after[1] - after[0]) / (before[1] - before[0]))
    finally:
        con.close()
    if d is None or not d["before"]:
        return None
    days = (after[1] - after[0]) / DAY
    b, a = float(d["before"]) / days, float(d["after"]) / days
    rel = (a - b) / abs(b)
    if abs(rel) < REL_MIN:
        return None
    price_led = abs(d["price_effect"]) >= max(abs(d["volume_effect"]), abs(d["mix_effect"]))
    s = Series("cost_price" if price_led else "daily_cost", "cost", service, SYMPTOM, np.zeros(0),
               np.zeros(0), d["currency"] + "/day")
    sh = Shift(s, b, a, rel / 0.05, rel, None, (before, after), "before/after the event (bill)")
    sh.extra = {k: str(d[k]) for k in ("price_effect", "volume_effect", "mix_effect", "delta")} | {
        "price_sku": d.get("price_sku"), "top": d["dimensions"][0] if d["dimensions"] else None}
    return sh
