"""metrics.queries on hand-made data: expected values by the formulas, computed here."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from metrics import queries
from metrics.lake import Load

UTC = timezone.utc
T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)


def _hist(store, counts_at_t1: dict[str, float]):
    """One histogram scraped twice: all zero at T0, `counts_at_t1` (cumulative per le) at T0+1m."""
    rows = []
    for le, n in counts_at_t1.items():
        labels = f'{{"le":"{le}","model_version":"v1","service":"svc"}}'
        for t, v in ((T0, 0.0), (T0 + timedelta(minutes=1), n)):
            rows.append({"sampled_at": t, "metric": "inference_request_duration_seconds_bucket",
                         "labels": labels, "labels_hash": le, "service": "svc", "model_version": "v1",
                         "value": v})
    with Load(store, "raw_telemetry", collector="test") as load:
        load.write(pl.DataFrame(rows))


def test_latency_quantiles_interpolate_inside_buckets_like_prometheus(store):
    _hist(store, {"0.1": 10, "0.5": 60, "1": 100, "+Inf": 100})
    df = queries.service_technical(store, "svc", T0, T0 + timedelta(hours=1))
    got = dict(zip(df["metric"], df["value"]))
    # histogram_quantile: bucket holding rank q*total, linear between its bounds
    assert got["p50_s"] == pytest.approx(0.1 + (0.5 - 0.1) * (50 - 10) / (60 - 10))
    assert got["p95_s"] == pytest.approx(0.5 + (1 - 0.5) * (95 - 60) / (100 - 60))
    assert got["p99_s"] == pytest.approx(0.5 + (1 - 0.5) * (99 - 60) / (100 - 60))


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound(store):
    _hist(store, {"0.1": 10, "0.5": 20, "+Inf": 100})
    df = queries.service_technical(store, "svc", T0, T0 + timedelta(hours=1))
    assert dict(zip(df["metric"], df["value"]))["p95_s"] == 0.5


def test_counter_reset_counts_the_new_value(store):
    values = [100.0, 150.0, 20.0, 50.0]          # restart after 150: +50, +20, +30
    rows = [{"sampled_at": T0 + timedelta(minutes=i), "metric": "inference_requests_total",
             "labels": '{"status":"200"}', "labels_hash": "a", "service": "svc", "model_version": "v1",
             "value": v} for i, v in enumerate(values)]
    with Load(store, "raw_telemetry", collector="test") as load:
        load.write(pl.DataFrame(rows))
    df = queries.requests_daily(store)
    assert df["requests"].to_list() == [50 + 20 + 30]


def test_telemetry_wins_over_request_logs_for_the_same_day(store):
    rows = [{"sampled_at": T0 + timedelta(minutes=i), "metric": "inference_requests_total",
             "labels": '{"status":"200"}', "labels_hash": "a", "service": "svc", "model_version": "v1",
             "value": float(10 * i)} for i in range(3)]
    with Load(store, "raw_telemetry", collector="test") as load:
        load.write(pl.DataFrame(rows))
    with Load(store, "raw_requests", collector="test") as load:
        load.write(pl.DataFrame([{"request_id": str(i), "arrived_at": T0, "service": "svc", "status": "200"}
                                 for i in range(7)] +
                                [{"request_id": "x", "arrived_at": T0 + timedelta(days=1), "service": "svc",
                                  "status": "503"}]))
    df = queries.requests_daily(store).sort("day")
    assert df.select("requests", "errors", "measured_by").rows() == [(20.0, 0.0, "telemetry"),
                                                                     (1.0, 1.0, "request_logs")]


def test_currencies_are_never_summed(store):
    with Load(store, "raw_focus", collector="test") as load:
        load.write(pl.DataFrame([
            {"billing_currency": c, "charge_period_start": T0, "effective_cost": a, "x_service": "svc"}
            for c, a in (("USD", "1.10"), ("EUR", "2.20"), ("USD", "0.000000000000000001"))]))
    df = queries.cost_daily(store).sort("billing_currency")
    assert [(r["billing_currency"], str(r["effective_cost"])) for r in df.iter_rows(named=True)] == [
        ("EUR", "2.200000000000000000"), ("USD", "1.100000000000000001")]
