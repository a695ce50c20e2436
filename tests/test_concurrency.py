"""Readers never see lock errors; writers never wait for readers.

A writer process publishes a 5,000-row batch into raw_telemetry every 0.2-1 s (compaction kicks in
automatically as files pile up, and the writer also compacts explicitly every 10 batches) while a
reader process queries the views every 200 ms for at least 30 s through a real DuckDB file.
Zero errors may reach the reader, its counts may never decrease, and no row may be lost.
The latencies are printed and written to artifacts/concurrency.json.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import random
import statistics
import time
from pathlib import Path

import pytest

DURATION_S = 32.0
BATCH_ROWS = 5_000


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def writer(db: str, stop_at: float, out: str) -> None:
    import polars as pl
    from datetime import datetime, timedelta, timezone

    from metrics.lake import Load, compact_partition
    from metrics.store import Store

    store = Store(db)
    rng = random.Random(1)
    lat, batches, compactions, files_seen = [], 0, 0, []
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    part = store.lake / "raw_telemetry" / "day=2026-11-01"
    while time.time() < stop_at:
        i0 = batches * BATCH_ROWS
        df = pl.DataFrame({
            "sampled_at": [base + timedelta(milliseconds=i0 + i) for i in range(BATCH_ROWS)],
            "metric": ["inference_requests_total"] * BATCH_ROWS,
            "labels": ['{"service":"s"}'] * BATCH_ROWS, "labels_hash": ["h"] * BATCH_ROWS,
            "service": ["s"] * BATCH_ROWS, "model_version": ["v1"] * BATCH_ROWS,
            "value": [float(i0 + i) for i in range(BATCH_ROWS)],
        })
        t = time.perf_counter()
        with Load(store, "raw_telemetry", collector="bench", source="writer") as load:
            load.write(df, scope=f"batch-{batches}")
        lat.append(time.perf_counter() - t)
        batches += 1
        n_files = sum(1 for _ in part.glob("*.parquet"))
        if files_seen and n_files < files_seen[-1]:
            compactions += 1
        files_seen.append(n_files)
        if batches % 10 == 0:
            t = time.perf_counter()
            if compact_partition(store, "raw_telemetry", part):
                compactions += 1
            lat.append(time.perf_counter() - t)
        time.sleep(rng.uniform(0.2, 1.0))
    Path(out).write_text(json.dumps({"latencies": lat, "batches": batches, "compactions": compactions,
                                     "max_files": max(files_seen)}))


def reader(db: str, stop_at: float, out: str) -> None:
    from metrics.store import Store

    store = Store(db)
    lat, counts, errors = [], [], []
    while time.time() < stop_at:
        t = time.perf_counter()
        try:
            n = store.query("SELECT count(*) AS n FROM raw_telemetry")["n"][0]
            m = store.query("SELECT count(*) AS n, max(value) AS v FROM stg_telemetry")["n"][0]
            counts.append((int(n), int(m)))
        except Exception as e:      # noqa: BLE001 - every error is a failure we report
            errors.append(f"{type(e).__name__}: {e}")
        lat.append(time.perf_counter() - t)
        time.sleep(max(0.0, 0.2 - (time.perf_counter() - t)))
    Path(out).write_text(json.dumps({"latencies": lat, "counts": counts, "errors": errors}))


@pytest.mark.slow
def test_readers_see_no_errors_and_no_lost_rows_while_collectors_write(store, tmp_path, artifacts):
    ctx = mp.get_context("spawn")
    start = time.time() + 3.0            # both processes start (imports) before the clock runs
    stop = start + DURATION_S
    w_out, r_out = tmp_path / "writer.json", tmp_path / "reader.json"
    procs = [ctx.Process(target=writer, args=(str(store.db_path), stop, str(w_out))),
             ctx.Process(target=reader, args=(str(store.db_path), stop, str(r_out)))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=DURATION_S + 180)
        assert p.exitcode == 0, f"{p.name} exit code {p.exitcode}"
    w = json.loads(w_out.read_text())
    r = json.loads(r_out.read_text())

    final = store.query("SELECT count(*) AS n, count(DISTINCT sampled_at) AS d FROM raw_telemetry").row(0)
    report = {
        "duration_s": DURATION_S, "batch_rows": BATCH_ROWS, "batches": w["batches"],
        "rows_written": w["batches"] * BATCH_ROWS, "rows_final": final[0],
        "compactions": w["compactions"], "max_files_in_partition": w["max_files"],
        "reads": len(r["latencies"]), "read_errors": len(r["errors"]),
        "read_p50_ms": round(1000 * statistics.median(r["latencies"]), 1),
        "read_p95_ms": round(1000 * _pct(r["latencies"], 0.95), 1),
        "read_max_ms": round(1000 * max(r["latencies"]), 1),
        "write_p50_ms": round(1000 * statistics.median(w["latencies"]), 1),
        "write_p95_ms": round(1000 * _pct(w["latencies"], 0.95), 1),
        "write_max_ms": round(1000 * max(w["latencies"]), 1),
    }
    (artifacts / "concurrency.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\nconcurrency:", json.dumps(report))

    assert r["errors"] == [], r["errors"][:3]
    # the reader really overlapped the writes: it saw the table grow several times
    assert len({c[0] for c in r["counts"]}) >= 3, "reads did not overlap the writes"
    assert w["batches"] >= 10 and w["compactions"] >= 1, "compaction must run during the reads"
    assert final == (w["batches"] * BATCH_ROWS, w["batches"] * BATCH_ROWS), "rows lost or duplicated"
    raw_counts = [c[0] for c in r["counts"]]
    assert all(b >= a for a, b in zip(raw_counts, raw_counts[1:])), "a reader's count went down"
    assert all(n % BATCH_ROWS == 0 for n in raw_counts), "a reader saw half a batch"
    assert raw_counts[-1] > raw_counts[0]
