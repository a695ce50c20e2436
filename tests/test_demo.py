"""The demo company: deterministic real-format inputs whose planted incidents match ground_truth.json,
quiet weeks that are quiet, and `onepane demo --no-serve` ingesting through the real collectors.

Expected values are recomputed here from the files with csv/decimal/json/pyarrow, never taken
from the generator's own bookkeeping.
"""
from __future__ import annotations

import csv
import filecmp
import json
import math
import statistics
import subprocess
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collectors.demo import generate
from tests.foundation_helpers import built_demo, run_demo

END = "2026-11-25T00:00:00Z"


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("demo") / "d", seed=11, days=90, end=END)


@pytest.fixture(scope="module")
def truth(demo) -> dict:
    return json.loads((demo / "ground_truth.json").read_text())


def _bill_rows(demo: Path) -> list[dict]:
    rows = []
    for p in sorted((demo / "billing").rglob("*.csv")):
        with open(p, newline="", encoding="utf-8") as fh:
            rows += [dict(r, _file=p.parent.name) for r in csv.DictReader(fh)]
    return rows


def _daily_cost(rows, key=lambda r: r["Tags"] and json.loads(r["Tags"]).get("service")) -> dict:
    out: dict = defaultdict(lambda: defaultdict(Decimal))
    for r in rows:
        out[key(r) or "__untagged__"][r["ChargePeriodStart"][:10]] += Decimal(r["BilledCost"])
    return out


def test_same_seed_same_files_other_seed_differs(demo, tmp_path):
    again = generate(tmp_path / "again", seed=11, days=90, end=END)
    other = generate(tmp_path / "other", seed=12, days=90, end=END)
    files = sorted(p.relative_to(demo) for p in demo.rglob("*") if p.is_file() and p.name != "onepane.toml")
    assert len(files) > 90
    match, mismatch, errors = filecmp.cmpfiles(demo, again, [str(f) for f in files], shallow=False)
    assert not mismatch and not errors
    assert not filecmp.cmp(demo / "telemetry" / "search-ranker.om", other / "telemetry" / "search-ranker.om",
                           shallow=False)


def test_ground_truth_shape(truth):
    assert truth["seed"] == 11 and truth["end"] == END
    assert _t(truth["end"]) - _t(truth["start"]) == timedelta(days=90)
    assert truth["services"] == ["search-ranker", "support-assistant", "fraud-detector"]
    kinds = {i["cause"]["kind"] for i in truth["incidents"]}
    assert {"deploy", "config", "price_change", "request_rate", "drift", "sku_spike",
            "stale_source", "experiment_start"} <= kinds
    for i in truth["incidents"]:
        assert set(i) >= {"id", "service", "start", "end", "cause", "symptoms", "description"}
        assert i["cause"]["layer"] in {"event", "technical", "model", "business", "cost", "data"}
        assert _t(truth["start"]) <= _t(i["start"]) < _t(i["end"]) <= _t(truth["end"])
    ab = truth["ab_test"]
    assert {"service", "control", "treatment", "kpi", "denominator", "start", "end", "true_rate_control",
            "true_rate_treatment", "daily_cost_control", "daily_cost_treatment"} <= set(ab)
    assert truth["quiet_periods"], "there must be quiet weeks to measure false alarms on"


def test_bills_are_exact_focus_with_untagged_shared_lines(demo):
    rows = _bill_rows(demo)
    aws = [r for r in rows if r["_file"] == "aws"]
    llm = [r for r in rows if r["_file"] == "openai"]
    for r in rows:   # cost = quantity x unit price, exactly
        assert Decimal(r["BilledCost"]) == Decimal(r["PricingQuantity"]) * Decimal(r["ListUnitPrice"])
        assert r["BillingCurrency"] == "USD"
        assert r["ChargePeriodStart"].endswith("Z") and r["ChargePeriodStart"][:7] == r["BillingPeriodStart"][:7]
    untagged = [r for r in aws if not r["Tags"]]
    assert {r["ServiceCategory"] for r in untagged} == {"Networking", "Storage"}
    gpu = [r for r in aws if "g5.2xlarge" in r["ChargeDescription"]]
    assert gpu and all(json.loads(r["Tags"]).keys() >= {"team", "service"} for r in gpu)
    assert {r["SkuId"] for r in llm} == {"gpt-4.1-mini"} and {r["ConsumedUnit"] for r in llm} == {"Tokens"}
    assert "InvoiceId" in llm[0] and "InvoiceId" not in aws[0]      # FOCUS 1.2 vs 1.0 column sets


