"""A process of the load-race tests: `python -m tests.race_worker PLAN INDEX`.

The plan (JSON) lists rounds; in each round this process ingests one file into a store, starting
together with the other workers: each writes `ready-<round>-<index>` and waits for `go-<round>`,
which the test creates once every worker is ready. Results go to `result-<round>-<index>.json`.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def ingest(kind: str, store, path: str) -> dict:
    """{"status": "loaded" | "skipped", "load_id": ...} for one file of one kind."""
    if kind == "billing":
        from collectors.billing.ingest import ingest_file

        r = ingest_file(store, Path(path), "auto", None, None, "complete")
        return {"status": "skipped" if r["skipped"] else "loaded", "load_id": r["load_id"]}
    if kind in ("kpis", "events"):
        from collectors.events import ingest_events
        from collectors.kpi import ingest_kpis

        r = (ingest_kpis if kind == "kpis" else ingest_events)(store, path)
        return {"status": "skipped" if r.skipped else "loaded", "load_id": r.load_id}
    if kind == "openmetrics":
        from collectors.openmetrics import ingest_openmetrics

        r = ingest_openmetrics(store, Path(path))
    elif kind == "requests":
        from collectors.requests import ingest_requests

        r = ingest_requests(store, Path(path), service="svc")
    elif kind == "evidently":
        from collectors.evidently import ingest_evidently

        r = ingest_evidently(store, [path], service="svc", at="2024-05-02T00:00:00Z")[0]
    else:
        raise ValueError(kind)
    return {"status": "skipped" if r["skipped"] else "loaded", "load_id": r.get("load_id")}


def main(plan_file: str, index: int) -> None:
    from metrics.store import Store

    plan = json.loads(Path(plan_file).read_text())
    work = Path(plan["dir"])
    for rnd in plan["rounds"]:
        n = rnd["round"]
        kind, path = rnd["files"][index]
        (work / f"ready-{n}-{index}").touch()
        while not (work / f"go-{n}").exists():
            time.sleep(0.002)
        try:
            out = ingest(kind, Store(rnd["db"]), path)
        except Exception as e:  # noqa: BLE001 - the test reports every failure
            out = {"status": "error", "error": f"{type(e).__name__}: {e}"}
        tmp = work / f".result-{n}-{index}.tmp"
        tmp.write_text(json.dumps(out))
        os.replace(tmp, work / f"result-{n}-{index}.json")      # never seen half-written


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
