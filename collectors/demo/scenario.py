"""The demo company's world: three services, hourly traffic, and the planted incidents.

Everything the file writers need comes from one `World`, computed once from the seed: requests per
hour and model version, GPU nodes per pool and hour, latency medians, token counts. The writers
(bills, telemetry, business, fraud) only turn this world into real input formats, so the ground
truth and the files can never disagree.

Incidents sit at fixed fractions of the period (for 90 days: day 12 traffic spike, day 20 bad deploy,
day 30 SKU cost spike, day 40 A/B start, day 48 vendor price rise, days 58-65 drift, days 70-72
config change, day 75 A/B stop and promotion, day 84 a source goes stale); the weeks between are
quiet: only daily/weekly seasonality and small noise.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

SEARCH, SUPPORT, FRAUD = "search-ranker", "support-assistant", "fraud-detector"

SERVICES = [
    {"name": SEARCH, "team": "search", "owner": "search-ml@example.com", "kind": "ranking",
     "model_versions": ["ranker-v1", "ranker-v2"], "baseline_version": "ranker-v1",
     "kpis": ["impressions", "clicks", "purchases"],
     "funnel": {"action": "purchases", "denominator": "impressions"},
     "slo": {"latency_p95_s": 0.25, "error_rate": 0.005}, "budget": 9000},
    {"name": SUPPORT, "team": "support", "owner": "support-ai@example.com", "kind": "llm",
     "model_versions": ["assistant-v3", "assistant-v4"], "baseline_version": "assistant-v3",
     "kpis": ["conversations", "resolved", "escalated"],
     "funnel": {"action": "resolved", "denominator": "conversations"},
     "slo": {"latency_p95_s": 8.0, "error_rate": 0.01}, "budget": 4500},
    {"name": FRAUD, "team": "risk", "owner": "risk-ml@example.com", "kind": "classifier",
     "model_versions": ["fraud-v7"], "baseline_version": "fraud-v7",
     "kpis": ["transactions", "flagged", "chargebacks"],
     "funnel": {"action": "flagged", "denominator": "transactions"},
     "slo": {"latency_p95_s": 0.05, "error_rate": 0.002, "drift_share": 0.3}, "budget": 1500},
]

# Prices (USD) used by the bills; exact decimal strings.
GPU_INSTANCE = ("g5.2xlarge", "1.212")        # one NVIDIA A10G per node
CPU_INSTANCE = ("c6i.2xlarge", "0.34")
LLM_SKU = "gpt-4.1-mini"
LLM_PRICE_BEFORE = {"input": "0.0000004", "output": "0.0000016"}    # per token
LLM_PRICE_AFTER = {"input": "0.0000006", "output": "0.0000024"}     # +50% at the price change

# A/B test truth
AB_RATE_CONTROL, AB_RATE_TREATMENT = 0.0300, 0.0315
AB_SPLIT = 0.5
GPU_SECONDS_PER_REQUEST = {"ranker-v1": 0.012, "ranker-v2": 0.021}
SUPPORT_SELF_HOSTED_SHARE = 0.3


def _frac(days: int, f: float) -> int:
    """An hour index at fraction f of the period, aligned to 09:00 of that day."""
    return int(round(f * days)) * 24 + 9


def _drift_start(start: datetime, days: int) -> int:
    """Hour index of the first Thursday 00:00 UTC from ~62% of the period: 7-day windows counted
    from the unix epoch (a Thursday) then hold exactly the drifted week."""
    t = (start + timedelta(days=round(56 / 90 * days))).replace(hour=0)
    while t.weekday() != 3 or t < start:
        t += timedelta(days=1)
    return int((t - start).total_seconds() // 3600)


@dataclass
class World:
    seed: int
    start: datetime
    days: int
    hours: int
    t: list[datetime]                      # hour starts
    # per service: version -> requests per hour (0 when not serving)
    requests: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    latency_median: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    error_rate: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    # GPU pools: pool name -> (service, model_version, nodes per hour, gpu-seconds per request)
    pools: dict[str, dict] = field(default_factory=dict)
    prompt_tokens: np.ndarray | None = None          # support, per request, per hour
    completion_tokens: np.ndarray | None = None
    fallback_rate: np.ndarray | None = None
    resolution_rate: np.ndarray | None = None
    marks: dict[str, int] = field(default_factory=dict)   # named hour indexes
    rng: np.random.Generator | None = None

    def at(self, hour: int) -> datetime:
        return self.start + timedelta(hours=hour)

    def day_of(self, hour: int) -> int:
        return hour // 24


def build_world(seed: int, days: int, end: datetime) -> World:
    if days < 30:
        raise ValueError("the demo needs at least 30 days to place its incidents")
    rng = np.random.default_rng(seed)
    end = end.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    H = days * 24
    t = [start + timedelta(hours=h) for h in range(H)]
    hour_of_day = np.array([x.hour for x in t])
    weekday = np.array([x.weekday() for x in t])
    w = World(seed, start, days, H, t, rng=rng)
    m = w.marks = {
        "spike_start": _frac(days, 12 / 90), "spike_end": _frac(days, 12 / 90) + 36,
        "bad_deploy": _frac(days, 20 / 90), "rollback": _frac(days, 22 / 90) + 6,
        "sku_spike_day": int(round(30 / 90 * days)),
        "ab_start": _frac(days, 40 / 90), "price_change": int(round(48 / 90 * days)) * 24,
        "drift_start": _drift_start(start, days), "drift_end": _drift_start(start, days) + 7 * 24,
        "config_change": _frac(days, 70 / 90), "config_revert": _frac(days, 72 / 90) + 8,
        "ab_stop": _frac(days, 75 / 90) + 3, "stale_from": int(round(84 / 90 * days)) * 24,
    }

    def profile(peak_hour: int, amp: float) -> np.ndarray:
        daily = 1 + amp * np.cos(2 * np.pi * (hour_of_day - peak_hour) / 24)
        weekly = np.where(weekday >= 5, 0.88, 1.0)
        return daily * weekly * rng.lognormal(0, 0.025, H)

    idx = np.arange(H)

    # ---- search-ranker: A/B of ranker-v2 from ab_start to ab_stop, then v2 for everyone ----
    total = 540_000 * profile(15, 0.35)
    spike = (idx >= m["spike_start"]) & (idx < m["spike_end"])
    total = np.where(spike, total * 2.2, total)
    in_ab = (idx >= m["ab_start"]) & (idx < m["ab_stop"])
    after = idx >= m["ab_stop"]
    v2_share = np.where(in_ab, AB_SPLIT, np.where(after, 1.0, 0.0))
    v2 = np.round(total * v2_share)
    v1 = np.round(total) - v2
    w.requests[SEARCH] = {"ranker-v1": v1, "ranker-v2": v2}
    w.latency_median[(SEARCH, "ranker-v1")] = np.where(spike, 0.071, 0.042) * rng.lognormal(0, 0.02, H)
    w.latency_median[(SEARCH, "ranker-v2")] = np.full(H, 0.058) * rng.lognormal(0, 0.02, H)
    w.error_rate[(SEARCH, "ranker-v1")] = np.where(spike, 0.004, 0.001)
    w.error_rate[(SEARCH, "ranker-v2")] = np.full(H, 0.001)
    v1_nodes = np.where(after, 0, np.where(in_ab, 2, np.where(spike, 9, 4)))
    v2_nodes = np.where(after, 6, np.where(in_ab, 3, 0))
    w.pools["search-v1"] = {"service": SEARCH, "model_version": "ranker-v1", "nodes": v1_nodes,
                            "requests": v1, "gpu_s": np.full(H, GPU_SECONDS_PER_REQUEST["ranker-v1"]),
                            "fb_mib": 6200}
    w.pools["search-v2"] = {"service": SEARCH, "model_version": "ranker-v2", "nodes": v2_nodes,
                            "requests": v2, "gpu_s": np.full(H, GPU_SECONDS_PER_REQUEST["ranker-v2"]),
                            "fb_mib": 9800}

    # ---- support-assistant: bad deploy of v4, rollback; config change of max_tokens ----
    sup = np.round(6_500 * profile(14, 0.45))
    bad = (idx >= m["bad_deploy"]) & (idx < m["rollback"])
    cfg = (idx >= m["config_change"]) & (idx < m["config_revert"])
    w.requests[SUPPORT] = {"assistant-v3": np.where(bad, 0, sup), "assistant-v4": np.where(bad, sup, 0)}
    w.prompt_tokens = 950 * rng.lognormal(0, 0.02, H)
    w.completion_tokens = np.where(cfg, 390.0, 210.0) * rng.lognormal(0, 0.02, H)
    lat = np.where(cfg, 2.3, 1.4) * rng.lognormal(0, 0.02, H)
    w.latency_median[(SUPPORT, "assistant-v3")] = lat
    w.latency_median[(SUPPORT, "assistant-v4")] = 2.6 * rng.lognormal(0, 0.02, H)
    w.error_rate[(SUPPORT, "assistant-v3")] = np.full(H, 0.003)
    w.error_rate[(SUPPORT, "assistant-v4")] = np.full(H, 0.025)
    w.fallback_rate = np.where(bad, 0.05, 0.01)
    w.resolution_rate = np.where(bad, 0.55, 0.64)
    w.pools["support"] = {"service": SUPPORT, "model_version": None, "nodes": np.full(H, 2),
                          "requests": sup * SUPPORT_SELF_HOSTED_SHARE,
                          "gpu_s": np.where(bad, 3.0, 1.6) * np.where(cfg, 1.5, 1.0),
                          "fb_mib": 17800}

    # ---- fraud-detector: steady traffic; drift shows in its feature batches ----
    w.requests[FRAUD] = {"fraud-v7": np.round(9_000 * profile(18, 0.3))}
    w.latency_median[(FRAUD, "fraud-v7")] = 0.008 * rng.lognormal(0, 0.02, H)
    w.error_rate[(FRAUD, "fraud-v7")] = np.full(H, 0.0005)
    return w


def gpu_util(pool: dict, nodes_active: np.ndarray) -> np.ndarray:
    """Average GPU utilisation (%) of the pool's nodes per hour."""
    busy = pool["requests"] * pool["gpu_s"] / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(nodes_active > 0, 100.0 * busy / np.maximum(nodes_active, 1), 0.0)
    return np.clip(u, 0, 100)
