"""Helpers for the what-changed / alerts tests: load the real H100 capture into a store."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

CAPTURE_START = 1795527966.86
V42_ROLLOUT = 1795528236.898314
ROLLBACK = 1795528398.8720129
CAPTURE_END = CAPTURE_START + 540


def load_capture(store, shared: Path, config=None) -> None:
    """telemetry.om and events.jsonl of gpu-serving-capture through the real importers."""
    cap = shared / "gpu-serving-capture"
    try:
        from collectors.openmetrics import ingest_openmetrics
        from collectors.events import ingest_events
    except ImportError:          # until the collectors are merged: a plain parser (see report)
        _load_capture_plain(store, cap)
        return
    ingest_openmetrics(store, cap / "telemetry.om", config=config)
    ingest_events(store, cap / "events.jsonl", config=config)


_LINE = re.compile(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)\s+(\S+)$')


def _load_capture_plain(store, cap: Path) -> None:
    from metrics.lake import Load

    rows = []
    for line in (cap / "telemetry.om").read_text().splitlines():
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        name, labels, v, t = m.groups()
        lab = dict(sorted(re.findall(r'(\w+)="([^"]*)"', labels or "")))
        lj = json.dumps(lab, sort_keys=True)
        rows.append({"sampled_at": datetime.fromtimestamp(float(t), timezone.utc), "metric": name,
                     "labels": lj, "labels_hash": hashlib.md5((name + lj).encode()).hexdigest(),
                     "service": lab.get("service"), "model_version": lab.get("model_version"),
                     "value": float(v), "source": "telemetry.om"})
    with Load(store, "raw_telemetry", collector="test") as load:
        load.write(pl.DataFrame(rows, infer_schema_length=None))
    ev = []
    for line in (cap / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        ev.append({"occurred_at": datetime.fromtimestamp(e["ts"], timezone.utc), "kind": e["kind"],
                   "service": e["service"], "model_version": e["model_version"], "detail": e["detail"],
                   "source": "events.jsonl", "event_id": hashlib.md5(line.encode()).hexdigest()})
    with Load(store, "raw_events", collector="test") as load:
        load.write(pl.DataFrame(ev, infer_schema_length=None))
