"""OpenMetrics text telemetry, hourly samples with timestamps, one file per service plus DCGM.

Metric names and labels follow the real capture in ../shared/data/gpu-serving-capture: counters
`inference_requests_total{service,model_version,status}`, `inference_tokens_total{...,kind}`,
`inference_fallback_total`, the histogram `inference_request_duration_seconds`, the gauge
`inference_queue_depth`, and DCGM exporter gauges per GPU (labels UUID, gpu, Hostname, modelName).
Each family is written contiguously, each series in time order, and the file ends with `# EOF`,
so `promtool tsdb create-blocks-from openmetrics` accepts it as well.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from collectors.demo.scenario import FRAUD, SEARCH, SUPPORT, World, gpu_util

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIGMA = {SEARCH: 0.45, SUPPORT: 0.5, FRAUD: 0.4}
GPU_MODEL = "NVIDIA A10G"


def _erf_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))


def _labels(d: dict) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


def _num(v: float) -> str:
    return repr(float(v))


class Family:
    def __init__(self, name: str, typ: str, help: str):
        self.name, self.typ, self.help = name, typ, help
        self.lines: list[str] = []

    def series(self, sample: str, labels: dict, ts: np.ndarray, values: np.ndarray) -> None:
        lab = _labels(labels)
        self.lines.extend(f"{sample}{lab} {_num(v)} {int(t)}" for t, v in zip(ts, values))

    def text(self) -> str:
        return f"# TYPE {self.name} {self.typ}\n# HELP {self.name} {self.help}\n" + \
            "".join(line + "\n" for line in self.lines)


def _alive(active: np.ndarray) -> np.ndarray:
    """Boundaries k (0..H-1) at which a series exists: it served in hour k-1 or hour k."""
    prev = np.concatenate([[False], active[:-1]])
    return active | prev


def service_metrics(w: World, service: str) -> str:
    rng = w.rng
    H = w.hours
    ts0 = int(w.start.timestamp())
    ts = ts0 + 3600 * np.arange(H)
    req = Family("inference_requests", "counter", "Inference requests by final status.")
    hist = Family("inference_request_duration_seconds", "histogram", "End-to-end request latency.")
    tok = Family("inference_tokens", "counter", "Tokens processed, by kind (prompt, completion).")
    fb = Family("inference_fallback", "counter", "Requests answered by the fallback path.")
    for version, n in w.requests[service].items():
        active = n > 0
        if not active.any():
            continue
        alive = _alive(active)
        k = np.flatnonzero(alive)
        base = {"model_version": version, "service": service}
        err = rng.binomial(n.astype(np.int64), w.error_rate[(service, version)])
        ok = n - err
        cum = lambda inc: np.concatenate([[0], np.cumsum(inc)[:-1]])[k]   # through hours < k
        req.series("inference_requests_total", {**base, "status": "200"}, ts[k], cum(ok))
        req.series("inference_requests_total", {**base, "status": "500"}, ts[k], cum(err))
        med = w.latency_median[(service, version)]
        sig = SIGMA[service]
        cols = [np.round(n * _erf_cdf((np.log(le) - np.log(med)) / sig)) for le in BUCKETS]
        bucket_cum = [cum(c) for c in cols] + [cum(n)]
        count_cum = cum(n)
        sum_cum = np.concatenate([[0], np.cumsum(n * med * math.exp(sig * sig / 2))[:-1]])[k]
        les = [repr(b) for b in BUCKETS] + ["+Inf"]
        for j in range(len(k)):      # one metric point: its buckets, count and sum together
            t = int(ts[k[j]])
            for le, bc in zip(les, bucket_cum):
                hist.lines.append(f'inference_request_duration_seconds_bucket{_labels({**base, "le": le})} '
                                  f"{_num(bc[j])} {t}")
            hist.lines.append(f"inference_request_duration_seconds_count{_labels(base)} {_num(count_cum[j])} {t}")
            hist.lines.append(f"inference_request_duration_seconds_sum{_labels(base)} {_num(sum_cum[j])} {t}")
        if service == SUPPORT:
            tok.series("inference_tokens_total", {**base, "kind": "prompt"}, ts[k],
                       cum(np.round(n * w.prompt_tokens)))
            tok.series("inference_tokens_total", {**base, "kind": "completion"}, ts[k],
                       cum(np.round(n * w.completion_tokens)))
            fb.series("inference_fallback_total", base, ts[k],
                      cum(rng.binomial(n.astype(np.int64), w.fallback_rate)))
    queue = Family("inference_queue_depth", "gauge", "Requests waiting for a model server.")
    total = sum(w.requests[service].values())
    typical = np.median(total)
    depth = rng.poisson(np.clip(2.0 * (total / typical) ** 3, 0, 200))
    if service == SUPPORT:
        bad = w.requests[SUPPORT]["assistant-v4"] > 0
        depth = np.where(bad, depth + rng.poisson(12, H), depth)
    queue.series("inference_queue_depth", {"service": service}, ts, depth)
    fams = [req, hist] + ([tok, fb] if service == SUPPORT else []) + [queue]
    return "".join(f.text() for f in fams if f.lines) + "# EOF\n"


def gpu_hosts(w: World) -> dict[str, list[str]]:
    """service -> GPU hostnames serving it (for [[services]].gpus in the demo config)."""
    out: dict[str, list[str]] = {}
    for pool_name, pool in w.pools.items():
        out.setdefault(pool["service"], []).extend(
            f"{pool_name}-gpu-{i + 1}" for i in range(int(pool["nodes"].max())))
    return out


def dcgm_metrics(w: World) -> str:
    rng = w.rng
    H = w.hours
    ts = int(w.start.timestamp()) + 3600 * np.arange(H)
    fams = {name: Family(name, "gauge", help) for name, help in (
        ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %)."),
        ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W)."),
        ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ)."),
        ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB)."))}
    for pool_name, pool in w.pools.items():
        nodes = pool["nodes"]
        util = gpu_util(pool, nodes)
        for i in range(int(nodes.max())):
            host = f"{pool_name}-gpu-{i + 1}"
            up = nodes > i
            k = np.flatnonzero(up)
            u = np.clip(util[k] + rng.normal(0, 1.5, len(k)), 0, 100).round(0)
            power = (60 + 2.4 * u + rng.normal(0, 3, len(k))).round(3)
            energy = np.concatenate([[0.0], np.cumsum(power * 3600 * 1000)[:-1]])
            uid = hashlib.md5(host.encode()).hexdigest()
            labels = {"Hostname": host, "UUID": f"GPU-{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}",
                      "gpu": "0", "modelName": GPU_MODEL}
            fams["DCGM_FI_DEV_GPU_UTIL"].series("DCGM_FI_DEV_GPU_UTIL", labels, ts[k], u)
            fams["DCGM_FI_DEV_POWER_USAGE"].series("DCGM_FI_DEV_POWER_USAGE", labels, ts[k], power)
            fams["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"].series(
                "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", labels, ts[k], energy.round(0))
            fams["DCGM_FI_DEV_FB_USED"].series("DCGM_FI_DEV_FB_USED", labels, ts[k],
                                               (pool["fb_mib"] + rng.normal(0, 40, len(k))).round(0))
    return "".join(f.text() for f in fams.values()) + "# EOF\n"


def write(w: World, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for service in (SEARCH, SUPPORT, FRAUD):
        p = folder / f"{service}.om"
        p.write_text(service_metrics(w, service), encoding="utf-8")
        out.append(p)
    p = folder / "dcgm.om"
    p.write_text(dcgm_metrics(w), encoding="utf-8")
    out.append(p)
    return out
