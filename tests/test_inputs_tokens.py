"""LLM vendor token kinds partition the total (issue 14, section 4): the file's totals are summed
here from the records the test writes, with plain Python."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest

from collectors.billing import ingest_billing
from metrics.errors import InputError

NOW = datetime(2026, 12, 2, 12, tzinfo=timezone.utc)
START = int(datetime(2026, 9, 1, tzinfo=timezone.utc).timestamp())


def page(results: list[dict]) -> dict:
    return {"object": "page", "data": [{"object": "bucket", "start_time": START, "end_time": START + 86400,
                                        "results": results}], "has_more": False}


def tokens(store) -> dict[str, int]:
    return {k: int(v) for k, v in store.query(
        "SELECT SkuPriceId, sum(PricingQuantity) FROM focus WHERE PricingUnit = 'Tokens' GROUP BY 1").iter_rows()}


def test_openai_uncached_column_is_never_added_on_top(store, tmp_path):
    recs = [{"object": "organization.usage.completions.result", "model": "gpt-4o", "input_tokens": 1000,
             "input_cached_tokens": 300, "input_uncached_tokens": 700, "output_tokens": 200},
            {"object": "organization.usage.completions.result", "model": "gpt-4o", "input_tokens": 50,
             "input_cached_tokens": 0, "input_uncached_tokens": 50, "output_tokens": 5},
            {"object": "organization.usage.completions.result", "model": "gpt-4o-mini",
             "input_tokens": 400, "input_cached_tokens": 100, "output_tokens": 40}]   # no uncached column
    p = tmp_path / "usage.json"
    p.write_text(json.dumps(page(recs)))
    ingest_billing(store, [p], now=NOW)
    got = tokens(store)
    total_in = sum(r["input_tokens"] for r in recs)
    total_out = sum(r["output_tokens"] for r in recs)
    assert sum(got.values()) == total_in + total_out            # every token counted once
    assert got == {"gpt-4o:input": 750, "gpt-4o:input_cached": 300, "gpt-4o:output": 205,
                   "gpt-4o-mini:input": 300, "gpt-4o-mini:input_cached": 100, "gpt-4o-mini:output": 40}


def test_openai_console_csv_with_uncached_column(store, tmp_path):
    header = ["start_time", "end_time", "start_time_iso", "end_time_iso", "project_id", "num_model_requests",
              "model", "input_tokens", "output_tokens", "input_cached_tokens", "input_uncached_tokens"]
    body = [[START, START + 86400, "2026-09-01T00:00:00+00:00", "2026-09-02T00:00:00+00:00", "p", 3, "gpt-4o",
             "1,200", 10, 200, "1,000"]]
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *body])
    p = tmp_path / "usage.csv"
    p.write_text(buf.getvalue())
    ingest_billing(store, [p], now=NOW)
    assert tokens(store) == {"gpt-4o:input": 1000, "gpt-4o:input_cached": 200, "gpt-4o:output": 10}


def test_openai_counts_that_do_not_add_up_are_refused(store, tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(page([{"object": "organization.usage.completions.result", "model": "m",
                                   "input_tokens": 1000, "input_cached_tokens": 300,
                                   "input_uncached_tokens": 1000, "output_tokens": 1}])))
    with pytest.raises(InputError, match="do not add up"):
        ingest_billing(store, [p], now=NOW)
    assert store.query("SELECT count(*) AS n FROM raw_focus")["n"][0] == 0


def test_anthropic_cache_creation_total_and_split_counted_once(store, tmp_path):
    header = ["usage_date_utc", "model_version", "usage_input_tokens_no_cache", "usage_input_tokens_cache_write",
              "usage_input_tokens_cache_write_5m", "usage_input_tokens_cache_write_1h",
              "usage_input_tokens_cache_read", "usage_output_tokens"]
    body = [["2026-09-01", "claude-x", 100, 70, 50, 20, 400, 30],
            ["2026-09-02", "claude-x", 10, 5, "", "", 0, 3]]             # before the 5m/1h split
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *body])
    p = tmp_path / "anthropic_usage.csv"
    p.write_text(buf.getvalue())
    ingest_billing(store, [p], now=NOW)
    got = tokens(store)
    # each row's tokens: uncached + cache writes (once) + cache reads + output
    expected_total = (100 + 70 + 400 + 30) + (10 + 5 + 0 + 3)
    assert sum(got.values()) == expected_total
    assert got == {"claude-x:input": 110, "claude-x:cache_write_5m": 50, "claude-x:cache_write_1h": 20,
                   "claude-x:cache_write": 5, "claude-x:cache_read": 400, "claude-x:output": 33}
