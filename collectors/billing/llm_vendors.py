"""LLM vendor bills -> FOCUS rows: OpenAI organization costs/usage and Anthropic cost/usage reports,
as the admin APIs return them (one page object `{"data": [...]}`, a JSON list of pages, or JSON
lines of pages), or as the consoles export them to CSV (layouts below `detect_csv`).

- OpenAI `GET /v1/organization/costs`: buckets (`start_time`/`end_time`, unix seconds) of
  `organization.costs.result` {amount: {value, currency (lower-case ISO)}, line_item, project_id}.
  `line_item` reads like "gpt-4o-2024-08-06, input": SkuId is the model before the comma.
- OpenAI `GET /v1/organization/usage/completions` (and embeddings, ...): buckets of
  `organization.usage.*.result` {input_tokens, input_cached_tokens, output_tokens,
  input_audio_tokens, output_audio_tokens, num_model_requests, model, project_id, ...}: one usage row
  per token kind, no cost. The kinds partition the tokens: `input` is the uncached input
  (input_uncached_tokens, else input_tokens - input_cached_tokens) and `input_cached` the cached
  part, so input_tokens is never counted twice; counts that do not add up refuse the file.
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
from datetime import datetime, timedelta, timezone
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
                    ("cache_creation.input_tokens", "cache_write"),     # console CSV, unsplit
                    ("output_tokens", "output"))


# Console / dashboard CSV exports. Neither vendor documents them; these are the headers the
# exports carry (OpenAI's are the API result fields flattened, after start/end columns):
# - OpenAI cost:   start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,
#                  quantity,quantity_unit,line_item,project_id,project_name,api_key_id,...
# - OpenAI usage:  start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,
#                  user_id,api_key_id,model,batch,input_tokens,output_tokens,input_cached_tokens,...
# - Anthropic cost:  usage_date_utc,model,workspace,api_key,usage_type,context_window,token_type,
#                    cost_usd,cost_type[,inference_geo,speed]   (US dollars, not cents)
# - Anthropic usage: usage_date_utc,model_version,api_key,workspace,usage_type,context_window,
#                    usage_input_tokens_no_cache,usage_input_tokens_cache_write_5m,
#                    usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,
#                    usage_output_tokens,web_search_count[,inference_geo,speed]
# Each CSV row becomes the result object the admin API would return, so both paths share rows().
ANTHROPIC_CSV_TOKENS = {
    "usage_input_tokens_no_cache": "uncached_input_tokens",
    "usage_input_tokens_cache_read": "cache_read_input_tokens",
    "usage_input_tokens_cache_write_5m": "cache_creation.ephemeral_5m_input_tokens",
    "usage_input_tokens_cache_write_1h": "cache_creation.ephemeral_1h_input_tokens",
    "usage_input_tokens_cache_write": "cache_creation.input_tokens",     # before the 5m/1h split
    "usage_output_tokens": "output_tokens",
    "web_search_count": "server_tool_use.web_search_requests",
}
OPENAI_CSV_INTS = (*OPENAI_TOKENS, "num_model_requests", "quantity")
BUCKET_COLUMNS = ("start_time", "end_time", "start_time_iso", "end_time_iso", "usage_date_utc")


def detect_csv(cols: Columns) -> str | None:
    """'openai' or 'anthropic' when the header is one of their console exports."""
    c = cols.canon_set()
    if "usagedateutc" in c and ("costusd" in c or any(k.replace("_", "") in c
                                                      for k in ANTHROPIC_CSV_TOKENS)):
        return "anthropic"
    if ({"starttime", "starttimeiso"} & c) and ("amountvalue" in c or {"inputtokens", "outputtokens",
                                                                     "nummodelrequests"} & c):
        return "openai"
    return None


def _put(d: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        d = d.setdefault(part, {})
    d[last] = value


def _number(text: str | None, path: Path, line: int, column: str, integer: bool) -> Any:
    """A cell as int/Decimal; empty or a null marker is None; anything else is an InputError."""
    from collectors.billing.focus import NULL_MARKERS

    t = (text or "").strip().replace(",", "").replace("_", "")
    if t in NULL_MARKERS:
        return None
    try:
        d = Decimal(t)
        if not d.is_finite():
            raise ValueError
        return int(d) if integer and d == d.to_integral_value() else d
    except (ArithmeticError, ValueError):
        raise InputError(f"cannot parse number {text!r}", file=str(path), line=line,
                         column=column) from None


def _day_bucket(day: str) -> tuple[str, str | None]:
    """usage_date_utc: a date is a one-day bucket; a timestamp has no stated width."""
    day = day.strip()
    if len(day) == 10:
        start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
        return start.isoformat(), (start + timedelta(days=1)).isoformat()
    return day, None


def console_pages(path: Path, vendor: str) -> list[dict]:
    """A console CSV export as admin-API pages (one bucket per row)."""
    import csv

    from collectors.billing.focus import NULL_MARKERS, _open_text

    with _open_text(path) as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        buckets = []
        for i, row in enumerate(reader, start=2):
            if None in row:
                raise InputError(f"ragged row: {len(header) + len(row[None])} fields where the "
                                 f"header has {len(header)}", file=str(path), line=i,
                                 column=header[-1])
            r: dict[str, Any] = {k: (None if (v or "").strip() in NULL_MARKERS else v.strip())
                                 for k, v in row.items()}
            if all(v is None for k, v in r.items() if k not in BUCKET_COLUMNS):
                continue                                # an empty bucket: nothing was used
            if vendor == "anthropic":
                if not r.get("usage_date_utc"):
                    raise InputError("no usage date", file=str(path), line=i, column="usage_date_utc")
                try:
                    start, end = _day_bucket(r.pop("usage_date_utc"))
                except ValueError:
                    raise InputError("cannot parse date", file=str(path), line=i,
                                     column="usage_date_utc") from None
                r["model"] = r.pop("model_version", None) or r.get("model")
                r["workspace_id"], r["api_key_id"] = r.pop("workspace", None), r.pop("api_key", None)
                if "cost_usd" in r:
                    r["cost_usd"] = _number(r["cost_usd"], path, i, "cost_usd", False)
                    r["currency"] = "USD"
                for col, key in ANTHROPIC_CSV_TOKENS.items():
                    if col in r:
                        _put(r, key, _number(r.pop(col), path, i, col, True))
                buckets.append({"starting_at": start, "ending_at": end, "results": [r]})
            else:
                start = r.pop("start_time", None) or r.get("start_time_iso")
                end = r.pop("end_time", None) or r.get("end_time_iso")
                if not start:
                    raise InputError("no bucket start", file=str(path), line=i, column="start_time")
                if "amount_value" in r:
                    r["amount"] = {"value": _number(r.pop("amount_value"), path, i, "amount_value", False),
                                   "currency": r.pop("amount_currency", None) or "usd"}
                for col in OPENAI_CSV_INTS:
                    if col in r:
                        r[col] = _number(r[col], path, i, col, True)
                buckets.append({"start_time": start, "end_time": end, "results": [r]})
    return [{"data": buckets}]


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


def _tokens_mismatch(path, what: str) -> InputError:
    return InputError(f"token counts do not add up: {what}; the export is inconsistent",
                      file=str(path))


def openai_kinds(r: dict, path: Path | str = "") -> list[tuple[str, Any]]:
    """OpenAI token kinds that partition the total: `input` is the UNCACHED input and
    `input_cached` the cached part (input_tokens = cached + uncached, never added on top of
    `input_uncached_tokens`); output and audio kinds as given."""
    got = {k: r.get(k) for k in OPENAI_TOKENS if r.get(k) is not None}
    total, cached, uncached = (got.pop("input_tokens", None), got.pop("input_cached_tokens", None),
                               got.pop("input_uncached_tokens", None))
    if uncached is None and total is not None:
        uncached = total - (cached or 0)
    if cached is None and total is not None and uncached is not None:
        cached = total - uncached
    if total is not None and (cached or 0) + (uncached or 0) != total:
        raise _tokens_mismatch(path, f"input_tokens {total} != input_cached_tokens {cached} + "
                                     f"input_uncached_tokens {uncached}")
    kinds = [("input", uncached), ("input_cached", cached)]
    return kinds + [(k.replace("_tokens", ""), v) for k, v in got.items()]


def anthropic_kinds(r: dict, path: Path | str = "") -> list[tuple[str, Any]]:
    """Anthropic token kinds that partition the total: uncached input, cache reads, cache writes
    (5m and 1h when split; the unsplit cache-write count only when there is no split, else it
    must equal their sum and is not added again), output."""
    kinds = [(name, _get(r, p)) for p, name in ANTHROPIC_TOKENS]
    d = dict(kinds)
    split = [d.get("cache_write_5m"), d.get("cache_write_1h")]
    if any(v is not None for v in split) and d.get("cache_write") is not None:
        if sum(v or 0 for v in split) != d["cache_write"]:
            raise _tokens_mismatch(path, f"cache_creation {d['cache_write']} != 5m {split[0]} + 1h {split[1]}")
        kinds = [(k, v) for k, v in kinds if k != "cache_write"]
    return kinds


def rows(pages: list[dict], vendor: str, path: Path | str = "") -> Iterator[dict[str, Any]]:
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
                elif vendor == "anthropic" and ("amount" in r or "cost_usd" in r):  # cost report
                    if "cost_usd" in r:                                             # console CSV
                        amount = r["cost_usd"]
                    else:
                        cents = Decimal(str(r["amount"])) if r["amount"] is not None else None
                        amount = None if cents is None else cents / 100
                    kind = r.get("token_type") or r.get("cost_type")
                    yield {**base, "BilledCost": amount, "EffectiveCost": amount,
                           "BillingCurrency": r.get("currency"),
                           "ChargeDescription": r.get("description"), "SkuId": r.get("model"),
                           "SkuPriceId": f"{r.get('model')}:{kind}" if r.get("model") else kind}
                else:                                                               # usage
                    model = r.get("model")
                    kinds = (openai_kinds(r, path) if vendor == "openai" else
                             anthropic_kinds(r, path))
                    for kind, n in kinds:
                        if not n:
                            continue
                        yield {**base, "ChargeDescription": f"{model} {kind} tokens",
                               "SkuId": model, "SkuPriceId": f"{model}:{kind}",
                               "ConsumedQuantity": n, "PricingQuantity": n,
                               "ConsumedUnit": "Tokens", "PricingUnit": "Tokens"}


def open_vendor(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> Source:
    """Flatten the vendor pages (or console CSV rows) into a temp table of FOCUS-named text
    columns."""
    if kind_of(path) == "csv":
        from collectors.billing.focus import csv_header
        vendor = detect_csv(Columns(csv_header(path)))
        if vendor is None or fmt not in ("auto", "focus", vendor):
            raise InputError(f"not a{'n' if (fmt or 'a')[0] in 'aeio' else ''} {fmt} console export: "
                             "the header matches no known layout", file=str(path), line=1)
        pages = console_pages(path, vendor)
        fmt = vendor
    else:
        pages = _pages(path)
    if not all(isinstance(p, dict) and isinstance(p.get("data"), list) for p in pages):
        raise InputError("not an admin API page (expected an object with a 'data' list)",
                         file=str(path), line=1, column="data")
    vendor = vendor_of(pages) if fmt in ("auto", "focus") else fmt
    data = [[None if r.get(f) is None else str(r.get(f)) for f in FIELDS] for r in rows(pages, vendor, path)]
    con.execute("CREATE OR REPLACE TEMP TABLE llm_rows (" +
                ", ".join(f'"{f}" VARCHAR' for f in FIELDS) + ")")
    if data:
        con.executemany("INSERT INTO llm_rows VALUES (" + ", ".join("?" for _ in FIELDS) + ")", data)
    src = Source(path, "llm", "llm_rows", Columns(FIELDS), line_offset=0)
    src.vendor = vendor
    return src
