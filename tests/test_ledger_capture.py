"""The ledger on the real GPU serving capture (../shared/data/gpu-serving-capture): predictions
from the Prometheus counter and the request log, and cost per 1k tokens, vendor vs self-hosted."""
from __future__ import annotations

import csv
import re
from datetime import datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

from metrics.config import parse_settings
from metrics.lake import Load
from metrics.ledger import token_economics, unit_economics

CONFIG = parse_settings({"services": [{"name": "assistant-api", "kind": "llm", "team": "assist",
                                       "model_versions": ["ranker-v41", "ranker-v42"]}]})
SAMPLE = re.compile(r'^(inference_requests_total|inference_tokens_total)\{([^}]*)\} (\S+) (\S+)$')


def _load_counters(store, path):
    rows = []
    for line in path.read_text().splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        rows.append({"sampled_at": datetime.fromtimestamp(float(m.group(4)), tz=timezone.utc),
                     "metric": m.group(1), "labels": m.group(2), "labels_hash": m.group(2),
                     "service": labels["service"], "model_version": labels["model_version"],
                     "value": float(m.group(3))})
    with Load(store, "raw_telemetry", collector="test") as load:
        load.write(pl.DataFrame(rows))
    return rows


def test_predictions_from_the_real_counter(store, shared):
    cap = shared / "gpu-serving-capture"
    rows = _load_counters(store, cap / "telemetry.om")
    with open(cap / "requests.csv") as fh:
        reqs = list(csv.DictReader(fh))
    got = {r["model_version"]: r["predictions"] for r in unit_economics(store, CONFIG).to_dicts()}
    for version in ("ranker-v41", "ranker-v42"):
        series = [r["value"] for r in rows if r["metric"] == "inference_requests_total"
                  and r["model_version"] == version]
        served = sum(1 for r in reqs if r["model_version"] == version)     # 4,225 and 1,528
        # the counter ends at the request count; its first sample is its baseline (PromQL increase)
        assert series[-1] == served
        assert got[version] == served - series[0]


def test_cost_per_1k_tokens_vendor_and_self_hosted(store, shared):
    cap = shared / "gpu-serving-capture"
    with open(cap / "requests.csv") as fh:
        reqs = list(csv.DictReader(fh))
    tokens = sum(int(r["prompt_tokens"]) + int(r["completion_tokens"]) for r in reqs)
    start = datetime.fromtimestamp(float(reqs[0]["arrived_at"]), tz=timezone.utc)
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    req_rows = [{"request_id": r["request_id"],
                 "arrived_at": datetime.fromtimestamp(float(r["arrived_at"]), tz=timezone.utc),
                 "service": "assistant-api", "model_version": r["model_version"], "status": r["status"],
                 "prompt_tokens": int(r["prompt_tokens"]), "completion_tokens": int(r["completion_tokens"])}
                for r in reqs]
    with Load(store, "raw_requests", collector="test") as load:
        load.write(pl.DataFrame(req_rows))
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
    assert r["self_hosted_tokens"] == tokens
    assert r["self_hosted_cost"] == gpu_cost
    assert r["self_hosted_cost_per_1k_tokens"] == pytest.approx(float(gpu_cost) * 1000 / tokens)
    assert r["vendor_tokens"] == pytest.approx(0.3e6)
    assert r["vendor_cost_per_1k_tokens"] == pytest.approx(0.75 * 1000 / 0.3e6)
    # predictions from the request log when it is present: exactly the capture's 4,225 + 1,528
    ue = {x["model_version"]: x for x in unit_economics(store, CONFIG).to_dicts()}
    assert ue["ranker-v41"]["predictions"] == 4225 and ue["ranker-v42"]["predictions"] == 1528
    assert ue["ranker-v41"]["predictions_source"] == "requests"
    # untagged service cost is spread over versions by predictions and adds up exactly
    total = gpu_cost + Decimal("0.75")
    assert ue["ranker-v41"]["cost"] + ue["ranker-v42"]["cost"] == total
    assert float(ue["ranker-v42"]["cost"]) == pytest.approx(float(total) * 1528 / (4225 + 1528))