def test_llm_price_increase_is_in_the_bill_and_the_events(demo, truth):
    inc = next(i for i in truth["incidents"] if i["cause"]["kind"] == "price_change")
    day = inc["start"][:10]
    out = sorted({(r["ChargePeriodStart"][:10], r["ListUnitPrice"]) for r in _bill_rows(demo)
                  if r["_file"] == "openai" and r["SkuMeter"] == "output tokens"})
    before = {p for d, p in out if d < day}
    after = {p for d, p in out if d >= day}
    assert len(before) == len(after) == 1
    assert Decimal(after.pop()) / Decimal(before.pop()) == Decimal("1.5")
    events = [json.loads(x) for x in (demo / "events" / "changes.jsonl").read_text().splitlines()]
    pc = [e for e in events if e["kind"] == "price_change"]
    assert len(pc) == 1 and datetime.fromtimestamp(pc[0]["ts"], timezone.utc) == _t(inc["start"])


def test_cost_spike_is_one_sku_one_day(demo, truth):
    (spike,) = truth["cost_spikes"]
    per_day = defaultdict(Decimal)
    for r in _bill_rows(demo):
        if r["SkuId"] == spike["sku"]:
            per_day[r["ChargePeriodStart"][:10]] += Decimal(r["BilledCost"])
    assert math.isclose(float(per_day[spike["day"]]), spike["amount"], rel_tol=1e-12)
    others = [float(v) for d, v in per_day.items() if d != spike["day"]]
    assert float(per_day[spike["day"]]) > 10 * max(others)
    assert max(others) < 1.3 * statistics.median(others)


def test_quiet_periods_have_steady_daily_cost(demo, truth):
    cost = _daily_cost(_bill_rows(demo))
    for q in truth["quiet_periods"]:
        days = [(_t(q["start"]) + timedelta(days=k)).strftime("%Y-%m-%d")
                for k in range((_t(q["end"]) - _t(q["start"])).days)]
        for svc, per_day in cost.items():
            vals = [float(per_day[d]) for d in days]
            med = statistics.median(vals)
            assert max(abs(v - med) for v in vals) <= 0.15 * med, (svc, q, vals)


def _om_series(path: Path) -> dict[tuple[str, str], list[tuple[int, float]]]:
    series: dict = defaultdict(list)
    lines = path.read_text().splitlines()
    assert lines[-1] == "# EOF"
    for line in lines[:-1]:
        if line.startswith("#"):
            continue
        head, value, ts = line.rsplit(" ", 2)
        name, _, labels = head.partition("{")
        series[(name, labels)].append((int(ts), float(value)))
    return series


def _om_rate(series, name, want: dict, start: datetime, end: datetime) -> float:
    """Counter increase per hour over [start, end) summed over series matching the labels."""
    total = 0.0
    for (n, labels), pts in series.items():
        if n != name or not all(f'{k}="{v}"' in labels for k, v in want.items()):
            continue
        inside = [v for t, v in pts if start.timestamp() <= t <= end.timestamp()]
        if len(inside) > 1:
            total += inside[-1] - inside[0]
    return total / ((end - start).total_seconds() / 3600)


def test_openmetrics_counters_and_histograms_are_consistent(demo):
    for path in sorted((demo / "telemetry").glob("*.om")):
        families = [line.split()[2] for line in path.read_text().splitlines() if line.startswith("# TYPE")]
        assert len(families) == len(set(families)), "a family must be contiguous"
        series = _om_series(path)
        for (name, labels), pts in series.items():
            ts = [t for t, _ in pts]
            assert ts == sorted(ts) and len(ts) == len(set(ts)), (name, labels)
            if name.endswith(("_total", "_bucket", "_count", "_sum")) or "ENERGY" in name:
                vals = [v for _, v in pts]
                assert all(b >= a for a, b in zip(vals, vals[1:])), (name, labels)
    s = _om_series(demo / "telemetry" / "search-ranker.om")
    base = 'model_version="ranker-v1",service="search-ranker"'
    inf = dict(s[("inference_request_duration_seconds_bucket", base + ',le="+Inf"}')])
    count = dict(s[("inference_request_duration_seconds_count", base + "}")])
    assert inf == count
    ok = dict(s[("inference_requests_total", base + ',status="200"}')])
    err = dict(s[("inference_requests_total", base + ',status="500"}')])
    assert all(ok[t] + err[t] == count[t] for t in count)


