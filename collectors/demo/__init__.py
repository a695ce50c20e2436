"""The demo company: 90 days of realistic input files for three AI services, with planted incidents.

    from collectors.demo import generate
    out = generate("demo-data", seed=7)          # -> Path("demo-data")

writes, in real input formats only:

    billing/aws/focus-YYYY-MM.csv       FOCUS 1.0 cloud bill (GPU/CPU instances, storage, network;
                                        some shared lines untagged)
    billing/openai/focus-YYYY-MM.csv    FOCUS 1.2 LLM vendor bill (SkuId = model, tokens)
    telemetry/<service>.om, dcgm.om     OpenMetrics text, hourly samples, `# EOF`
    kpis/<service>.csv                  time, service, model_version, variant, kpi, value
    events/changes.jsonl                deploys, rollback, config, price_change, experiment_*
    fraud/reference.parquet, fraud/current/batch-YYYY-MM-DD.parquet   feature batches + labels
    onepane.toml                        [[services]] and one [[source]] per input
    ground_truth.json                   the planted incidents, the A/B truth and cost spikes

The same seed and end give byte-identical files. `end` defaults to today 00:00 UTC so the demo
looks current; the ground truth records start and end.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from metrics.times import utcnow

from collectors.demo import bills as _bills
from collectors.demo import business, fraud, telemetry
from collectors.demo import governance as _governance
from collectors.demo.scenario import (AB_RATE_CONTROL, AB_RATE_TREATMENT, AB_SPLIT, FRAUD,
                                      LLM_PRICE_AFTER, LLM_PRICE_BEFORE, LLM_SKU, SEARCH,
                                      SERVICES, SUPPORT, GPU_INSTANCE, build_world)

log = logging.getLogger(__name__)

__all__ = ["generate", "default_end", "SERVICES"]


def default_end() -> datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(out_dir: str | Path, seed: int = 7, days: int = 90, end: datetime | str | None = None) -> Path:
    """Write the demo company's input files, its onepane.toml and ground_truth.json into out_dir."""
    from metrics.times import parse_time

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    end_t = parse_time(end) if end is not None else default_end()
    w = build_world(seed, days, end_t)

    b = _bills.Bills(w)
    b.build()
    files = {"billing": b.write(out / "billing")}
    files["telemetry"] = telemetry.write(w, out / "telemetry")
    fr = fraud.write(w, out / "fraud")
    kpis = business.kpi_rows(w, fr["flag_rate"], fr["missed_rate"])
    files["kpis"] = business.write_kpis(kpis, out / "kpis")
    files["events"] = [business.write_events(business.events(w), out / "events")]
    truth = ground_truth(w, b, fr, kpis)
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    (out / "onepane.toml").write_text(demo_config(out, w), encoding="utf-8")
    log.info("generated demo out=%s seed=%d days=%d end=%s", out, seed, days, _iso(w.start + timedelta(days=days)))
    return out


