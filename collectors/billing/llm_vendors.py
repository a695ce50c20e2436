"""LLM vendor bills -> FOCUS rows: OpenAI organization costs/usage and Anthropic cost/usage reports,
as the admin APIs return them (one page object `{"data": [...]}`, a JSON list of pages, or JSON
lines of pages).

- OpenAI `GET /v1/organization/costs`: buckets (`start_time`/`end_time`, unix seconds) of
  `organization.costs.result` {amount: {value, currency (lower-case ISO)}, line_item, project_id}.
  `line_item` reads like "gpt-4o-2024-08-06, input": SkuId is the model before the comma.
- OpenAI `GET /v1/organization/usage/completions` (and embeddings, ...): buckets of
  `organization.usage.*.result` {input_tokens, input_cached_tokens, output_tokens,
  input_audio_tokens, output_audio_tokens, num_model_requests, model, project_id, ...}: one usage row
  per token kind (input = input_tokens - input_cached_tokens), no cost.
- Anthropic `GET /v1/organizations/cost_report`: buckets (`starting_at`/`ending_at`, RFC 3339) of
  {amount (decimal string in the currency's LOWEST unit, i.e. cents), currency, model, description,
  cost_type, token_type, workspace_id, service_tier, context_window}: BilledCost = amount / 100.
- Anthropic `GET /v1/organizations/usage_report/messages`: {uncached_input_tokens,
  cache_creation {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}, cache_read_input_tokens,
  output_tokens, server_tool_use {web_search_requests}, model, workspace_id, api_key_id, ...}.

Token rows carry ConsumedQuantity = PricingQuantity = tokens, units 'Tokens', SkuId = model and
SkuPriceId = '<model>:<token kind>'. The rows are built in Python (vendor pages are small) and then
go through the canonical FOCUS mapping, so parsing and validation are the same as for files.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import duckdb

from collectors.billing.focus import Columns, Source, kind_of
from metrics.errors import InputError

FIELDS = ["BillingAccountId", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd",
          "BilledCost", "EffectiveCost", "ChargeCategory", "ChargeDescription", "ProviderName",
          "PublisherName", "InvoiceIssuerName", "ServiceName", "ServiceCategory", "SubAccountId",
          "SkuId", "SkuPriceId", "ConsumedQuantity", "ConsumedUnit", "PricingQuantity",
          "PricingUnit", "RegionId", "Tags", "x_record"]

OPENAI_TOKENS = ("input_tokens", "input_cached_tokens", "output_tokens", "input_audio_tokens",
                 "output_audio_tokens", "input_uncached_tokens")
ANTHROPIC_TOKENS = (("uncached_input_tokens", "input"), ("cache_read_input_tokens", "cache_read"),
                    ("cache_creation.ephemeral_5m_input_tokens", "cache_write_5m"),
                    ("cache_creation.ephemeral_1h_input_tokens", "cache_write_1h"),
                    ("output_tokens", "output"))


def detect_csv(cols: Columns) -> str | None:
    """Console CSV exports are not recognized from headers (no documented schema); force
    --format openai|anthropic only for JSON as the admin APIs return it."""
    return None


def _pages(path: Path) -> list[dict]:
    import gzip

    raw = (gzip.open(path, "rt", encoding="utf-8-sig") if path.name.endswith(".gz")
           else open(path, encoding="utf-8-sig"))
    with raw as fh:
        text = fh.read()
    try:
        doc = json.loads(text, parse_float=Decimal)
    except ValueError:
        try:
            return [json.loads(line, parse_float=Decimal) for line in text.splitlines() if line.strip()]
        except ValueError as e:
            raise InputError(f"not JSON: {e}", file=str(path)) from None
    return doc if isinstance(doc, list) else [doc]


def is_vendor_json(path: Path) -> bool:
    if kind_of(path) != "json":
        return False
    try:
        pages = _pages(path)
    except InputError:
        return False
    return bool(pages) and all(isinstance(p, dict) and isinstance(p.get("data"), list) for p in pages)


def _ts(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (int, Decimal)) or (isinstance(v, str) and v.isdigit()):
        return datetime.fromtimestamp(int(v), tz=timezone.utc).isoformat()
    return str(v)


def _get(d: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)
    return d


def vendor_of(pages: list[dict]) -> str:
    for p in pages:
        for b in p.get("data", []):
            if "starting_at" in b:
                return "anthropic"
            if "start_time" in b or b.get("object") == "bucket":
                return "openai"
    return "openai"


def _base(vendor: str, start, end, r: dict) -> dict[str, Any]:
    name = "OpenAI" if vendor == "openai" else "Anthropic"
    return {"BillingAccountId": None, "ChargePeriodStart": start, "ChargePeriodEnd": end,
            "ChargeCategory": "Usage", "ProviderName": name, "PublisherName": name,
            "InvoiceIssuerName": name, "ServiceName": f"{name} API",
            "ServiceCategory": "AI and Machine Learning",
            "SubAccountId": r.get("project_id") or r.get("workspace_id"),
            "RegionId": r.get("inference_geo"),
            "x_record": json.dumps(r, default=str, sort_keys=True)}


def rows(pages: list[dict], vendor: str) -> Iterator[dict[str, Any]]:
    for page in pages:
        for bucket in page.get("data", []):
            start = _ts(bucket.get("start_time", bucket.get("starting_at")))
            end = _ts(bucket.get("end_time", bucket.get("ending_at")))
            for r in bucket.get("results", []) or []:
                base = _base(vendor, start, end, r)
                if vendor == "openai" and isinstance(r.get("amount"), dict):       # costs
                    item = r.get("line_item")
                    model = item.split(",")[0].strip() if item else None
                    amount = r["amount"].get("value")
                    yield {**base, "BilledCost": amount, "EffectiveCost": amount,
                           "BillingCurrency": str(r["amount"].get("currency") or "").upper() or None,
                           "ChargeDescription": item, "SkuId": model,
                           "SkuPriceId": item.replace(", ", ":") if item else None}
                elif vendor == "anthropic" and "amount" in r:                       # cost report
                    cents = Decimal(str(r["amount"])) if r["amount"] is not None else None
                    amount = None if cents is None else cents / 100
                    kind = r.get("token_type") or r.get("cost_type")
                    yield {**base, "BilledCost": amount, "EffectiveCost": amount,
                           "BillingCurrency": r.get("currency"),
                           "ChargeDescription": r.get("description"), "SkuId": r.get("model"),
                           "SkuPriceId": f"{r.get('model')}:{kind}" if r.get("model") else kind}
                else:                                                               # usage
                    model = r.get("model")
                    if vendor == "openai":
                        counts = {k: r.get(k) for k in OPENAI_TOKENS if r.get(k) is not None}
                        if "input_tokens" in counts and "input_cached_tokens" in counts:
                            counts["input_tokens"] = counts["input_tokens"] - counts["input_cached_tokens"]
                        kinds = [(k.replace("_tokens", ""), v) for k, v in counts.items()]
                    else:
                        kinds = [(name, _get(r, path)) for path, name in ANTHROPIC_TOKENS]
                    for kind, n in kinds:
                        if not n:
                            continue
                        yield {**base, "ChargeDescription": f"{model} {kind} tokens",
                               "SkuId": model, "SkuPriceId": f"{model}:{kind}",
                               "ConsumedQuantity": n, "PricingQuantity": n,
                               "ConsumedUnit": "Tokens", "PricingUnit": "Tokens"}


def open_vendor(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> Source:
    """Flatten the vendor pages into a temp table of FOCUS-named text columns."""
    if kind_of(path) != "json":
        raise InputError(f"{fmt} bills are read as the admin API's JSON; a CSV export is not "
                         "supported", file=str(path), line=1)
    pages = _pages(path)
    if not all(isinstance(p, dict) and isinstance(p.get("data"), list) for p in pages):
        raise InputError("not an admin API page (expected an object with a 'data' list)",
                         file=str(path), line=1, column="data")
    vendor = vendor_of(pages) if fmt in ("auto", "focus") else fmt
    data = [[None if r.get(f) is None else str(r.get(f)) for f in FIELDS] for r in rows(pages, vendor)]
    con.execute("CREATE OR REPLACE TEMP TABLE llm_rows (" +
                ", ".join(f'"{f}" VARCHAR' for f in FIELDS) + ")")
    if data:
        con.executemany("INSERT INTO llm_rows VALUES (" + ", ".join("?" for _ in FIELDS) + ")", data)
    src = Source(path, "llm", "llm_rows", Columns(FIELDS), line_offset=0)
    src.vendor = vendor
    return src
