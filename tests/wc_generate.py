"""Generated incidents for the what-changed tests: Prometheus-style scrapes at any interval (15 s by
default) of one service, with per-interval request rate, error share, shed share (503), median
latency, queue depth and GPU-seconds per request, written through the real lake loader."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import numpy as np
import polars as pl

LE = (0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))


def const(n: int, value: float, after: float | None = None, at: int | None = None,
          ramp: int = 0) -> np.ndarray:
    """n values: `value` before index `at`, `after` from it (a linear ramp over `ramp` steps)."""
    x = np.full(n, float(value))
    if after is not None and at is not None:
        k = np.arange(n) - at
        frac = np.clip((k + 1) / ramp, 0, 1) if ramp else (k >= 0).astype(float)
        x = value + (after - value) * frac
    return x


def write_scrapes(store, service: str, start: float, step_s: float, rate, error_share, median_s,
                  gpu_s_per_req, shed_share=None, queue=None, version: str = "v1", seed: int = 0,
                  source: str = "scrape") -> None:
    """Cumulative counters sampled every `step_s` seconds; interval i is [start + i·step, + step)."""
    from metrics.lake import Load

    rnd = np.random.default_rng(seed)
    n_int = len(rate)
    shed_share = np.zeros(n_int) if shed_share is None else shed_share
    rows = []
    ok = err = shed = 0.0
    buckets = np.zeros(len(LE))

    def row(t, metric, labels, value):
        lj = json.dumps(labels, sort_keys=True)
        rows.append({"sampled_at": datetime.fromtimestamp(t, timezone.utc), "metric": metric, "labels": lj,
                     "labels_hash": hashlib.md5((metric + lj).encode()).hexdigest(),
                     "service": labels.get("service"), "model_version": labels.get("model_version"),
                     "value": value, "source": source})

    for m in range(n_int + 1):
        t = start + step_s * m
        base = {"service": service, "model_version": version}
        if m > 0:
            i = m - 1
            n = int(rnd.poisson(rate[i] * step_s))
            s = int(rnd.binomial(n, shed_share[i]))
            e = int(rnd.binomial(n - s, error_share[i]))
            ok += n - s - e
            err += e
            shed += s
            lat = rnd.lognormal(np.log(median_s[i]), 0.4, n - s)
            buckets += np.array([(lat <= le).sum() for le in LE])
            util = min(100.0, 100.0 * n * gpu_s_per_req[i] / step_s * (1 + 0.05 * rnd.standard_normal()))
            row(t, "DCGM_FI_DEV_GPU_UTIL", {"UUID": f"GPU-{service}-{version}", "service": service,
                                            "model_version": version}, max(util, 0.0))
            if queue is not None:
                row(t, "inference_queue_depth", base, float(max(0.0, queue[i] + rnd.normal(0, 0.3))))
        row(t, "inference_requests_total", {**base, "status": "200"}, ok)
        row(t, "inference_requests_total", {**base, "status": "500"}, err)
        row(t, "inference_requests_total", {**base, "status": "503"}, shed)
        for le, c in zip(LE, buckets):
            row(t, "inference_request_duration_seconds_bucket",
                {**base, "le": "+Inf" if le == float("inf") else str(le)}, float(c))
    with Load(store, "raw_telemetry", collector="test", source=source) as load:
        load.write(pl.DataFrame(rows, infer_schema_length=None))
