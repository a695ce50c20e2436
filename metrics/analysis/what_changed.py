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
   cost, null rates. Buckets are min(w / 40, span of data in R / 30), rounded up to a whole
   multiple of the inputs' sampling interval and never below 5 s (a 10-minute window over
   15-second scrapes gets 15-second buckets; hourly scrapes never alias into uneven buckets).
2. Each signal's change point over [T − 3w, T) comes first (binary segmentation, l2, one breakpoint).
   When it lies inside C, the buckets after it are compared with the window-length before it (or
   the same hours a day/week earlier): a late shift counts once it has ≥ 3 buckets with a value
   after its onset and |d| ≥ max(1, 4/√n) for n such buckets (wc_stats.onset_shift). Otherwise C
   is compared with the reference. Shift of a signal between two segments = effect size
   d = (median after − median before) / σ,
   where σ is the series' own variability: the pooled robust standard deviation (1.4826 × MAD) of its
   bucket values in both segments, floored at 5 % of the level so a flat series does not divide by
   zero. With a window of a day or more σ is also floored at the block-to-block noise: 2 × √2 × the
   standard deviation of the medians of the earlier blocks as long as the after segment (a day for
   the whole window, a few hours since a recent onset; wc_stats.segment_noise), so two days that
   differ as quiet days do are not a change although each is steady hour to hour. A shift counts when |d| ≥ 1 and the segment values differ by ≥ 10 %. Series need 3 values
   a side, except windowed reports (model health: one value per day or week), where one value a
   side is compared against the 5 % floor alone. Its strength is min(|d|, 8), so one wild series
   cannot drown the others.
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

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import numpy as np

from metrics.analysis import signals as S
from metrics.analysis.signals import CAUSE, SYMPTOM, Frame, dt, ts
from metrics.analysis.wc_evidence import chart_data
from metrics.analysis.wc_read import LOOKBACK_S, reading
from metrics.analysis.wc_items import (_cost_items, _cost_shift, _dur, _event_item, _event_subject,
                                       _gpu_price_per_s, _idle_item, _iso, _shift_item)
from metrics.analysis.wc_stats import (DAY, EXPLAINED_KEEP, KIND_PRIORITY, LATE_MIN_S, N_BUCKETS,
                                       BUCKETS_PER_WINDOW, MIN_STEP_S, onset_shift,
                                       steps_at, version_local, long_window_noise,
                                       OTHER_SERVICE_D, WEEK, Shift, change_point, compare, significant)
from metrics.config import Settings
from metrics.errors import OnepaneError
from metrics.store import Store
from metrics.times import utcnow

log = logging.getLogger(__name__)


# ---- the analysis ------------------------------------------------------------------------------
def what_changed(store: Store, service: str | None = None, at: datetime | None = None,
                 window: timedelta = timedelta(hours=1), baseline: timedelta | None = None,
                 config: Settings | None = None, as_of: datetime | None = None,
                 now: datetime | None = None) -> list[dict[str, Any]]:
    """Ranked explanations of what changed in [at − window, at) (at defaults to `now`, itself the
    clock by default). With a `service`, for that service; without one, across every service with
    data in the range (see `across_services`). Each item has rank, layer, kind, subject, score,
    summary, evidence, link and service. See the module doc for the method."""
    at = at or now or utcnow()
    if window.total_seconds() <= 0:
        raise OnepaneError("--window must be positive")
    if service is None:
        from metrics.analysis.wc_across import across_services

        return across_services(store, at, window, baseline, config, as_of)
    items, _ = _explain(store, service, at, window, baseline, config, as_of)
    return _ranked(items)


def read_range(at: datetime, window: timedelta, baseline: timedelta | None) -> tuple[float, float]:
    """R: [T − 3w, T), extended back to the reference (the same hours a week/day or --baseline earlier)."""
    T, w = ts(at), window.total_seconds()
    shifts = ([baseline.total_seconds()] if baseline else
              [WEEK, DAY] if w < DAY else [WEEK] if w < WEEK else [])
    return min([T - 3 * w] + [T - w - x for x in shifts]), T


