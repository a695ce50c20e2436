"""What changed without knowing the service: every service analysed alone, then ranked together."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from metrics.analysis import signals as S
from metrics.analysis.signals import dt, ts
from metrics.analysis.wc_items import _iso
from metrics.analysis.wc_stats import EXPLAINED_KEEP
from metrics.analysis.wc_read import LOOKBACK_S, reading
from metrics.analysis.what_changed import _explain, _ranked, read_range
from metrics.config import Settings
from metrics.errors import OnepaneError
from metrics.store import Store

log = logging.getLogger(__name__)


# ---- without knowing the service ---------------------------------------------------------------
def across_services(store: Store, at: datetime, window: timedelta, baseline: timedelta | None = None,
                    config: Settings | None = None, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Every service with data in the read range, analysed alone, then ranked together.

    Scores become the strength an item explains over the strength of everything that shifted on
    every service, so a small wobble on a quiet service ranks below a large shift elsewhere. A
    change event found in more than one service's list (a deploy on X followed by errors on Y, a
    shared dependency) becomes one item that adds up what it explains everywhere and lists the
    services (`evidence.explains_on`). Each service's earliest onset orders "which changed first"
    (`evidence.service_onset_rank`, 1 = first). A shift whose onset is not inside the window (a
    level unlike the reference's, from an older change) counts half here: changes seen starting in
    the window rank first."""
    T, w = ts(at), window.total_seconds()
    R = read_range(at, window, baseline)
    per: list[dict[str, Any]] = []
    grand = 0.0
    # one connection narrowed to the read range for every service (metrics.analysis.wc_read)
    with reading(store, as_of, R[0] - LOOKBACK_S, R[1]) as con:
        with_data = store.query(S.sql("wc_services"), {"start": dt(T - 3 * w), "end": dt(T)},
                                con=con)["service"].to_list()
        spans = store.query(S.sql("wc_span"), {"service": None, "start": dt(R[0]), "end": dt(R[1])}, con=con)
        shared: dict[str, Any] = {}                  # loads and change events, read once
        for svc in with_data:
            try:
                items, total = _explain(store, svc, at, window, baseline, config, as_of, con=con,
                                        span=spans.filter(pl.col("service") == svc), shared=shared)
            except OnepaneError as e:
                log.info("what_changed service=%s skipped=%s", svc, e)
                continue
            grand += total if items else 0.0
            per += items
    if not with_data:
        raise OnepaneError(f"no data for any service in [{dt(T - 3 * w):%Y-%m-%dT%H:%M:%SZ}, "
                           f"{at:%Y-%m-%dT%H:%M:%SZ}); check --at")
    groups: dict[tuple, list[dict[str, Any]]] = {}
    out = [it for it in per if it["layer"] != "event"]
    for it in per:
        if it["layer"] == "event":
            groups.setdefault((it["kind"], it["subject"], it["evidence"].get("occurred_at")), []).append(it)
    for group in groups.values():
        # the event's own service tells its story; the others add what it explains there
        base = next((it for it in group if it["subject"].split("/")[0] == it["service"]), group[0])
        others = [it for it in group if it is not base and it["_abs"] > 0]
        base["_abs"] = sum(it["_abs"] for it in group)
        base["evidence"]["explains_on"] = [it["service"] for it in [base] + others if it["_abs"] > 0]
        if others:
            base["evidence"]["shifts_on"] = {it["service"]: it["evidence"].get("shifts", []) for it in others}
            base["summary"] += "".join(f" On {it['service']}: {it['summary']}" for it in others)
        out.append(base)
    for it in out:
        if not it.get("_in_window", True):
            # a level unlike the reference's whose start is not in the read range (an older change)
            # ranks below changes seen starting now
            it["_abs"] *= EXPLAINED_KEEP
    grand = grand or 1.0
    onsets: dict[str, float] = {}
    for it in out:
        it["score"] = round(min(it["_abs"] / grand, 1.0), 4)
        o = it.get("_onset")
        if o is not None and it["score"] > 0:
            onsets[it["service"]] = min(onsets.get(it["service"], o), o)
    order = {svc: r for r, svc in enumerate(sorted(onsets, key=onsets.get), 1)}
    for it in out:
        if it["service"] in order:
            it["evidence"]["service_onset_rank"] = order[it["service"]]
            it["evidence"]["service_first_change_at"] = _iso(onsets[it["service"]])
    return _ranked(out)


