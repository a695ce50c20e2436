"""Business KPIs (CSV: time, service, model_version, variant, kpi, value) and change events (JSONL).

KPIs are hourly counts. The search-ranker A/B test draws purchases binomially from impressions at
the true rates in scenario.py, so a correct lift estimate converges to the planted one. The
fraud-detector's KPI feed stops delivering at `stale_from` (the stale data source incident).
Events use the capture's JSONL shape: ts (unix seconds), kind, service, model_version, detail.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from collectors.demo.scenario import (AB_RATE_CONTROL, AB_RATE_TREATMENT, AB_SPLIT, FRAUD,
                                      LLM_PRICE_AFTER, LLM_PRICE_BEFORE, LLM_SKU, SEARCH, SUPPORT,
                                      World)


def _iso(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def kpi_rows(w: World, flag_rate: np.ndarray, chargeback_rate: np.ndarray) -> dict[str, list[tuple]]:
    rng = w.rng
    m = w.marks
    out: dict[str, list[tuple]] = {SEARCH: [], SUPPORT: [], FRAUD: []}
    v1, v2 = (w.requests[SEARCH][v].astype(np.int64) for v in ("ranker-v1", "ranker-v2"))
    for h in range(w.hours):
        t = _iso(w.t[h])
        in_ab = m["ab_start"] <= h < m["ab_stop"]
        for version, impressions, rate, variant in (
                ("ranker-v1", v1[h], AB_RATE_CONTROL, "control" if in_ab else ""),
                ("ranker-v2", v2[h], AB_RATE_TREATMENT, "treatment" if in_ab else "")):
            if impressions == 0:
                continue
            clicks = rng.binomial(impressions, 0.11 if version == "ranker-v1" else 0.114)
            purchases = rng.binomial(impressions, rate)
            out[SEARCH] += [(t, SEARCH, version, variant, "impressions", int(impressions)),
                            (t, SEARCH, version, variant, "clicks", int(clicks)),
                            (t, SEARCH, version, variant, "purchases", int(purchases))]
        for version, n in w.requests[SUPPORT].items():
            if n[h] == 0:
                continue
            conv = int(round(n[h] / 3))                  # ~3 assistant turns per conversation
            resolved = rng.binomial(conv, w.resolution_rate[h])
            escalated = rng.binomial(conv - resolved, 0.4)
            out[SUPPORT] += [(t, SUPPORT, version, "", "conversations", conv),
                             (t, SUPPORT, version, "", "resolved", int(resolved)),
                             (t, SUPPORT, version, "", "escalated", int(escalated))]
        if h < m["stale_from"]:
            tx = int(w.requests[FRAUD]["fraud-v7"][h])
            day = h // 24
            out[FRAUD] += [(t, FRAUD, "fraud-v7", "", "transactions", tx),
                           (t, FRAUD, "fraud-v7", "", "flagged", int(rng.binomial(tx, flag_rate[day]))),
                           (t, FRAUD, "fraud-v7", "", "chargebacks", int(rng.binomial(tx, chargeback_rate[day])))]
    return out


def write_kpis(rows: dict[str, list[tuple]], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for service, rs in rows.items():
        p = folder / f"{service}.csv"
        with open(p, "w", newline="", encoding="utf-8") as fh:
            wr = csv.writer(fh, lineterminator="\n")
            wr.writerow(["time", "service", "model_version", "variant", "kpi", "value"])
            wr.writerows(rs)
        out.append(p)
    return out


def events(w: World) -> list[dict]:
    m = w.marks

    def ev(hour: int, minute: int, kind: str, service: str, version: str | None, detail: str, **extra):
        t = w.at(hour).timestamp() + 60 * minute
        return {"ts": t, "kind": kind, "service": service, "model_version": version,
                "detail": detail, **extra}

    ab_detail = f"A/B ranker-v2 (treatment) vs ranker-v1 (control), {int(AB_SPLIT * 100)}% split"
    out = [
        ev(0, 5, "deploy", SEARCH, "ranker-v1", "rollout"),
        ev(0, 7, "deploy", SUPPORT, "assistant-v3", "rollout"),
        ev(0, 9, "deploy", FRAUD, "fraud-v7", "rollout"),
        ev(m["bad_deploy"], 0, "deploy", SUPPORT, "assistant-v4", "rollout: new retrieval pipeline"),
        ev(m["rollback"], 0, "rollback", SUPPORT, "assistant-v3", "rollback: assistant-v4 latency and errors"),
        ev(m["ab_start"], 0, "experiment_start", SEARCH, "ranker-v2", ab_detail,
           experiment="ranker-v2-ab", control="ranker-v1", treatment="ranker-v2", split=AB_SPLIT),
        ev(m["ab_start"], 0, "deploy", SEARCH, "ranker-v2", f"rollout to {int(AB_SPLIT * 100)}% (A/B treatment)"),
        ev(m["price_change"], 0, "price_change", SUPPORT, None,
           f"OpenAI {LLM_SKU} price +50% (input {LLM_PRICE_BEFORE['input']} -> {LLM_PRICE_AFTER['input']}, "
           f"output {LLM_PRICE_BEFORE['output']} -> {LLM_PRICE_AFTER['output']} USD/token)",
           vendor="OpenAI", sku=LLM_SKU),
        ev(m["config_change"], 0, "config", SUPPORT, "assistant-v3", "max_tokens 512 -> 1024",
           key="max_tokens", old=512, new=1024),
        ev(m["config_revert"], 0, "config", SUPPORT, "assistant-v3", "max_tokens 1024 -> 512 (revert)",
           key="max_tokens", old=1024, new=512),
        ev(m["ab_stop"], 0, "experiment_stop", SEARCH, "ranker-v2", "A/B ranker-v2 stopped: treatment wins",
           experiment="ranker-v2-ab"),
        ev(m["ab_stop"], 1, "deploy", SEARCH, "ranker-v2", "rollout to 100%"),
    ]
    return sorted(out, key=lambda e: e["ts"])


def write_events(evs: list[dict], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "changes.jsonl"
    with open(p, "w", encoding="utf-8") as fh:
        for e in evs:
            fh.write(json.dumps(e) + "\n")
    return p