def _explain(store: Store, service: str, at: datetime, window: timedelta, baseline: timedelta | None,
             config: Settings | None, as_of: datetime | None, con=None, span=None,
             shared: dict | None = None) -> tuple[list[dict[str, Any]], float]:
    """Unranked items of one service, and the total strength of what shifted there. `con`: a
    connection narrowed to the read range (wc_read.reading), by default one is opened here and
    closed on return; `span`: this service's rows of wc_span over the read range, by default read
    here; `shared`: a dict kept across the services of one answer (loads and change events, read
    once)."""
    T, w = ts(at), window.total_seconds()
    if w <= 0:
        raise OnepaneError("--window must be positive")
    C, P = (T - w, T), (T - 2 * w, T - w)
    # the same hours one day (or the --baseline) earlier: the reference for series with a daily cycle
    # the same hours a week (else a day) earlier, or --baseline: the reference for series with
    # weekly and daily cycles; the first one the store has data for is used
    shifts = ([baseline.total_seconds()] if baseline else
              [WEEK, DAY] if w < DAY else [WEEK] if w < WEEK else [])
    R = read_range(at, window, baseline)
    if con is None:                   # one connection narrowed to the read range (wc_read)
        with reading(store, as_of, R[0] - LOOKBACK_S, R[1]) as con:
            return _explain(store, service, at, window, baseline, config, as_of, con=con, span=span,
                            shared=shared)
    if span is None:
        span = store.query(S.sql("wc_span"), {"service": service, "start": dt(R[0]), "end": dt(R[1])},
                           con=con)
    firsts = [x.timestamp() for x in span["first_at"].drop_nulls().to_list()]
    lasts = [x.timestamp() for x in span["last_at"].drop_nulls().to_list()]
    lo = max(R[0], min(firsts)) if firsts else R[0]
    hi = min(T, max(lasts) + 1) if lasts else T
    # buckets follow the window (w / BUCKETS_PER_WINDOW) and the data's span (span / N_BUCKETS),
    # whichever is finer: a 10-minute window over 15-second scrapes gets 15-second buckets
    step = max(min((hi - max(lo, T - 3 * w)) / N_BUCKETS, w / BUCKETS_PER_WINDOW), MIN_STEP_S)
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
    shared = {} if shared is None else shared        # the same for every service of one answer
    if "loads" not in shared:
        shared["loads"] = {r["source"]: r for r in store.query(S.sql("source_loads"), con=con).to_dicts()}
        shared["events"] = store.query(S.sql("wc_events"), {"start": dt(T - 3 * w), "end": dt(T)},
                                       con=con).to_dicts()
    loads, events = shared["loads"], shared["events"]
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
    if not series and not cost_items and not any(e["service"] == service for e in events):
        raise OnepaneError(f"no data for service {service!r} in [{dt(R[0]):%Y-%m-%dT%H:%M:%SZ}, "
                           f"{at:%Y-%m-%dT%H:%M:%SZ}); check the service name and --at")

    # the reference window: the same hours a day (or --baseline) earlier when data covers it, so a
    # daily cycle is not read as a change; else the previous window
    REF, ref_label = P, "previous window"
    shift = next((x for x in shifts if lo <= C[0] - x + step), None)
    if shift:
        REF, ref_label = (C[0] - shift, C[1] - shift), f"same time {_dur(shift)} earlier"

    if w >= DAY:
        # windows of a day or more: σ floored at the block-to-block noise (wc_stats.segment_noise)
        long_window_noise(fr, series, C[0])

    # 2. shifts: each signal's change point over [T − 3w, T) first. A change point inside C with
    # enough buckets after it (see onset_shift) compares after-onset with before-onset; otherwise
    # (or when that is not significant) the whole of C is compared with the reference
    shifts: dict[int, Shift] = {}
    recent = fr.mask(T - 3 * w, T)
    for i, s in enumerate(series):
        if not s.ranked:
            continue
        win = (min(P[0], REF[0]), C[1])
        onset = change_point(fr.t[fr.mask(*win)], s.v[fr.mask(*win)])
        late = change_point(fr.t[recent], s.v[recent])
        sh = onset_shift(fr, s, late, C, w, shift if REF is not P else None)
        if sh is not None:
            onset = late
        else:
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
            # began inside the window (seen starting), not only a level unlike the reference's
            sh.in_window = late is not None and C[0] <= late < C[1]
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
                if not steps_at(fr, s, te, step) or version_local(fr, series, s, before, after, service):
                    continue        # a creep already under way, or a shift of one version only
            evidence.append((i, sh))
        cost_sh = cost_evidence.get((before, after))
        if cost_sh is None and e["service"] == service and after[1] - after[0] >= DAY and before[1] - before[0] >= DAY:
            cost_sh = cost_evidence[(before, after)] = _cost_shift(store, service, before, after, con)
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
    # a service-wide symptom carried by one version (its other versions did not move) is that
    # version's: "errors on ranker/v2", not "errors on ranker"
    for i, sh in shifts.items():
        s = sh.series
        if i in credited or s.role != SYMPTOM or s.subject != service:
            continue
        movers = [j for j, o in shifts.items() if o.series.kind == s.kind and o.series.subject.startswith(service + "/")
                  and np.sign(o.after - o.before) == np.sign(sh.after - sh.before)]
        if len(movers) == 1 and version_local(fr, series, s, *shifts[movers[0]].segments, service):
            credited[i] = f"signal:{movers[0]}"
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
        drawn = [sh.series for _, sh in sorted(evidence, key=lambda x: -x[1].strength) if sh.series.t.size]
        item["_series"] = drawn[0] if drawn else next((x for x in series if x.kind == "request_rate"), None)
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
            score = (own * (EXPLAINED_KEEP if i in credited else 1.0) + credit_to.get(f"signal:{i}", 0.0)) / total
        by = None
        if i in credited:
            kind, idx = credited[i].split(":")
            by = (_event_subject(ev_items[int(idx)][0]) + " " + ev_items[int(idx)][0]["kind"]
                  if kind == "event" else f"{series[int(idx)].kind} of {series[int(idx)].subject}")
        items.append(_shift_item(sh, score, by, base_values.get((sh.series.kind, sh.series.subject)),
                                 loads) | {"_series": sh.series, "_in_window": getattr(sh, "in_window", True)})
    if idle_item:
        idle_item["score"] = idle_item["_strength"] / total
        idle_item["_series"] = next((x for x in series if x.kind == "gpu_util_pct"), None)
        items.append(idle_item)
    for ci in cost_items:
        ci["score"] = ci["_strength"] / total
        if cost_event is not None:    # the bill moved with an event: the event explains it
            e = ev_items[cost_event][0]
            ci["score"] *= EXPLAINED_KEEP
            ci["evidence"]["explained_by"] = f"{_event_subject(e)} {e['kind']}"
        items.append(ci)
    for it in items:
        it["_abs"] = float(it["score"]) * total      # strength explained, comparable across services
        it["score"] = round(min(float(it["score"]), 1.0), 4)
        it["service"] = service
        it["link"] = f"?page=service&service={quote(service)}&at={quote(_iso(at))}"
        it["chart"] = chart_data(it, it.pop("_series", None), fr, (T - 3 * w, T), events, service)
    return items, total


def _ranked(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = sorted(items, key=lambda it: (-it["score"], 0 if it.get("_cause") else 1, it.get("_onset") or 0.0))
    return [{"rank": r, **{k: v for k, v in it.items() if not k.startswith("_")}}
            for r, it in enumerate(items, 1)]
