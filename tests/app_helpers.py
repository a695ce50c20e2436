"""A small, hand-countable store for the app's tests, written through the real loader (metrics.lake).

Three services over 2026-10-25 .. 2026-11-10 (17 days):
- ranker (team search, budget 400 USD/month): 10.50 USD/day of GPU cost; a request counter sampled
  every 6 hours (+250 ok and +5 status=500 per interval); deploy of ranker-v2 on 2026-11-03.
- assistant (team support, budget 100 USD/month): 4.25 USD/day, plus one 2.00 EUR line on 11-05.
- fraud (team risk, no budget): no cost; request logs with 40 requests per day (2 of them 500).
Plus 1.00 USD/day of untagged cost (`__unallocated__`), drift results and a click funnel for ranker
(the version serving a whole day gets that day's KPIs) and one failed load.
The expected values in the tests are computed from these constants, not from the app's code.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl

from metrics.config import load_settings
from metrics.lake import Load
from metrics.store import Store

UTC = timezone.utc
FIRST_DAY = datetime(2026, 10, 25, tzinfo=UTC)
DAYS = 17                                 # 2026-10-25 .. 2026-11-10
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
RANKER_DAILY = Decimal("10.50")
ASSISTANT_DAILY = Decimal("4.25")
UNALLOCATED_DAILY = Decimal("1.00")
EUR_LINE = Decimal("2.00")
EUR_DAY = datetime(2026, 11, 5, tzinfo=UTC)
SAMPLES_PER_DAY = 4                       # counter sampled every 6 hours
OK_PER_INTERVAL = 250
ERR_PER_INTERVAL = 5
FRAUD_PER_DAY = 40
FRAUD_ERRORS_PER_DAY = 2
DEPLOY_AT = datetime(2026, 11, 3, 12, tzinfo=UTC)
IMPRESSIONS_PER_DAY = 10_000                 # per version serving that day
CLICKS_PER_DAY = {"ranker-v1": 300, "ranker-v2": 330}
FEATURES = {"age": (0.05, 0.40), "income": (0.02, 0.03)}   # drift score before / after the deploy

CONFIG = """
[[services]]
name = "ranker"
team = "search"
kind = "ranking"
model_versions = ["ranker-v1", "ranker-v2"]
baseline_version = "ranker-v1"
budget = { monthly = 400, currency = "USD" }
slo = { error_rate = 0.01, freshness = "2d" }
funnel = { action = "clicks", denominator = "impressions" }

[[services]]
name = "assistant"
team = "support"
kind = "llm"
budget = { monthly = 100, currency = "USD" }