def test_promtool_accepts_the_telemetry(demo, tmp_path):
    proc = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=2400h",
                           str(demo / "telemetry" / "search-ranker.om"), str(tmp_path / "blocks")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_bad_deploy_raises_latency_and_gpu_seconds_per_request(demo, truth):
    inc = next(i for i in truth["incidents"] if i["cause"]["kind"] == "deploy" and not i["planned"])
    a, z = _t(inc["start"]), _t(inc["end"])
    week_before = (a - timedelta(days=7), a - timedelta(days=4))
    svc = _om_series(demo / "telemetry" / "support-assistant.om")
    gpus = _om_series(demo / "telemetry" / "dcgm.om")

    def mean_latency(lo, hi):
        return (_om_rate(svc, "inference_request_duration_seconds_sum", {}, lo, hi)
                / _om_rate(svc, "inference_request_duration_seconds_count", {}, lo, hi))

    def gpu_seconds_per_request(lo, hi):
        util = [v for (n, lab), pts in gpus.items() if n == "DCGM_FI_DEV_GPU_UTIL" and "support-gpu" in lab
                for t, v in pts if lo.timestamp() <= t < hi.timestamp()]
        gpu_s_per_hour = statistics.mean(util) / 100 * 3600 * 2          # two GPUs
        return gpu_s_per_hour / _om_rate(svc, "inference_requests_total", {}, lo, hi)

    assert mean_latency(a + timedelta(hours=2), z) > 1.5 * mean_latency(*week_before)
    assert gpu_seconds_per_request(a + timedelta(hours=2), z) > 1.5 * gpu_seconds_per_request(*week_before)
    events = [json.loads(x) for x in (demo / "events" / "changes.jsonl").read_text().splitlines()]
    at = {(e["kind"], e["model_version"]): datetime.fromtimestamp(e["ts"], timezone.utc) for e in events}
    assert at[("deploy", "assistant-v4")] == a and at[("rollback", "assistant-v3")] == z


