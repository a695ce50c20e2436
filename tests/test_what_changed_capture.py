"""What changed on the real H100 capture (../shared/data/gpu-serving-capture).

Expected values come from the capture's own CSVs (requests.csv, gpu_nvml.csv) with plain
arithmetic here, not from the code under test; the store is filled through the real importers.
"""
from __future__ import annotations

import csv
import json
from datetime import timedelta
from decimal import Decimal

import pytest

from metrics.config import parse_settings
from metrics.times import parse_time
from tests.whatchanged_helpers import CAPTURE_END, CAPTURE_START, ROLLBACK, V42_ROLLOUT, load_capture

SERVICE = "assistant-api"
GPU_HOUR = Decimal("2.50")


@pytest.fixture(scope="module")
def capture_store(tmp_path_factory, shared):
    from metrics.store import Store

    store = Store(tmp_path_factory.mktemp("capture") / "cap.duckdb").ensure()
    load_capture(store, shared)
    return store


@pytest.fixture(scope="module")
def nvml(shared):
    with open(shared / "gpu-serving-capture" / "gpu_nvml.csv") as fh:
        return [(float(r["ts"]), float(r["gpu_util_pct"])) for r in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def requests_csv(shared):
    with open(shared / "gpu-serving-capture" / "requests.csv") as fh:
        return [(float(r["arrived_at"]), float(r["finished_at"]), r["model_version"])
                for r in csv.DictReader(fh)]


def gpu_seconds_per_request(nvml, reqs, a, b):
    busy = sum(u / 100.0 for t, u in nvml if a <= t < b)          # 1-second samples
    n = sum(1 for t, _, _ in reqs if a <= t < b)
    return busy / n


def p95(xs):
    xs = sorted(xs)
    return xs[int(0.95 * (len(xs) - 1))]


CONFIG = parse_settings({"pricing": {"gpu_hour": str(GPU_HOUR)}})


@pytest.mark.parametrize("offset,window", [(60, 60), (120, 120), (150, 150), (100, 3600)])
def test_v42_rollout_is_the_top_item_with_latency_and_gpu_seconds_evidence(
        capture_store, nvml, requests_csv, offset, window):
    from metrics.analysis.what_changed import what_changed

    at = parse_time(V42_ROLLOUT + offset)
    assert V42_ROLLOUT < at.timestamp() < ROLLBACK
    items = what_changed(capture_store, SERVICE, at, timedelta(seconds=window), config=CONFIG)
    top = items[0]
    assert (top["rank"], top["layer"], top["kind"], top["subject"]) == \
        (1, "event", "deploy", "assistant-api/ranker-v42")
    shifts = {s["signal"]: s for s in top["evidence"]["shifts"]}
    assert "latency_p95_s" in shifts and "gpu_seconds_per_request" in shifts
    assert shifts["latency_p95_s"]["after"] > shifts["latency_p95_s"]["before"]
    g = shifts["gpu_seconds_per_request"]
    assert g["after"] > g["before"]
    # the same ratio computed from the raw NVML readings and request log over the same segments
    (b0, b1), (a0, a1) = [[parse_time(x).timestamp() for x in g[k]] for k in ("before_window", "after_window")]
    want = gpu_seconds_per_request(nvml, requests_csv, a0, a1) / gpu_seconds_per_request(nvml, requests_csv, b0, b1)
    assert g["after"] / g["before"] == pytest.approx(want, rel=0.15)
    # SOURCE.md: v42 is the heavier model (~2.3x compute); its requests are slower at p95
    v41 = [f - a for a, f, v in requests_csv if v == "ranker-v41"]
    v42 = [f - a for a, f, v in requests_csv if v == "ranker-v42"]
    assert p95(v42) > p95(v41)
    assert "ranker-v42" in top["summary"] and "latency_p95_s" in top["summary"]
    # causes before symptoms: the latency and GPU shifts are credited to the rollout
    for it in items[1:]:
        if it["kind"] in ("latency_p95_s", "gpu_seconds_per_request"):
            assert it["evidence"].get("explained_by") == "assistant-api/ranker-v42 deploy"
            assert it["score"] < top["score"]


@pytest.mark.parametrize("end_offset,window", [(540, 60), (530, 40)])
def test_idle_tail_names_idle_gpu_time_and_its_cost(capture_store, nvml, end_offset, window):
    from metrics.analysis.what_changed import what_changed

    at = CAPTURE_START + end_offset
    items = what_changed(capture_store, SERVICE, parse_time(at), timedelta(seconds=window), config=CONFIG)
    idle = [it for it in items if it["kind"] == "idle_gpu_time"]
    assert len(idle) == 1
    it = idle[0]
    assert it["rank"] <= 3 and it["layer"] == "cost"
    want_idle_s = sum(1.0 for t, u in nvml if at - window <= t < at and u <= 1)   # 1 s samples
    assert it["evidence"]["idle_gpu_seconds"] == pytest.approx(want_idle_s, abs=1.5)
    cost = Decimal(it["evidence"]["idle_cost"])
    assert float(cost) == pytest.approx(want_idle_s / 3600 * float(GPU_HOUR), rel=0.05)
    assert f"{float(cost):.4g}" in it["summary"]
    # the load going away is the cause and ranks above the GPU symptoms it explains
    ranks = {x["kind"]: x["rank"] for x in items}
    assert ranks["request_rate"] < ranks.get("gpu_util_pct", 99)
    assert ranks["request_rate"] < min(x["rank"] for x in items if x["layer"] == "event")


def test_idle_without_price_names_seconds_only(capture_store):
    from metrics.analysis.what_changed import what_changed

    items = what_changed(capture_store, SERVICE, parse_time(CAPTURE_END), timedelta(seconds=60))
    it = next(x for x in items if x["kind"] == "idle_gpu_time")
    assert "idle_cost" not in it["evidence"] and it["evidence"]["idle_gpu_seconds"] > 50


def test_event_on_another_service_is_not_blamed_without_evidence(capture_store, tmp_path):
    """A deploy of an unrelated service inside the window does not appear for assistant-api."""
    import polars as pl

    from metrics.analysis.what_changed import what_changed
    from metrics.lake import Load

    with Load(capture_store, "raw_events", collector="test") as load:
        load.write(pl.DataFrame({"occurred_at": [parse_time(CAPTURE_START + 60)], "kind": ["deploy"],
                                 "service": ["checkout-api"], "model_version": ["cx-2"],
                                 "event_id": ["other-1"]}))
    items = what_changed(capture_store, SERVICE, parse_time(CAPTURE_START + 120),
                         timedelta(seconds=60), config=CONFIG)
    assert not [(it["subject"], it["summary"]) for it in items if it["subject"].startswith("checkout-api")]


def test_cli_json_output(capture_store, run_cli):
    at = V42_ROLLOUT + 150
    p = run_cli("what-changed", "--service", SERVICE, "--at", str(at), "--window", "150s",
                "--format", "json", "--db", capture_store.db_path, check=True)
    items = json.loads(p.stdout)
    assert [it["rank"] for it in items] == list(range(1, len(items) + 1))
    assert all({"rank", "layer", "kind", "subject", "score", "summary", "evidence", "link"} <= set(it)
               for it in items)
    assert all(it["layer"] in ("technical", "model", "business", "cost", "data", "event") for it in items)
    scores = [it["score"] for it in items]
    assert scores == sorted(scores, reverse=True)
    assert items[0]["subject"] == "assistant-api/ranker-v42"
    assert items[0]["link"].startswith("?page=service&service=assistant-api&at=2026-11-24T13%3A53")
    table = run_cli("what-changed", "--service", SERVICE, "--at", str(at), "--window", "150s",
                    "--db", capture_store.db_path, check=True)
    assert "assistant-api/ranker-v42" in table.stdout.splitlines()[1]


def test_unknown_service_is_a_clear_error(capture_store, run_cli):
    p = run_cli("what-changed", "--service", "nope", "--at", str(V42_ROLLOUT), "--window", "60s",
                "--db", capture_store.db_path)
    assert p.returncode == 1 and "no data for service 'nope'" in p.stderr