[[services]]
name = "fraud"
team = "risk"
kind = "classifier"
"""


@dataclass
class Fixture:
    store: Store
    config_path: Path
    loaded_before_failure: datetime       # a time between the good loads and the failed one


def days():
    return [FIRST_DAY + timedelta(days=i) for i in range(DAYS)]


def _cost_rows() -> pl.DataFrame:
    rows = []
    for d in days():
        for service, team, amount in (("ranker", "search", RANKER_DAILY),
                                      ("assistant", "support", ASSISTANT_DAILY),
                                      (None, None, UNALLOCATED_DAILY)):
            rows.append({"billing_currency": "USD", "billing_period_start": d.replace(day=1),
                         "charge_period_start": d, "charge_period_end": d + timedelta(days=1),
                         "billed_cost": str(amount), "effective_cost": str(amount),
                         "service_name": "Compute", "service_category": "Compute",
                         "x_service": service, "x_team": team,
                         "x_source": "focus", "charge_category": "Usage"})
    rows.append({"billing_currency": "EUR", "billing_period_start": EUR_DAY.replace(day=1),
                 "charge_period_start": EUR_DAY, "charge_period_end": EUR_DAY + timedelta(days=1),
                 "billed_cost": str(EUR_LINE), "effective_cost": str(EUR_LINE),
                 "service_name": "LLM API", "service_category": "AI and Machine Learning",
                 "x_service": "assistant", "x_team": "support",
                 "x_source": "openai", "charge_category": "Usage"})
    return pl.DataFrame(rows)


def counter_samples() -> pl.DataFrame:
    """Cumulative inference_requests_total for ranker: one ok and one 500 series."""
    rows = []
    n = DAYS * SAMPLES_PER_DAY
    for status, step in (("200", OK_PER_INTERVAL), ("500", ERR_PER_INTERVAL)):
        for i in range(n):
            t = FIRST_DAY + timedelta(hours=6 * i)
            version = "ranker-v1" if t < DEPLOY_AT else "ranker-v2"
            labels = f'{{"model_version":"{version}","service":"ranker","status":"{status}"}}'
            rows.append({"sampled_at": t, "metric": "inference_requests_total", "labels": labels,
                         "labels_hash": f"ranker-{status}-{version}", "service": "ranker",
                         "model_version": version, "value": float(step * (i + 1)), "source": "fixture"})
    return pl.DataFrame(rows)


def _requests() -> pl.DataFrame:
    rows = []
    for d in days():
        for i in range(FRAUD_PER_DAY):
            t = d + timedelta(minutes=30 * i)
            rows.append({"request_id": f"{d:%m%d}-{i}", "arrived_at": t, "finished_at": t,
                         "service": "fraud", "model_version": "fraud-v7",
                         "status": "500" if i < FRAUD_ERRORS_PER_DAY else "200", "latency_s": 0.05})
    return pl.DataFrame(rows)


def _drift() -> pl.DataFrame:
    rows = []
    for d in days():
        drifted = d >= DEPLOY_AT
        rows.append({"window_start": d, "window_end": d + timedelta(days=1), "service": "ranker",
                     "model_version": "ranker-v2" if drifted else "ranker-v1",
                     "metric": "drift_share", "feature": None, "value": 0.6 if drifted else 0.1,
                     "threshold": 0.5, "status": "drifted" if drifted else "ok"})
    return pl.DataFrame(rows)


def _kpis() -> pl.DataFrame:
    rows = []
    for d in days():
        version = "ranker-v1" if d + timedelta(days=1) <= DEPLOY_AT else "ranker-v2"
        for kpi, value in (("impressions", IMPRESSIONS_PER_DAY), ("clicks", CLICKS_PER_DAY[version])):
            rows.append({"observed_at": d, "period_end": d + timedelta(days=1), "service": "ranker",
                         "model_version": version, "kpi": kpi, "value": float(value)})
    return pl.DataFrame(rows)


def _feature_drift() -> pl.DataFrame:
    rows = []
    for d in days():
        after = d >= DEPLOY_AT
        for feature, (before_score, after_score) in FEATURES.items():
            rows.append({"window_start": d, "window_end": d + timedelta(days=1), "service": "ranker",
                         "model_version": "ranker-v2" if after else "ranker-v1", "metric": "drift_score",
                         "feature": feature, "value": after_score if after else before_score,
                         "threshold": 0.1, "method": "wasserstein",
                         "status": "drifted" if (after_score if after else before_score) > 0.1 else "ok"})
    return pl.DataFrame(rows)


def build(tmp_path: Path) -> Fixture:
    from collectors.runner import publish_services

    cfg = tmp_path / "onepane.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    store = Store(tmp_path / "app.duckdb").ensure()
    publish_services(store, load_settings(cfg))
    with Load(store, "raw_focus", collector="focus", source="bills") as load:
        load.write(_cost_rows(), scope="bills")
    # telemetry split in two loads, one per month, so the counter crosses a load boundary
    samples = counter_samples()
    with Load(store, "raw_telemetry", collector="openmetrics", source="prom") as load:
        load.write(samples.filter(pl.col("sampled_at") < datetime(2026, 11, 1, tzinfo=UTC)), scope="oct")
    with Load(store, "raw_telemetry", collector="openmetrics", source="prom") as load:
        load.write(samples.filter(pl.col("sampled_at") >= datetime(2026, 11, 1, tzinfo=UTC)), scope="nov")
    with Load(store, "raw_requests", collector="requests", source="fraud-logs") as load:
        load.write(_requests(), scope="fraud")
    with Load(store, "raw_model_health", collector="evidently", source="drift") as load:
        load.write(_drift(), scope="drift")
        load.write(_feature_drift(), scope="drift")
    with Load(store, "raw_kpis", collector="kpi", source="kpis") as load:
        load.write(_kpis(), scope="kpis")
    with Load(store, "raw_events", collector="events", source="deploys") as load:
        load.write(pl.DataFrame([{"occurred_at": DEPLOY_AT, "kind": "deploy", "service": "ranker",
                                  "model_version": "ranker-v2", "detail": "rollout",
                                  "event_id": "e1", "source": "fixture"}]), scope="events")
    time.sleep(0.02)
    between = datetime.now(UTC)
    time.sleep(0.02)
    try:
        with Load(store, "raw_kpis", collector="kpi", source="kpi-export",
                  source_file="kpis.csv") as load:
            raise ValueError("kpis.csv:3:2: not a number: 'abc'")
    except ValueError:
        pass
    return Fixture(store, cfg, between)