def test_ab_test_truth_matches_the_kpi_file(demo, truth):
    ab = truth["ab_test"]
    totals: dict = defaultdict(float)
    with open(demo / "kpis" / "search-ranker.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["variant"]:
                assert ab["start"] <= r["time"] < ab["end"]
                totals[(r["variant"], r["kpi"])] += float(r["value"])
    num = {arm: totals[(arm, ab["kpi"])] for arm in ("control", "treatment")}
    den = {arm: totals[(arm, ab["denominator"])] for arm in ("control", "treatment")}
    for arm, true in (("control", ab["true_rate_control"]), ("treatment", ab["true_rate_treatment"])):
        rate = num[arm] / den[arm]
        se = math.sqrt(true * (1 - true) / den[arm])
        assert abs(rate - true) < 4 * se, (arm, rate, true)
    assert ab["daily_cost_treatment"] > ab["daily_cost_control"] > 0
    # the arms' GPU cost per day, recomputed from the bill's tags on a full experiment day
    day = (_t(ab["start"]) + timedelta(days=2)).strftime("%Y-%m-%d")
    cost = _daily_cost(_bill_rows(demo), key=lambda r: r["Tags"] and "g5" in r["ChargeDescription"]
                       and json.loads(r["Tags"]).get("model_version"))
    assert float(cost["ranker-v1"][day]) == ab["daily_cost_control"]
    assert float(cost["ranker-v2"][day]) == ab["daily_cost_treatment"]


def test_fraud_drift_is_in_the_named_feature_and_window_and_hurts_precision(demo, truth):
    d = truth["drift"]
    a, z = _t(d["start"]), _t(d["end"])
    inside, outside = [], []
    tp = defaultdict(int)
    flagged = defaultdict(int)
    for p in sorted((demo / "fraud" / "current").glob("*.parquet")):
        t = pq.read_table(p).to_pydict()
        for ts, amount, pred, y in zip(t["event_time"], t["amount"], t["prediction"], t["is_fraud"]):
            where = "in" if a <= ts < z else "out"
            (inside if where == "in" else outside).append(amount)
            flagged[where] += pred
            tp[where] += pred and y
    assert statistics.median(inside) > 2 * statistics.median(outside)
    assert tp["in"] / flagged["in"] < 0.7 * tp["out"] / flagged["out"]
    ref = pq.read_table(demo / "fraud" / "reference.parquet").to_pydict()
    assert abs(statistics.median(ref["amount"]) / statistics.median(outside) - 1) < 0.1
    assert max(ref["event_time"]) < _t(truth["start"])


def test_stale_source_stops_delivering(demo, truth):
    (stale,) = truth["stale_sources"]
    with open(demo / "kpis" / "fraud-detector.csv", newline="") as fh:
        last = max(r["time"] for r in csv.DictReader(fh))
    assert last == stale["last_data"]
    assert _t(truth["end"]) - _t(last) > timedelta(days=3)
    with open(demo / "kpis" / "search-ranker.csv", newline="") as fh:
        assert _t(truth["end"]) - _t(max(r["time"] for r in csv.DictReader(fh))) <= timedelta(hours=1)


def test_demo_config_validates_against_installed_collectors(demo):
    from collectors.registry import load_collectors, source_settings
    from metrics.config import load_settings

    cfg = load_settings(demo / "onepane.toml")
    assert [s.name for s in cfg.services] == ["search-ranker", "support-assistant", "fraud-detector"]
    assert {s.type for s in cfg.source} == {"billing", "openmetrics", "kpis", "events", "drift"}
    known = load_collectors()
    assert {s.type for s in cfg.source} <= set(known), set(known)      # every collector is installed
    for i, src in enumerate(cfg.source):
        source_settings(src, i, cfg.path)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """A private copy of the run's 30-day demo build: the test re-runs `onepane demo` in it (the
    copy's paths differ from the build's, which must not make any collector load again)."""
    return built_demo(tmp_path_factory, "demo30-rerun")


@pytest.mark.slow
def test_onepane_demo_ingests_through_the_collectors(demo_store):
    """End to end, twice: the second run changes nothing (idempotent re-ingest)."""
    from collectors.registry import load_collectors
    from metrics.store import Store

    out, first = demo_store
    known = load_collectors()
    assert {"billing", "openmetrics", "kpis", "events", "drift"} <= set(known), set(known)
    assert first.returncode == 0, first.stderr[-3000:]
    store = Store(out / "onepane.duckdb")
    counts = lambda: {t: store.query(f"SELECT count(*) AS n FROM {t}")["n"][0]
                      for t in ("raw_kpis", "raw_events", "raw_focus", "raw_telemetry", "raw_model_health")}
    got = counts()
    expected = sum(sum(1 for _ in open(p)) - 1 for p in (out / "kpis").glob("*.csv"))
    assert got["raw_kpis"] == expected
    assert got["raw_events"] == len((out / "events" / "changes.jsonl").read_text().splitlines())
    rows = _bill_rows(out)
    assert got["raw_focus"] == len(rows)
    total = store.query("SELECT sum(BilledCost) AS c FROM focus")["c"][0]
    assert total == sum(Decimal(r["BilledCost"]) for r in rows)
    assert got["raw_telemetry"] == sum(len(pts) for p in (out / "telemetry").glob("*.om")
                                       for pts in _om_series(p).values())
    truth = json.loads((out / "ground_truth.json").read_text())
    df = store.query("SELECT window_start, status FROM stg_model_health "
                     "WHERE metric = 'drift_score' AND feature = ?", [truth["drift"]["feature"]])
    drifted = {r["window_start"] for r in df.to_dicts() if r["status"] == "drifted"}
    assert drifted == {_t(truth["drift"]["start"])}
    second = run_demo(out)
    assert second.returncode == first.returncode
    assert counts() == got


def test_rerun_with_other_parameters_rebuilds_only_the_demo_store(tmp_path):
    """A demo store built from another seed or period would mix two companies: it is rebuilt;
    the same parameters keep it (re-ingest is then a no-op), and a --db elsewhere is never removed."""
    from app.commands.demo import _drop_stale_store
    from metrics.store import Store
    from metrics.times import parse_time

    out = tmp_path / "d"
    out.mkdir()
    (out / "ground_truth.json").write_text(json.dumps({"seed": 1, "days": 90, "end": END}))
    db = out / "onepane.duckdb"
    Store(db).ensure()
    keep = dict(default_db=True, parse_time=parse_time)
    _drop_stale_store(out, db, 1, 90, _t(END), **keep)
    assert db.exists() and (out / "onepane.lake").exists()
    _drop_stale_store(out, db, 2, 90, _t(END), default_db=False, parse_time=parse_time)
    assert db.exists()
    _drop_stale_store(out, db, 2, 90, _t(END), **keep)
    assert not db.exists() and not (out / "onepane.lake").exists()