# ---- ground truth ---------------------------------------------------------------------------
def ground_truth(w, b: "_bills.Bills", fr: dict, kpis: dict) -> dict:
    m = w.marks
    end = w.start + timedelta(days=w.days)
    at = lambda h: _iso(w.at(h))
    ctl = b.daily_pool_cost["search-v1"]
    trt = b.daily_pool_cost["search-v2"]
    ab_days = [d for d in range(w.days) if d * 24 >= m["ab_start"] and (d + 1) * 24 <= m["ab_stop"]]
    cost_ctl = ctl[ab_days[0]]
    cost_trt = trt[ab_days[0]]
    assert all(ctl[d] == cost_ctl and trt[d] == cost_trt for d in ab_days)
    lift_bp = round((AB_RATE_TREATMENT - AB_RATE_CONTROL) * 10_000, 6)

    def observed(variant: str) -> float:
        rows = [r for r in kpis[SEARCH] if r[3] == variant]
        num = sum(r[5] for r in rows if r[4] == "purchases")
        den = sum(r[5] for r in rows if r[4] == "impressions")
        return num / den

    spike_day = m["sku_spike_day"]
    sku = "DT-OUT-USE1"
    others = sorted(float(c) for (d, s, k), c in b.sku_cost.items() if k == sku and d != spike_day)
    prec = fr["precision"]
    drift_days = [d for d in range(w.days) if m["drift_start"] <= d * 24 < m["drift_end"]]
    quiet_days = [d for d in range(w.days) if (d + 1) * 24 <= m["drift_start"]]
    incidents = [
        {"id": "search-traffic-spike", "service": SEARCH, "start": at(m["spike_start"]),
         "end": at(m["spike_end"]), "planned": False,
         "cause": {"layer": "technical", "kind": "request_rate", "subject": SEARCH},
         "symptoms": [{"layer": "technical", "metric": "request_rate", "direction": "up", "factor": 2.2},
                      {"layer": "technical", "metric": "latency_p95", "direction": "up"},
                      {"layer": "cost", "metric": "daily_cost", "direction": "up",
                       "detail": "autoscaling from 4 to 9 GPU nodes"}],
         "description": "A marketing campaign multiplies search traffic by 2.2 for 36 hours; the ranker "
                        "autoscales from 4 to 9 GPU nodes, so daily cost rises and latency degrades."},
        {"id": "support-bad-deploy", "service": SUPPORT, "start": at(m["bad_deploy"]),
         "end": at(m["rollback"]), "planned": False,
         "cause": {"layer": "event", "kind": "deploy", "subject": f"{SUPPORT}/assistant-v4"},
         "symptoms": [{"layer": "technical", "metric": "latency_p95", "direction": "up"},
                      {"layer": "technical", "metric": "error_rate", "direction": "up"},
                      {"layer": "technical", "metric": "gpu_seconds_per_request", "direction": "up",
                       "factor": round(3.0 / 1.6, 4)},
                      {"layer": "technical", "metric": "fallback_rate", "direction": "up"},
                      {"layer": "business", "metric": "resolved/conversations", "direction": "down"}],
         "description": "assistant-v4 (new retrieval pipeline) nearly doubles GPU-seconds per request, "
                        "raises latency, errors and fallbacks and lowers the resolution rate; rolled "
                        "back to assistant-v3."},
        {"id": "search-egress-cost-spike", "service": SEARCH, "start": _iso(w.start + timedelta(days=spike_day)),
         "end": _iso(w.start + timedelta(days=spike_day + 1)), "planned": False,
         "cause": {"layer": "cost", "kind": "sku_spike", "subject": sku},
         "symptoms": [{"layer": "cost", "metric": "daily_cost", "direction": "up", "sku": sku}],
         "description": "A misconfigured export sends ~3.4 TB out of the search API for one day."},
        {"id": "search-ab-start", "service": SEARCH, "start": at(m["ab_start"]), "end": at(m["ab_stop"]),
         "planned": True,
         "cause": {"layer": "event", "kind": "experiment_start", "subject": f"{SEARCH}/ranker-v2"},
         "symptoms": [{"layer": "cost", "metric": "daily_cost", "direction": "up",
                       "detail": "2 control + 3 treatment GPU nodes instead of 4"},
                      {"layer": "business", "metric": "purchases/impressions", "direction": "up",
                       "detail": "treatment arm only"},
                      {"layer": "technical", "metric": "latency_p95", "direction": "up",
                       "detail": "treatment arm only"}],
         "description": "A/B test of ranker-v2 on a 50/50 split: a real purchase-rate lift at a higher "
                        "GPU cost per request."},
        {"id": "llm-price-increase", "service": SUPPORT, "start": at(m["price_change"]), "end": _iso(end),
         "planned": False,
         "cause": {"layer": "event", "kind": "price_change", "subject": LLM_SKU},
         "symptoms": [{"layer": "cost", "metric": "cost_per_1k_tokens", "direction": "up", "factor": 1.5},
                      {"layer": "cost", "metric": "daily_cost", "direction": "up"}],
         "description": f"The LLM vendor raises {LLM_SKU} prices by 50% (input {LLM_PRICE_BEFORE['input']} -> "
                        f"{LLM_PRICE_AFTER['input']}, output {LLM_PRICE_BEFORE['output']} -> "
                        f"{LLM_PRICE_AFTER['output']} USD per token); traffic is unchanged."},
        {"id": "fraud-input-drift", "service": FRAUD, "start": at(m["drift_start"]), "end": at(m["drift_end"]),
         "planned": False,
         "cause": {"layer": "model", "kind": "drift", "subject": fraud.DRIFT_FEATURE},
         "symptoms": [{"layer": "model", "metric": "drift_score", "feature": fraud.DRIFT_FEATURE, "direction": "up"},
                      {"layer": "model", "metric": "precision", "direction": "down",
                       "before": pooled_precision(fr, quiet_days), "during": pooled_precision(fr, drift_days)},
                      {"layer": "business", "metric": "flagged/transactions", "direction": "up"}],
         "description": "A new high-value merchant multiplies the amount of 45% of legitimate "
                        "transactions by 6; the unchanged model flags many of them, so precision falls."},
        {"id": "support-max-tokens-config", "service": SUPPORT, "start": at(m["config_change"]),
         "end": at(m["config_revert"]), "planned": False,
         "cause": {"layer": "event", "kind": "config", "subject": f"{SUPPORT}/assistant-v3"},
         "symptoms": [{"layer": "technical", "metric": "completion_tokens_per_request", "direction": "up",
                       "factor": round(390 / 210, 4)},
                      {"layer": "technical", "metric": "latency_p95", "direction": "up"},
                      {"layer": "cost", "metric": "daily_cost", "direction": "up"}],
         "description": "max_tokens raised from 512 to 1024: longer answers, more output tokens, higher "
                        "vendor cost and latency; reverted."},
        {"id": "search-ranker-v2-promotion", "service": SEARCH, "start": at(m["ab_stop"]), "end": _iso(end),
         "planned": True,
         "cause": {"layer": "event", "kind": "deploy", "subject": f"{SEARCH}/ranker-v2"},
         "symptoms": [{"layer": "cost", "metric": "daily_cost", "direction": "up",
                       "detail": "6 ranker-v2 GPU nodes"}],
         "description": "The A/B test stops and ranker-v2 serves all traffic."},
        {"id": "fraud-kpi-feed-stale", "service": FRAUD, "start": at(m["stale_from"]), "end": _iso(end),
         "planned": False,
         "cause": {"layer": "data", "kind": "stale_source", "subject": "fraud-kpis"},
         "symptoms": [{"layer": "data", "metric": "freshness", "direction": "up",
                       "detail": "no KPI rows after this time"}],
         "description": "The fraud team's KPI export stops delivering; its newest row is at the start "
                        "of this incident."},
    ]
    tok_v = sum(w.requests[SUPPORT].values())
    return {
        "seed": w.seed, "start": _iso(w.start), "end": _iso(end), "days": w.days,
        "services": [s["name"] for s in SERVICES],
        "service_details": SERVICES,
        "incidents": incidents,
        "quiet_periods": quiet_periods(w, incidents),
        "ab_test": {
            "service": SEARCH, "control": "ranker-v1", "treatment": "ranker-v2",
            "kpi": "purchases", "denominator": "impressions",
            "start": at(m["ab_start"]), "end": at(m["ab_stop"]), "traffic_split": AB_SPLIT,
            "true_rate_control": AB_RATE_CONTROL, "true_rate_treatment": AB_RATE_TREATMENT,
            "true_lift_bp": lift_bp,
            "observed_rate_control": round(observed("control"), 8),
            "observed_rate_treatment": round(observed("treatment"), 8),
            "daily_cost_control": float(cost_ctl), "daily_cost_treatment": float(cost_trt),
            "cost_basis": f"GPU instance cost of each arm's {GPU_INSTANCE[0]} pool per full day",
            "marginal_daily_cost_per_bp": round(float(cost_trt - cost_ctl) / lift_bp, 6),
        },
        "cost_spikes": [{"day": _iso(w.start + timedelta(days=spike_day))[:10], "service": SEARCH, "sku": sku,
                         "amount": float(b.sku_cost[(spike_day, SEARCH, sku)]),
                         "baseline": others[len(others) // 2]}],
        "llm": {"sku": LLM_SKU, "price_before": LLM_PRICE_BEFORE, "price_after": LLM_PRICE_AFTER,
                "self_hosted_share": 0.3, "requests": int(tok_v.sum())},
        "drift": {"service": FRAUD, "model_version": "fraud-v7", "feature": fraud.DRIFT_FEATURE,
                  "start": at(m["drift_start"]), "end": at(m["drift_end"]),
                  "threshold": round(fr["threshold"], 6),
                  "daily_precision": [round(float(p), 4) for p in prec]},
        "stale_sources": [{"source": "fraud-kpis", "last_data": at(m["stale_from"] - 1)}],
    }


def pooled_precision(fr: dict, days: list[int]) -> float:
    """Precision of the model's decisions over all rows of the given days' batches."""
    return round(float(fr["true_positives"][days].sum() / fr["flagged"][days].sum()), 4)


def quiet_periods(w, incidents: list[dict]) -> list[dict]:
    """Runs of >= 5 whole days with no incident onset nearby: nothing should fire there.

    A long-running incident (a price change, a new version) is a level shift: its first 3 days
    count as disturbed, after that the new level is normal. Each disturbance gets a day of margin
    either side; the first week is warm-up for detectors and never counts as quiet."""
    from metrics.times import parse_time

    busy = [False] * w.days
    for i in incidents:
        a, z = parse_time(i["start"]), parse_time(i["end"])
        z = min(z, a + timedelta(days=3)) if i["id"] != "fraud-input-drift" else z
        d0 = max(int((a - w.start).total_seconds() // 86400) - 1, 0)
        d1 = min(int(-(-(z - w.start).total_seconds() // 86400)) + 1, w.days)
        for d in range(d0, d1):
            busy[d] = True
    out, run = [], []
    for d in range(7, w.days + 1):
        if d < w.days and not busy[d]:
            run.append(d)
            continue
        if len(run) >= 5:
            out.append({"start": _iso(w.start + timedelta(days=run[0])),
                        "end": _iso(w.start + timedelta(days=run[-1] + 1))})
        run = []
    return out


# ---- config -----------------------------------------------------------------------------------
def _toml_str(s: str) -> str:
    return json.dumps(str(s))


def _toml_list(xs) -> str:
    return "[" + ", ".join(_toml_str(x) for x in xs) + "]"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return _toml_list(v) if isinstance(v, list) else _toml_str(v)


def demo_config(out: Path, w) -> str:
    """The demo's onepane.toml: services and one [[source]] per input (absolute paths)."""
    root = out.absolute()
    hosts = telemetry.gpu_hosts(w)
    lines = ["# onepane.toml of the demo company, written by `onepane demo` (regenerated each run).",
             "", "[store]", 'path = "onepane.duckdb"', "", "[pricing]",
             f'gpu_hour = {GPU_INSTANCE[1]}', 'currency = "USD"', ""]
    for s in SERVICES:
        lines += ["[[services]]", f"name = {_toml_str(s['name'])}", f"team = {_toml_str(s['team'])}",
                  f"owner = {_toml_str(s['owner'])}", f"kind = {_toml_str(s['kind'])}",
                  f"model_versions = {_toml_list(s['model_versions'])}",
                  f"baseline_version = {_toml_str(s['baseline_version'])}",
                  f"kpis = {_toml_list(s['kpis'])}", f"gpus = {_toml_list(hosts.get(s['name'], []))}",
                  f"tags = {{ service = {_toml_str(s['name'])} }}",
                  f"funnel = {{ action = {_toml_str(s['funnel']['action'])}, "
                  f"denominator = {_toml_str(s['funnel']['denominator'])} }}",
                  "slo = { " + ", ".join(f"{k} = {v}" for k, v in s["slo"].items()) + " }",
                  f'budget = {{ monthly = {s["budget"]}, currency = "USD" }}', ""]
        lines += _governance.toml_lines(s["name"])
    p = lambda *parts: str(root.joinpath(*parts))
    sources = [
        ("cloud-bill", "billing", {"paths": [p("billing", "aws", "*.csv")], "format": "auto"}),
        ("llm-vendor-bill", "billing", {"paths": [p("billing", "openai", "*.csv")], "format": "auto"}),
        ("telemetry", "openmetrics", {"paths": [p("telemetry", "*.om")]}),
        ("business-kpis", "kpis", {"paths": [p("kpis", f"{SEARCH}.csv"), p("kpis", f"{SUPPORT}.csv")]}),
        ("fraud-kpis", "kpis", {"paths": [p("kpis", f"{FRAUD}.csv")]}),
        ("changes", "events", {"paths": [p("events", "changes.jsonl")]}),
        ("fraud-drift", "drift", {"service": FRAUD, "model_version": "fraud-v7",
                                  "reference": p("fraud", "reference.parquet"),
                                  "current": p("fraud", "current", "*.parquet"),
                                  "timestamp_column": "event_time", "window": "7d",
                                  "prediction_column": "prediction", "target_column": "is_fraud",
                                  "prediction_proba_column": "score", "id_column": "transaction_id",
                                  "columns": list(fraud.FEATURES), "sensitive": ["customer_region"],
                                  "sample_size": 2000, "html": False}),
    ]
    for name, typ, settings in sources:
        lines += ["[[source]]", f"name = {_toml_str(name)}", f"type = {_toml_str(typ)}"]
        for k, v in settings.items():
            lines.append(f"{k} = {_toml_value(v)}")
        lines.append("")
    return "\n".join(lines)
