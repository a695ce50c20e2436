"""Model-server metric names -> onepane's canonical series: one mapping, two readers.

vLLM, Hugging Face TGI, NVIDIA Triton and TorchServe each export requests, latency and tokens under
their own names and units. `SERVER_SETS` says, per server, which of its series becomes which
canonical series (the names `stg_technical_minute`, the telemetry summary and what-changed read):

    inference_requests_total{status}                 requests (a `status` label is added where the
                                                     server splits success/failure by metric name)
    inference_request_duration_seconds_bucket|_sum|_count   end-to-end latency (seconds)
    inference_tokens_total{kind}                     prompt / completion tokens
    inference_queue_depth, inference_queue_seconds_total

Both paths use it:
- the Prometheus collector (collectors/prometheus.py) turns each entry into a PromQL query
  (`prometheus_query`), e.g. `label_replace(last_over_time(vllm:request_success_total{...}[60s]),
  "status", "200", "", "")`;
- `onepane ingest openmetrics` (collectors/openmetrics.py) renames the samples of a scrape file
  (`canonical`): same names, same added labels, same units. A series of a server that no entry
  maps keeps its own name.

Model version: vLLM and TorchServe label it `model_name`/`model_version` (read through
VERSION_LABELS). Triton labels the model name `model` and its version `version`; the canonical
`model_version` label is `<model>/<version>` (e.g. `densenet_onnx/1`), so two models served by one
Triton keep apart while `version` stays the model version.
"""
from __future__ import annotations

from dataclasses import dataclass

H = "inference_request_duration_seconds"


@dataclass(frozen=True)
class SeriesMap:
    """Samples named `source` are stored as `metric`: with `labels` added, divided by `divide`,
    and (Triton) a `model_version` label joined from `model` and `version`."""
    source: str
    metric: str
    type: str = "gauge"
    labels: tuple[tuple[str, str], ...] = ()
    divide: str | None = None          # a number as PromQL writes it, e.g. "1e6" (microseconds)
    triton_version: bool = False


def _m(source: str, metric: str, type: str = "gauge", divide: str | None = None,
       triton: bool = False, **labels: str) -> SeriesMap:
    return SeriesMap(source, metric, type, tuple(labels.items()), divide, triton)


SERVER_SETS: dict[str, list[SeriesMap]] = {
    # vLLM OpenAI server (model label: model_name).
    "vllm": [
        _m("vllm:request_success_total", "inference_requests_total", "counter", status="200"),
        _m("vllm:e2e_request_latency_seconds_bucket", f"{H}_bucket", "histogram"),
        _m("vllm:e2e_request_latency_seconds_sum", f"{H}_sum", "histogram"),
        _m("vllm:e2e_request_latency_seconds_count", f"{H}_count", "histogram"),
        _m("vllm:prompt_tokens_total", "inference_tokens_total", "counter", kind="prompt"),
        _m("vllm:generation_tokens_total", "inference_tokens_total", "counter", kind="completion"),
        _m("vllm:num_requests_waiting", "inference_queue_depth"),
    ],
    # Hugging Face text-generation-inference.
    "tgi": [
        _m("tgi_request_success", "inference_requests_total", "counter", status="200"),
        _m("tgi_request_failure", "inference_requests_total", "counter", status="500"),
        _m("tgi_request_duration_bucket", f"{H}_bucket", "histogram"),
        _m("tgi_request_duration_sum", f"{H}_sum", "histogram"),
        _m("tgi_request_duration_count", f"{H}_count", "histogram"),
        _m("tgi_request_input_length_sum", "inference_tokens_total", "counter", kind="prompt"),
        _m("tgi_request_generated_tokens_sum", "inference_tokens_total", "counter", kind="completion"),
        _m("tgi_queue_size", "inference_queue_depth"),
    ],
    # NVIDIA Triton (labels model, version; durations are cumulative microseconds).
    "triton": [
        _m("nv_inference_request_success", "inference_requests_total", "counter", triton=True, status="200"),
        _m("nv_inference_request_failure", "inference_requests_total", "counter", triton=True, status="500"),
        _m("nv_inference_request_duration_us", f"{H}_sum", "counter", divide="1e6", triton=True),
        _m("nv_inference_request_success", f"{H}_count", "counter", triton=True),
        _m("nv_inference_pending_request_count", "inference_queue_depth", triton=True),
    ],
    # TorchServe metrics API (labels model_name, model_version; latency in microseconds).
    "torchserve": [
        _m("ts_inference_requests_total", "inference_requests_total", "counter"),
        _m("ts_inference_latency_microseconds", f"{H}_sum", "counter", divide="1e6"),
        _m("ts_inference_requests_total", f"{H}_count", "counter"),
        _m("ts_queue_latency_microseconds", "inference_queue_seconds_total", "counter", divide="1e6"),
    ],
}

BY_SOURCE: dict[str, list[SeriesMap]] = {}
for _set in SERVER_SETS.values():
    for _e in _set:
        BY_SOURCE.setdefault(_e.source, []).append(_e)


def prometheus_query(e: SeriesMap) -> str:
    """The PromQL expression (with `{sel}` and `{w}` placeholders, braces doubled for str.format)
    that returns `e.source` as the canonical series."""
    expr = f"last_over_time({e.source}{{{{{{sel}}}}}}[{{w}}])"
    if e.divide:
        expr += f" / {e.divide}"
    if e.triton_version:
        expr = f'label_join({expr}, "model_version", "/", "model", "version")'
    for k, v in e.labels:
        expr = f'label_replace({expr}, "{k}", "{v}", "", "")'
    return expr


def canonical(name: str, labels: dict) -> list[tuple[str, dict, float | None, str]] | None:
    """(canonical metric, labels, divisor, type) for each series a server sample becomes, or None
    when the name is not a mapped server series (the sample keeps its own name)."""
    entries = BY_SOURCE.get(name)
    if not entries:
        return None
    out = []
    for e in entries:
        lb = dict(labels)
        if e.triton_version and ("model" in lb or "version" in lb):
            lb["model_version"] = f"{lb.get('model', '')}/{lb.get('version', '')}"
        lb.update(e.labels)
        out.append((e.metric, lb, float(e.divide) if e.divide else None, e.type))
    return out


def triton_version(labels: dict) -> str | None:
    """`<model>/<version>` for a series labelled the Triton way (`model` and `version`), so the
    server's other series (nv_inference_count, queue times, ...) sit under the same model version."""
    if labels.get("model") and labels.get("version") and not labels.get("model_version"):
        return f"{labels['model']}/{labels['version']}"
    return None
