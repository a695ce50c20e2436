"""What changed, items: the ranked entries (events, shifts, idle GPU time, bill changes) as dicts
with a one-line summary and their evidence. Times are UTC ISO 8601; numbers carry their unit."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from metrics.analysis.signals import CAUSE, SYMPTOM, Frame, Series, dt
from metrics.analysis.wc_stats import (DAY, IDLE_SHARE_MIN, REL_MIN, SKU_SPIKE_SHARE,
                                       STRENGTH_CAP, Shift)
from metrics.config import Settings
from metrics.store import Store


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
    if s.kind == "request_rate" and s.role == CAUSE and sh.before > 0 and np.isfinite(sh.rel):
        # load is a cause of its own: "request rate ×3 since 14:40"
        since = sh.onset if sh.onset is not None else a0
        factor = sh.after / sh.before
        summary = (f"request rate of {s.subject} ×{factor:.2g} since {_iso(since)} "
                   f"({_fmt(sh.before, s.unit)} → {_fmt(sh.after, s.unit)}, effect size {sh.d:+.1f}σ, "
                   f"no change event explains it)" + (f", explained by {by}" if by else "") + ".")
        ev["factor"] = _num(factor)
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
                con) -> Shift | None:
    """The bill's change across an event as a shift: cost per day before/after, with its price ×
    volume × mix split (the before segment scaled to the after segment's length). `con`: the
    analysis' connection (wc_read.reading: its stg_cost holds the read range's lines)."""
    from metrics.analysis.anomalies import decompose_cost

    d = decompose_cost(store, service, (dt(before[0]), dt(before[1])), (dt(after[0]), dt(after[1])),
                       con=con, scale_before=(after[1] - after[0]) / (before[1] - before[0]))
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
