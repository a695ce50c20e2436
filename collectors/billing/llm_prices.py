"""Estimate LLM cost from token counts with a genai-prices table, and reconcile it with the bill.

Price tables (pydantic/genai-prices format): the v2 JSON list of providers, or one provider's YAML.
- Prices are USD per million tokens (`input_mtok`, `output_mtok`, `cache_read_mtok`,
  `cache_write_mtok`, `cache_write_1h_mtok`, ...) and per thousand requests (`requests_kcount`).
- A price may be tiered by context length: `{"base": 3, "tiers": [{"start": 200000, "price": 6}]}`.
  Counters are aggregates, so the tier is chosen from the average input tokens per request when the
  request count is known (every token of a request above `start` costs the tier price, as the
  vendors bill long-context requests); without a request count the base price is used.
- `prices` may be a list of `{"constraint": {"start_date": ...}, "prices": {...}}`: the entry in
  force at the usage time wins (the latest start_date not after it).
- Models are matched by rule (`equals`, `starts_with`, `ends_with`, `contains`, `regex`, `or`,
  `and`), provider first by id, then by its `model_match`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from metrics.errors import InputError
from metrics.times import utcnow

# token kind (as counted by telemetry or vendor usage rows) -> price key
KIND_PRICE = {
    "input": "input_mtok", "prompt": "input_mtok", "uncached_input": "input_mtok",
    "output": "output_mtok", "completion": "output_mtok",
    "cache_read": "cache_read_mtok", "input_cached": "cache_read_mtok", "cached": "cache_read_mtok",
    "cache_write": "cache_write_mtok", "cache_write_5m": "cache_write_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
    "input_audio": "input_audio_mtok", "output_audio": "output_audio_mtok",
    "reasoning": "output_mtok",
}
FALLBACK = {"cache_write_1h_mtok": "cache_write_mtok", "cache_read_mtok": "input_mtok",
            "input_audio_mtok": "input_mtok", "output_audio_mtok": "output_mtok"}
MILLION = Decimal(1_000_000)


def _dec(v: Any) -> Decimal:
    return Decimal(str(v))


@dataclass
class PriceTable:
    providers: list[dict]

    @classmethod
    def load(cls, path: str | Path) -> "PriceTable":
        """A v2 JSON list, a single provider (JSON or YAML), or a folder of them."""
        path = Path(path)
        files = sorted(path.glob("*.json")) + sorted(path.glob("*.yml")) + sorted(path.glob("*.yaml")) \
            if path.is_dir() else [path]
        providers: list[dict] = []
        for f in files:
            text = f.read_text(encoding="utf-8")
            try:
                if f.suffix in (".yml", ".yaml"):
                    import yaml
                    doc = yaml.safe_load(text)
                else:
                    doc = json.loads(text)
            except Exception as e:  # noqa: BLE001 - any parse failure is bad input
                raise InputError(f"not a genai-prices table: {e}", file=str(f)) from None
            for p in (doc if isinstance(doc, list) else [doc]):
                if isinstance(p, dict) and "models" in p:
                    if not any(q.get("id") == p.get("id") for q in providers):
                        providers.append(p)
        if not providers:
            raise InputError("no providers with models found", file=str(path))
        return cls(providers)

    def find(self, model: str, provider: str | None = None) -> tuple[dict, dict] | None:
        """(provider, model entry) for a model name; the named provider first."""
        cands = self.providers
        if provider:
            named = [p for p in cands if p.get("id") == provider.lower()
                     or matches(p.get("provider_match"), provider.lower())]
            cands = named + [p for p in cands if p not in named]
        for exact in (True, False):
            for p in cands:
                if not exact and p.get("model_match") and not matches(p["model_match"], model):
                    continue
                for m in p.get("models", []):
                    if (m.get("id") == model) if exact else matches(m.get("match"), model):
                        return p, m
        return None


def matches(rule: Any, value: str) -> bool:
    if not rule or value is None:
        return False
    v = value.lower()
    if "or" in rule:
        return any(matches(r, value) for r in rule["or"])
    if "and" in rule:
        return all(matches(r, value) for r in rule["and"])
    if "equals" in rule:
        return v == str(rule["equals"]).lower()
    if "starts_with" in rule:
        return v.startswith(str(rule["starts_with"]).lower())
    if "ends_with" in rule:
        return v.endswith(str(rule["ends_with"]).lower())
    if "contains" in rule:
        return str(rule["contains"]).lower() in v
    if "regex" in rule:
        return re.search(rule["regex"], value) is not None
    return False


def prices_at(model: dict, at: datetime | date | None = None) -> dict:
    """The price set in force at `at` (latest constraint start_date not after it)."""
    p = model.get("prices") or {}
    if isinstance(p, dict):
        return p
    day = (at.date() if isinstance(at, datetime) else at) or utcnow().date()
    best, best_start = None, None
    for entry in p:
        c = entry.get("constraint") or {}
        start = date.fromisoformat(str(c["start_date"])[:10]) if c.get("start_date") else date.min
        end = date.fromisoformat(str(c["end_date"])[:10]) if c.get("end_date") else date.max
        if start <= day < end and (best_start is None or start >= best_start):
            best, best_start = entry.get("prices", {}), start
    return best or {}


def unit_price(price: Any, input_per_request: Decimal | None) -> Decimal:
    """Per-million price, tiered by input tokens per request when the price has tiers."""
    if isinstance(price, dict):
        chosen = _dec(price.get("base", 0))
        if input_per_request is not None:
            for t in sorted(price.get("tiers", []), key=lambda t: t["start"]):
                if input_per_request > t["start"]:
                    chosen = _dec(t["price"])
        return chosen
    return _dec(price)


def estimate(table: PriceTable, model: str, counts: dict[str, Any], at=None,
             requests: Any = None, provider: str | None = None) -> dict[str, Any]:
    """Estimated USD cost of token `counts` ({kind: tokens}) for one model.

    Returns {model, matched, cost (Decimal|None), currency, lines: [{kind, tokens, price_mtok, cost}],
    unpriced: [kinds without a price]}."""
    hit = table.find(model, provider)
    if hit is None:
        return {"model": model, "matched": None, "cost": None, "currency": "USD", "lines": [],
                "unpriced": sorted(counts)}
    prov, entry = hit
    prices = prices_at(entry, at)
    inputs = sum((_dec(v) for k, v in counts.items() if KIND_PRICE.get(k) in
                  ("input_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok")), Decimal(0))
    per_req = inputs / _dec(requests) if requests else None
    lines, unpriced, total = [], [], Decimal(0)
    for kind, n in counts.items():
        key = KIND_PRICE.get(kind)
        while key and key not in prices and key in FALLBACK:
            key = FALLBACK[key]
        if not key or key not in prices:
            unpriced.append(kind)
            continue
        price = unit_price(prices[key], per_req)
        cost = _dec(n) * price / MILLION
        total += cost
        lines.append({"kind": kind, "tokens": _dec(n), "price_mtok": price, "cost": cost})
    if requests and "requests_kcount" in prices:
        cost = _dec(requests) * _dec(prices["requests_kcount"]) / 1000
        total += cost
        lines.append({"kind": "requests", "tokens": _dec(requests),
                      "price_mtok": _dec(prices["requests_kcount"]), "cost": cost})
    return {"model": model, "matched": f"{prov.get('id')}/{entry.get('id')}", "cost": total,
            "currency": "USD", "lines": lines, "unpriced": unpriced}


def counter_increase(values: Iterable[float]) -> float:
    """Increase of a cumulative counter over ordered samples (a drop is a reset from 0)."""
    total, prev = 0.0, None
    for v in values:
        if v is None or v != v:
            continue
        if prev is not None:
            total += v - prev if v >= prev else v
        prev = v
    return total


def estimate_from_telemetry(store, table: PriceTable, start=None, end=None,
                            model_of: dict[str, str] | None = None, provider: str | None = None):
    """Estimated LLM cost per (day, service, model_version) from `inference_tokens_total{kind}`
    counters in raw_telemetry, window [start, end). `model_of` maps a model_version to the vendor
    model name when they differ. Returns a list of dicts."""
    where, params = ["metric = 'inference_tokens_total'"], []
    if start is not None:
        where.append("sampled_at >= ?")
        params.append(start)
    if end is not None:
        where.append("sampled_at < ?")
        params.append(end)
    df = store.query(
        "SELECT date_trunc('day', sampled_at) AS day, service, model_version, labels_hash, "
        "json_extract_string(labels, '$.kind') AS kind, list(value ORDER BY sampled_at) AS vals "
        "FROM stg_telemetry WHERE " + " AND ".join(where) + " GROUP BY ALL", params)
    groups: dict[tuple, dict[str, float]] = {}
    for r in df.to_dicts():
        key = (r["day"], r["service"], r["model_version"])
        groups.setdefault(key, {})
        groups[key][r["kind"]] = groups[key].get(r["kind"], 0.0) + counter_increase(r["vals"])
    out = []
    for (day, service, version), counts in sorted(groups.items(), key=lambda kv: str(kv[0])):
        model = (model_of or {}).get(version, version)
        est = estimate(table, model, {k: int(round(v)) for k, v in counts.items()}, at=day,
                       provider=provider)
        out.append({"day": day, "service": service, "model_version": version, "model": model,
                    "tokens": counts, "estimated_cost": est["cost"], "currency": est["currency"],
                    "matched": est["matched"], "unpriced": est["unpriced"]})
    return out


def reconcile(store, table: PriceTable, start=None, end=None, vendor: str | None = None,
              as_of=None) -> list[dict[str, Any]]:
    """Estimate (vendor usage rows in `focus` x price table) vs billed cost, per day, vendor and
    model. A row per (day, vendor, model): estimated, billed, difference, ratio."""
    cond, params = ["x_source IN ('openai', 'anthropic')"], []
    if vendor:
        cond.append("x_source = ?")
        params.append(vendor)
    if start is not None:
        cond.append("ChargePeriodStart >= ?")
        params.append(start)
    if end is not None:
        cond.append("ChargePeriodStart < ?")
        params.append(end)
    w = " AND ".join(cond)
    usage = store.query(
        f"SELECT date_trunc('day', ChargePeriodStart) AS day, x_source AS vendor, SkuId AS model, "
        f"split_part(SkuPriceId, ':', 2) AS kind, sum(ConsumedQuantity) AS tokens FROM focus "
        f"WHERE {w} AND ConsumedUnit = 'Tokens' AND BilledCost IS NULL GROUP BY ALL", params, as_of=as_of)
    billed = store.query(
        f"SELECT date_trunc('day', ChargePeriodStart) AS day, x_source AS vendor, SkuId AS model, "
        f"BillingCurrency AS currency, sum(BilledCost) AS billed FROM focus "
        f"WHERE {w} AND BilledCost IS NOT NULL GROUP BY ALL", params, as_of=as_of)
    counts: dict[tuple, dict[str, Decimal]] = {}
    for r in usage.to_dicts():
        counts.setdefault((r["day"], r["vendor"], r["model"]), {})[r["kind"]] = r["tokens"]
    bills = {(r["day"], r["vendor"], r["model"]): (r["billed"], r["currency"]) for r in billed.to_dicts()}
    out = []
    for key in sorted(set(counts) | set(bills), key=str):
        day, vend, model = key
        est = estimate(table, model, counts[key], at=day, provider=vend)["cost"] if key in counts and model else None
        bill, cur = bills.get(key, (None, None))
        diff = (bill - est) if (bill is not None and est is not None) else None
        out.append({"day": day, "vendor": vend, "model": model, "estimated": est, "billed": bill,
                    "currency": cur or "USD", "difference": diff,
                    "ratio": (bill / est) if (diff is not None and est) else None})
    return out
