"""Cost analysis: price × volume × mix decomposition and daily cost anomalies.

Decomposition (`decompose_cost`): for the line items of two windows, grouped by SKU k with cost
C_k and priced quantity Q_k (unit price p_k = C_k / Q_k, share s_k = Q_k / Q):
    volume = (Q₁ − Q₀) · P₀              (P₀ = C₀ / Q₀, the old average price)
    mix    = Q₁ · Σ_k (s₁ₖ − s₀ₖ) · p₀ₖ    (moving quantity between cheaper and dearer SKUs)
    price  = Σ_k Q₁ₖ · (p₁ₖ − p₀ₖ)        (the same quantity at the new prices)
and volume + mix + price = C₁ − C₀ exactly (Decimal arithmetic). A SKU new in the after window is
priced at its own price (its cost lands in volume/mix), a line without a quantity counts as its own
unit (quantity = cost). Quantities of different units are summed as they are; the mix term then
absorbs the unit differences. Each dimension (SKU, model version, team, region, service) reports its
biggest contributor and that contributor's share of the total delta. One currency at a time.

Anomalies (`cost_anomalies`): daily effective cost per service, team and SKU, over the window's days
from its first to its last billed day (days outside are unknown, not zero). The expected value is
trend + weekly seasonal from statsmodels' robust STL (period 7) when the series has ≥ 14 days, else
the median of the same weekday (or of all days); the residual scale is 1.4826 × MAD of the residuals.
Days that stand out are replaced by their expected value and the fit repeated (up to 3 rounds), so
the expected value of a service, team or SKU comes from that grain's own baseline without the spike.
A day is anomalous when its excess over expected is above `sensitivity` × scale and above
`min_relative` of the expected value and `min_amount`. Severity = actual − expected for the same
grain, in money; the root
cause is the SKU (for service/team series) or the service (for SKU series) holding most of it.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from metrics.analysis.signals import sql
from metrics.store import Store

log = logging.getLogger(__name__)

DIMENSIONS = ("sku", "model_version", "team", "region", "service")


def _d(x: Any) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x or 0))


def decompose(before: dict[str, tuple[Decimal, Decimal | None]],
              after: dict[str, tuple[Decimal, Decimal | None]]) -> dict[str, Decimal]:
    """Price, volume and mix effects between two {sku: (cost, quantity)} maps (see module doc)."""
    def norm(m):
        return {k: (_d(c), _d(q) if q not in (None, 0) and _d(q) != 0 else _d(c)) for k, (c, q) in m.items()}
    b, a = norm(before), norm(after)
    c0 = sum((c for c, _ in b.values()), Decimal(0))
    c1 = sum((c for c, _ in a.values()), Decimal(0))
    q0 = sum((q for _, q in b.values()), Decimal(0))
    q1 = sum((q for _, q in a.values()), Decimal(0))
    p0 = {k: (c / q if q else Decimal(0)) for k, (c, q) in b.items()}
    p1 = {k: (c / q if q else Decimal(0)) for k, (c, q) in a.items()}
    for k in a:
        p0.setdefault(k, p1[k])
    P0 = c0 / q0 if q0 else Decimal(0)
    volume = (q1 - q0) * P0
    mix = Decimal(0)
    if q1:
        for k in set(a) | set(b):
            s1 = a[k][1] / q1 if k in a else Decimal(0)
            s0 = b[k][1] / q0 if (k in b and q0) else Decimal(0)
            mix += (s1 - s0) * q1 * p0[k]
    price = sum((a[k][1] * (p1[k] - p0[k]) for k in a), Decimal(0))
    # exactness: whatever Decimal rounding left goes to price (the smallest term to explain)
    price += (c1 - c0) - (volume + mix + price)
    return {"before": c0, "after": c1, "delta": c1 - c0, "price_effect": price,
            "volume_effect": volume, "mix_effect": mix}


def decompose_cost(store: Store, service: str | None, before: tuple[datetime, datetime],
                   after: tuple[datetime, datetime], con=None, scale_before: float = 1.0,
                   as_of=None) -> dict[str, Any] | None:
    """Price × volume × mix between two windows, plus each dimension's top share of the delta.

    `scale_before` scales the before window's cost and quantity (e.g. to the after window's length)."""
    df = store.query(sql("cost_lines"), {"service": service, "b0": before[0], "b1": before[1],
                                         "a0": after[0], "a1": after[1]}, con=con,
                     as_of=None if con is not None else as_of)
    if df.is_empty():
        return None
    cur = (df.group_by("currency").agg(pl.col("cost").sum().abs().alias("x")).sort("x", descending=True)
           ["currency"][0])
    df = df.filter(pl.col("currency") == cur)
    k = Decimal(str(scale_before))
    maps = []
    for w in (0, 1):
        g = df.filter(pl.col("w") == w).group_by("sku").agg(pl.col("cost").sum(), pl.col("qty").sum())
        f = k if w == 0 else Decimal(1)
        maps.append({r["sku"]: (_d(r["cost"]) * f, None if r["qty"] is None else _d(r["qty"]) * f)
                     for r in g.to_dicts()})
    out: dict[str, Any] = decompose(*maps)
    out["currency"] = cur
    delta = out["delta"]
    dims = []
    for dim in DIMENSIONS:
        g = df.group_by([dim, "w"]).agg(pl.col("cost").sum()).to_dicts()
        per: dict[str, Decimal] = {}
        for r in g:
            sign = Decimal(1) if r["w"] == 1 else -k
            per[r[dim] or "(none)"] = per.get(r[dim] or "(none)", Decimal(0)) + sign * _d(r["cost"])
        if len(per) < 1 or not delta:
            continue
        top = max(per, key=lambda k: per[k] * (1 if delta > 0 else -1))
        dims.append({"dimension": dim, "top_value": top, "top_delta": per[top],
                     "top_share": float(per[top] / delta),
                     "deltas": {k: str(v) for k, v in sorted(per.items(), key=lambda x: -abs(x[1]))[:5]}})
    dims.sort(key=lambda x: (-(len(x["deltas"]) > 1), -abs(x["top_share"])))
    out["dimensions"] = dims
    # the SKU whose price moved the most (for naming a price change)
    best, best_v = None, Decimal(0)
    for k, (c, q) in maps[1].items():
        if k in maps[0] and q and maps[0][k][1]:
            eff = _d(q) * (_d(c) / _d(q) - _d(maps[0][k][0]) / _d(maps[0][k][1]))
            if abs(eff) > abs(best_v):
                best, best_v = k, eff
    out["price_sku"] = best
    return out


# ---- daily anomalies ---------------------------------------------------------------------------
def _expected(y: np.ndarray, dow: np.ndarray) -> np.ndarray:
    if y.size >= 14:
        from statsmodels.tsa.seasonal import STL

        res = STL(y, period=7, robust=True).fit()
        return np.asarray(res.trend + res.seasonal)
    exp = np.empty_like(y)
    for i in range(y.size):
        same = y[dow == dow[i]]
        exp[i] = np.median(same) if same.size >= 3 else np.median(y)
    return exp


def _baseline(y: np.ndarray, dow: np.ndarray, sensitivity: float, min_relative: float,
              min_amount: float, rounds: int = 3) -> tuple[np.ndarray, float]:
    """Expected cost per day of one series from its own baseline, and the residual scale: days that
    stand out are replaced by their expected value and the fit repeated, so a spike does not raise
    its own expected value (robust STL still lets a large spike pull trend and season up by ~20 %)."""
    exp = _expected(y, dow)
    resid = y - exp
    scale = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    flagged = np.zeros(y.size, bool)
    for _ in range(rounds):
        thr = np.maximum(np.maximum(sensitivity * scale, min_relative * np.abs(exp)), min_amount)
        new = (resid > thr) & (resid > 0)
        if not new.any() or (new == flagged).all():
            break
        flagged = new
        exp = _expected(np.where(flagged, exp, y), dow)
        resid = y - exp
        clean = resid[~flagged]
        scale = 1.4826 * float(np.median(np.abs(clean - np.median(clean)))) if clean.size else scale
    return exp, scale


def cost_anomalies(store: Store, start: datetime, end: datetime, sensitivity: float = 4.0,
                   min_relative: float = 0.25, min_amount: float = 0.0,
                   levels: tuple[str, ...] = ("service", "team", "sku"), as_of=None
                   ) -> list[dict[str, Any]]:
    """Days whose cost is unusually high per service/team/SKU (see module doc), worst first;
    with `as_of`, from the bills as the store knew them then."""
    df = store.query(sql("cost_daily"), {"start": start, "end": end}, as_of=as_of)
    if df.is_empty():
        return []
    # days before the first bill or after the last one in the window are unknown, not zero-cost
    first = max(start.replace(hour=0, minute=0, second=0, microsecond=0), df["day"].min())
    last = min(end - timedelta(microseconds=1), df["day"].max())
    days = pl.datetime_range(first, last, "1d", time_zone="UTC", eager=True)
    day_index = {d: i for i, d in enumerate(days.to_list())}
    dow = np.array([d.weekday() for d in days.to_list()])
    out = []
    for cur in df["currency"].unique().to_list():
        dc = df.filter(pl.col("currency") == cur)
        for level in levels:
            root_dim = "sku" if level != "sku" else "service"
            for (key,), g in dc.group_by([level]):
                daily = g.group_by("day").agg(pl.col("cost").sum())
                y = np.zeros(len(days))
                exact = {}
                for d, c in daily.iter_rows():
                    if d in day_index:
                        y[day_index[d]] = float(c)
                        exact[day_index[d]] = c
                exp, scale = _baseline(y, dow, sensitivity, min_relative, min_amount)
                resid = y - exp
                for i in np.nonzero(resid > 0)[0]:
                    thr = max(sensitivity * scale, min_relative * abs(exp[i]), min_amount)
                    if resid[i] <= thr or resid[i] <= 0:
                        continue
                    day = days[int(i)]
                    root = _root_cause(g, day, root_dim, days, day_index)
                    out.append({"level": level, "key": key, "day": day.date().isoformat(),
                                "currency": cur, "cost": exact.get(int(i), Decimal(0)),
                                "expected": Decimal(str(round(float(exp[i]), 6))),
                                "severity": Decimal(str(round(float(resid[i]), 6))),
                                "score": float(resid[i] / scale) if scale else float("inf"),
                                "root_cause": root})
    out.sort(key=lambda a: -a["severity"])
    return out


def _root_cause(g: pl.DataFrame, day, dim: str, days, day_index) -> dict[str, Any] | None:
    per = g.group_by([dim, "day"]).agg(pl.col("cost").sum())
    best, best_x = None, -np.inf
    for (val,), h in per.group_by([dim]):
        y = np.zeros(len(days))
        for d, c in h.select("day", "cost").iter_rows():
            if d in day_index:
                y[day_index[d]] = float(c)
        i = day_index[day]
        others = np.delete(y, i)
        excess = y[i] - float(np.median(others)) if others.size else y[i]
        if excess > best_x:
            best, best_x = val, excess
    return {"dimension": dim, "value": best, "excess": round(best_x, 6)} if best is not None else None


def precision_recall(found: list[dict], planted: list[dict], level: str = "service") -> dict[str, float]:
    """Precision/recall of service-level anomalies against planted spikes [{day, service, ...}]."""
    got = {(a["day"], a["key"]) for a in found if a["level"] == level}
    want = {(p["day"][:10], p["service"]) for p in planted}
    tp = len(got & want)
    return {"precision": tp / len(got) if got else 1.0, "recall": tp / len(want) if want else 1.0,
            "true_positives": tp, "found": len(got), "planted": len(want)}
