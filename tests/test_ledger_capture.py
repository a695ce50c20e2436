"""The ledger on the real GPU serving capture (../shared/data/gpu-serving-capture): predictions
from the Prometheus counter and the request log, and cost per 1k tokens, vendor vs self-hosted."""
from __future__ import annotations

import csv
from datetime import datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

from metrics.config import parse_settings
from metrics.lake import Load
from metrics.ledger import token_economics, unit_economics

CONFIG = parse_settings({"services": [{"name": "assistant-api", "kind": "llm", "team": "assist",
                                       "model_versions": ["ranker-v41", "ranker-v42"]}]})


def test_predictions_from_the_real_counter_match_the_request_log(store, shared):
    """telemetry.om through the real openmetrics collector: the counter's increases per version
    (each series began during the capture, so its first value counts) equal requests.csv."""
    from collectors.openmetrics import ingest_openmetrics

    cap = shared / "gpu-serving-capture"
    ingest_openmetrics(store, cap / "telemetry.om")
    with open(cap / "requests.csv") as fh:
        reqs = list(csv.DictReader(fh))
    got = {r["model_version"]: r for r in unit_economics(store, CONFIG).to_dicts()}
    for version in ("ranker-v41", "ranker-v42"):
        served = sum(1 for r in reqs if r["model_version"] == version)     # 4,225 and 1,528
        assert got[version]["predictions"] == served
        assert got[version]["predictions_source"] == "telemetry"
    assert got["ranker-v41"]["cost_per_prediction"] is None and "no cost data" in got["ranker-v41"]["note"]


def test_cost_per_1k_tokens_vendor_and_self_hosted(store, shared):
    cap = shared / "gpu-serving-capture"
    with open(cap / "requests.csv") as fh:
        reqs = list(csv.DictReader(fh))
    tokens = sum(int(r["prompt_tokens"]) + int(r["completion_tokens"]) for r in reqs)
    start = datetime.fromtimestamp(float(reqs[0]["arrived_at"]), tz=timezone.utc)
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    from collectors.requests import ingest_requests

    ingest_requests(store, cap / "requests.csv", service="assistant-api")
    gpu_cost = Decimal("4.10") * Decimal(540) / Decimal(3600)          # 540 s of one H100 at 4.10/h
    cost_rows = pl.DataFrame([
        {"charge_period_start": day, "x_service": "assistant-api", "billing_currency": "USD",
         "effective_cost": str(gpu_cost), "billed_cost": str(gpu_cost), "consumed_unit": "GPU-Hours",
         "consumed_quantity": "0.15", "x_source": "gpu"},
        {"charge_period_start": day, "x_service": "assistant-api", "billing_currency": "USD",
         "effective_cost": "0.75", "billed_cost": "0.75", "consumed_unit": "1M tokens",
         "consumed_quantity": "0.3", "x_source": "openai"},
    ])
    with Load(store, "raw_focus", collector="test") as load:
        load.write(cost_rows)
    r = token_economics(store, CONFIG, service="assistant-api").to_dicts()
    assert len(r) == 1
    r = r[0]
    vendor_tokens = 0.3e6                              # 0.3 "1M tokens" billed by the vendor
    assert r["served_tokens"] == tokens
    assert r["vendor_tokens"] == pytest.approx(vendor_tokens)
    assert r["vendor_cost_per_1k_tokens"] == pytest.approx(0.75 * 1000 / vendor_tokens)
    # what no vendor billed was served by the GPU
    assert r["self_hosted_tokens"] == pytest.approx(tokens - vendor_tokens)
    assert r["self_hosted_cost"] == gpu_cost
    assert r["self_hosted_cost_per_1k_tokens"] == pytest.approx(float(gpu_cost) * 1000 / (tokens - vendor_tokens))
    assert r["cost_per_1k_tokens"] == pytest.approx((float(gpu_cost) + 0.75) * 1000 / tokens)
    # predictions from the request log when it is present: exactly the capture's 4,225 + 1,528
    ue = {x["model_version"]: x for x in unit_economics(store, CONFIG).to_dicts()}
    assert ue["ranker-v41"]["predictions"] == 4225 and ue["ranker-v42"]["predictions"] == 1528
    assert ue["ranker-v41"]["predictions_source"] == "requests"
    # untagged service cost is spread over versions by predictions and adds up exactly
    total = gpu_cost + Decimal("0.75")
    assert ue["ranker-v41"]["cost"] + ue["ranker-v42"]["cost"] == total
    assert float(ue["ranker-v42"]["cost"]) == pytest.approx(float(total) * 1528 / (4225 + 1528))
