"""Anomaly severity = actual − expected for the same grain, with the expected value from that
grain's own baseline (issue 21): a spike must not raise its own expected value at service or team
level. The series are built here; the true excess is the planted amount."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tests.whatchanged_helpers import write_costs

START = date(2026, 9, 1)
DAYS = 35
SPIKE_DAY = START + timedelta(days=24)
SPIKE = 300.0


def lines():
    out = []
    for d in range(DAYS):
        day = START + timedelta(days=d)
        weekend = day.weekday() >= 5
        out.append({"day": day, "service": "svc", "team": "t", "sku": "gpu", "cost": 100.0 + (SPIKE if day == SPIKE_DAY else 0),
                    "quantity": 1})
        out.append({"day": day, "service": "svc", "team": "t", "sku": "egress", "cost": 30.0 if weekend else 50.0,
                    "quantity": 1})
        out.append({"day": day, "service": "other", "team": "t", "sku": "cpu", "cost": 20.0, "quantity": 1})
    return out


def test_severity_is_the_true_excess_at_every_level(store):
    from metrics.analysis.anomalies import cost_anomalies

    write_costs(store, lines())
    start = datetime(2026, 9, 1, tzinfo=timezone.utc)
    found = cost_anomalies(store, start, start + timedelta(days=DAYS))
    got = {(a["level"], a["key"]): a for a in found}
    assert {a["day"] for a in found} == {SPIKE_DAY.isoformat()}
    assert set(got) == {("service", "svc"), ("team", "t"), ("sku", "gpu")}
    # the service's usual day is 150 (weekday) : 100 gpu + 50 egress; the team adds 20 of "other"
    weekday = SPIKE_DAY.weekday() < 5
    normal = {"service": 100 + (50 if weekday else 30), "team": 100 + (50 if weekday else 30) + 20, "sku": 100}
    for (level, _), a in got.items():
        assert float(a["cost"]) == pytest.approx(normal[level] + SPIKE)
        assert float(a["expected"]) == pytest.approx(normal[level], rel=0.02)
        assert float(a["severity"]) == pytest.approx(SPIKE, rel=0.02)


def test_cli_cost_anomalies_default_window_ends_the_day_after_at(store, run_cli):
    """`onepane cost-anomalies` without --from/--to: the 30 days up to the end of --at's day."""
    import json

    write_costs(store, lines())
    at = (SPIKE_DAY + timedelta(days=5)).isoformat() + "T10:00:00Z"
    p = run_cli("cost-anomalies", "--at", at, "--format", "json", "--db", store.db_path)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    svc = [r for r in rows if r["level"] == "service" and r["key"] == "svc"]
    assert [r["day"] for r in svc] == [SPIKE_DAY.isoformat()]
    assert float(svc[0]["severity"]) == pytest.approx(SPIKE, rel=0.02)
    # pinned before the spike: the default window ends before it, so nothing is found
    early = (SPIKE_DAY - timedelta(days=1)).isoformat() + "T10:00:00Z"
    p2 = run_cli("cost-anomalies", "--at", early, "--format", "json", "--db", store.db_path)
    assert p2.returncode == 0 and json.loads(p2.stdout) == []
