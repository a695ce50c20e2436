"""Prometheus HTTP API -> raw_telemetry: range queries through prometheus-api-client.

A `[[source]] type = "prometheus"` names the server and which default query sets to pull; a user
only names the job/labels:

    [[source]]
    name = "prod-prom"
    type = "prometheus"
    url = "https://prom.example:9090"
    service = "assistant-api"            # for series without a `service` label
    sets = ["prometheus_client", "dcgm"] # or vllm, tgi, triton, torchserve
    labels = { job = "assistant" }       # selector for the service's series
    histogram = "http_request_duration_seconds"   # prometheus_client set: your histogram's name
    requests_counter = "http_requests_total"      # ... and request counter (status/code label)
    gpu_labels = { job = "dcgm-exporter" }
    step = "60s"
    bearer_token_env = "PROM_TOKEN"      # secrets only by environment variable name

Every query is stored under onepane's canonical metric names (`inference_requests_total{status}`,
`inference_request_duration_seconds_bucket|_sum|_count`, `inference_tokens_total{kind}`,
`inference_queue_depth`, `inference_fallback_total`, `DCGM_FI_DEV_*`), so the same summary SQL
reads a vLLM, TGI, Triton or TorchServe server and the offline OpenMetrics import alike.

Sampling: a raw series is queried as `last_over_time(series[step])` on a step grid aligned to
multiples of the step, so a point means "the newest sample in the last step" - never a value
repeated for Prometheus' 5-minute lookback after a target went away - and overlapping re-runs
produce the same timestamps (stg_telemetry keeps one row per point: re-runs never duplicate).

Requests: ranges are split so no request returns more than `max_points` (11,000) points per series;
at most `max_in_flight` (5) requests run at once; 5xx answers, connection errors and timeouts are
retried with exponential backoff (urllib3 Retry inside the client), and the whole run gives up
after `budget_s` (600 s) however many retries are left. A run is one all-or-nothing
load: if any request still fails, nothing of the run is written, the run log records the error and
what earlier runs collected stays.

Partial answers: a response with `warnings` (a remote-read or store backend that did not answer)
keeps none of its points; its range is recorded as `gaps` in the watermark and as `not_fetched` in
the run log, and the next runs ask for it again (collectors/prometheus_gaps.py).

Incremental: the load's watermark holds the last collected time per query. The next run starts one
step after it; a gap after downtime is back-filled up to `backfill_limit` (older points are skipped
and the skipped span is logged). `--from/--to` collect an explicit range (the watermark never moves
back).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from collectors import prometheus_gaps as gaps
from collectors.openmetrics import GPU_LABELS, SERVICE_LABELS, VERSION_LABELS, gpu_owner
from collectors.prometheus_http import _Client, _within
from collectors.registry import collector
from collectors.server_metrics import SERVER_SETS, prometheus_query
from metrics.redact import strip_url, url_credentials
from metrics.times import parse_duration

log = logging.getLogger(__name__)

SENTINEL_MIN = 9.2233720368547e18      # DCGM INT64 blanks arrive as ~2**63


@dataclass(frozen=True)
class Query:
    """One PromQL query stored under `metric`. `expr` may use {sel} (the selector labels, with a
    leading comma-free body) and {w} (the sampling window = step)."""
    metric: str
    expr: str
    type: str = "gauge"
    gpu: bool = False           # selects with gpu_labels instead of labels


def _raw(name: str, metric: str | None = None, type: str = "gauge", gpu: bool = False, scale: str = "") -> Query:
    return Query(metric or name, f"last_over_time({name}{{{{{{sel}}}}}}[{{w}}]){scale}", type, gpu)


def _as(expr_name: str, metric: str, type: str, label: str, value: str, scale: str = "") -> Query:
    inner = f"last_over_time({expr_name}{{{{{{sel}}}}}}[{{w}}]){scale}"
    return Query(metric, f'label_replace({inner}, "{label}", "{value}", "", "")', type)


H = "inference_request_duration_seconds"

QUERY_SETS: dict[str, list[Query]] = {
    # Plain prometheus_client instrumentation with onepane's names (the demo and the real capture):
    # a request counter with `status`, a latency histogram, token counter, queue gauge, fallbacks.
    # `histogram` / `requests_counter` settings rename the first four for any client's own names.
    "prometheus_client": [
        _raw("{requests_counter}", "inference_requests_total", type="counter"),
        _raw("{histogram}_bucket", f"{H}_bucket", type="histogram"),
        _raw("{histogram}_sum", f"{H}_sum", type="histogram"),
        _raw("{histogram}_count", f"{H}_count", type="histogram"),
        _raw("inference_tokens_total", type="counter"),
        _raw("inference_queue_depth"),
        _raw("inference_fallback_total", type="counter"),
        _raw("inference_abstain_total", type="counter"),
    ],
    # vLLM, TGI, Triton, TorchServe: one query per entry of the shared name mapping, which
    # `onepane ingest openmetrics` applies to scrape files too (collectors/server_metrics.py).
    **{server: [Query(e.metric, prometheus_query(e), e.type) for e in entries]
       for server, entries in SERVER_SETS.items()},
    # NVIDIA DCGM exporter: no service label; GPUs are attributed via Service.gpus or the source.
    "dcgm": [
        _raw(n, gpu=True, type="counter" if n.endswith("ENERGY_CONSUMPTION") else "gauge")
        for n in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED",
                  "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_MEM_COPY_UTIL")
    ],
}


class CustomQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str                 # name stored in raw_telemetry
    expr: str                   # PromQL; may use {sel} and {w}
    type: str = "gauge"
    gpu: bool = False


class PromSettings(BaseModel):
    """`[[source]] type = "prometheus"`."""
    model_config = ConfigDict(extra="forbid")
    url: str
    service: str | None = None
    sets: list[str] = Field(default_factory=lambda: ["prometheus_client", "dcgm"])
    histogram: str = "inference_request_duration_seconds"   # prometheus_client set: latency histogram
    requests_counter: str = "inference_requests_total"      # prometheus_client set: requests (status label)
    model_version: str | None = None    # for series without a model_version/model_name/model label
    labels: dict[str, str] = Field(default_factory=dict)
    gpu_labels: dict[str, str] = Field(default_factory=dict)
    queries: list[CustomQuery] = Field(default_factory=list)
    step: str = "60s"
    initial: str = "1d"                 # first run without --from: this far back
    backfill_limit: str = "7d"          # a gap after downtime is back-filled at most this far
    lag: str = "1m"                     # without --to: stop this long before now (late scrapes)
    max_points: int = 11_000            # per series per request (Prometheus' own limit)
    max_in_flight: int = 5
    timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 0.5
    budget_s: float = 600.0             # the whole run gives up after this long (retries included)
    bearer_token_env: str | None = None
    basic_user: str | None = None
    basic_user_env: str | None = None
    basic_password_env: str | None = None
    tls_verify: bool = True
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    _url_auth: tuple[str, str] | None = PrivateAttr(default=None)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {strip_url(v)!r}")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _credentials_out_of_url(self) -> "PromSettings":
        """`http://user:pass@host` works, but the credentials are taken out of `url` at once, so
        no run log, error or log line can quote them; prefer basic_user + basic_password_env."""
        user, pw = url_credentials(self.url)
        if user is not None or pw is not None:
            self._url_auth = (user or "", pw or "")
            self.url = strip_url(self.url).rstrip("/")
            log.warning("credentials in a Prometheus URL are used but never stored; set "
                        "basic_user and basic_password_env (or bearer_token_env) instead")
        return self

    @field_validator("sets")
    @classmethod
    def _sets(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in QUERY_SETS]
        if unknown:
            raise ValueError(f"unknown query set(s) {unknown}; known: {', '.join(QUERY_SETS)}")
        return v

    @field_validator("step", "initial", "backfill_limit", "lag")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(labels.items()))


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def queries_of(s: PromSettings) -> list[tuple[str, Query]]:
    """(query id, query) with selectors and window filled in; the id keys the watermark."""
    step = int(parse_duration(s.step).total_seconds())
    out = []
    for q in [q for name in s.sets for q in QUERY_SETS[name]] + [
            Query(c.metric, c.expr, c.type, c.gpu) for c in s.queries]:
        expr = q.expr.format(sel=_selector(s.gpu_labels if q.gpu else s.labels), w=f"{step}s",
                             histogram=s.histogram, requests_counter=s.requests_counter)
        expr = expr.replace("{}", "")
        qid = q.metric + ":" + hashlib.md5(expr.encode()).hexdigest()[:8]
        out.append((qid, Query(q.metric, expr, q.type, q.gpu)))
    return out


def chunks(start: datetime, end: datetime, step_s: int, max_points: int) -> list[tuple[datetime, datetime]]:
    """Split [start, end] (grid-aligned, both ends inclusive as Prometheus does) so no request
    returns more than max_points points per series."""
    out, span = [], timedelta(seconds=step_s * (max_points - 1))
    a = start
    while a <= end:
        b = min(a + span, end)
        out.append((a, b))
        a = b + timedelta(seconds=step_s)
    return out


def _align_up(t: datetime, step_s: int) -> datetime:
    return datetime.fromtimestamp(math.ceil(t.timestamp() / step_s) * step_s, tz=timezone.utc)


def _align_down(t: datetime, step_s: int) -> datetime:
    return datetime.fromtimestamp(math.floor(t.timestamp() / step_s) * step_s, tz=timezone.utc)


class _SeriesIndex:
    """Small integer ids for (metric, labels) so millions of points carry no strings until the end."""

    def __init__(self):
        self.ids: dict[tuple[str, str], int] = {}
        self.meta: list[tuple[str, str, str, bool, str]] = []  # metric, labels json, type, gpu, query id

    def id(self, qid: str, q: Query, labels: dict) -> int:
        lj = json.dumps(labels, sort_keys=True, separators=(",", ":"))
        key = (q.metric, lj)
        if key not in self.ids:
            self.ids[key] = len(self.meta)
            self.meta.append((q.metric, lj, q.type, q.gpu, qid))
        return self.ids[key]


def _frame(qid: str, q: Query, result: list[dict], index: _SeriesIndex) -> pl.DataFrame | None:
    """Points of one response (a matrix): series id, time, value ("NaN", "+Inf" parse as such and
    are stored NULL by `_rows`)."""
    parts = []
    for series in result:
        values = series.get("values") or []
        if not values:
            continue
        sid = index.id(qid, q, {k: v for k, v in series.get("metric", {}).items() if k != "__name__"})
        parts.append(pl.DataFrame({
            "sid": pl.Series([sid] * len(values), dtype=pl.UInt32),
            "t": pl.Series([v[0] for v in values], dtype=pl.Float64),
            "value": pl.Series([v[1] for v in values], dtype=pl.Utf8).cast(pl.Float64, strict=False),
        }))
    return pl.concat(parts) if parts else None


def collect(settings: PromSettings, ctx, progress: Callable[[int], None] | None = None,
            on_total: Callable[[int], None] | None = None) -> dict:
    """Pull every query over its range into one all-or-nothing load. Returns counts."""
    step_s = max(1, int(parse_duration(settings.step).total_seconds()))
    now = ctx.clock()
    end = _align_down(ctx.end or now - parse_duration(settings.lag), step_s)
    if ctx.end is not None and end >= ctx.end:
        end -= timedelta(seconds=step_s)         # half-open [from, to)
    before = ctx.watermark() or {}
    previous, old_gaps = before.get("queries", {}), before.get("gaps", {})
    limit = parse_duration(settings.backfill_limit)
    plan, skipped, starts = [], {}, {}
    for qid, q in queries_of(settings):
        if ctx.start is not None:
            start = ctx.start
        elif qid in previous:
            start = datetime.fromisoformat(previous[qid]) + timedelta(seconds=step_s)
            if start < now - limit:
                skipped[qid] = [[start.isoformat(), (now - limit).isoformat()]]
                log.warning("gap not back-filled source=%s query=%s from=%s to=%s (backfill_limit=%s)",
                            ctx.source, q.metric, start, now - limit, settings.backfill_limit)
                start = now - limit
        else:
            start = now - parse_duration(settings.initial)
        start = starts[qid] = _align_up(start, step_s)
        for a, b in chunks(start, end, step_s, settings.max_points):
            plan.append((qid, q, a, b))
        refetch, given_up = gaps.due(old_gaps.get(qid, []), now - limit)   # partial answers of earlier runs
        if given_up:
            skipped.setdefault(qid, []).extend(given_up)
            log.warning("gap not back-filled source=%s query=%s ranges=%s (backfill_limit=%s)",
                        ctx.source, q.metric, given_up, settings.backfill_limit)
        for ga, gb in refetch:
            plan += [(qid, q, a, b) for a, b in chunks(_align_up(ga, step_s), gb, step_s, settings.max_points)]
    if on_total:
        on_total(len(plan))
    client = _Client(settings)
    index = _SeriesIndex()
    frames: list[pl.DataFrame] = []
    last: dict[str, datetime] = {}
    missing: dict[str, list[tuple[datetime, datetime]]] = {}
    warned: dict[str, None] = {}                # distinct warning texts, in order
    with ThreadPoolExecutor(max_workers=max(1, settings.max_in_flight)) as pool:
        futures = {pool.submit(client.query_range, q.expr, a, b, f"{step_s}s"): (qid, q, a, b)
                   for qid, q, a, b in plan}
        deadline = time.monotonic() + settings.budget_s
        try:
            for fut in _within(as_completed(futures, timeout=settings.budget_s), deadline,
                               settings, len(futures)):
                qid, q, a, b = futures[fut]
                result, warnings = fut.result()
                warned.update(dict.fromkeys(warnings))
                if gaps.data_lost(warnings):     # a partial answer: keep none of it, ask again next run
                    missing.setdefault(qid, []).append((a, b))
                elif (f := _frame(qid, q, result, index)) is not None:
                    frames.append(f)
                last[qid] = max(last.get(qid, b), b)
                if progress:
                    progress(1)
        except BaseException:
            for other in futures:
                other.cancel()
            raise
    rows = _rows(frames, index, starts, ctx, settings)
    watermark = dict(previous)
    for qid, t in last.items():
        if qid not in watermark or datetime.fromisoformat(watermark[qid]) < t:
            watermark[qid] = t.isoformat()
    not_fetched = {qid: gaps.merge(r, step_s) for qid, r in sorted(missing.items())}
    with ctx.load() as load:
        if rows is not None and rows.height:
            load.write(rows, scope=f"prometheus/{ctx.source}")
        load.watermark = {"queries": watermark, **({"gaps": not_fetched} if not_fetched else {})}
        load.details = {"requests": len(plan), "points": 0 if rows is None else rows.height,
                        "step_s": step_s, "gaps_not_backfilled": skipped,
                        "null_values": 0 if rows is None else rows["value"].null_count()}
        if warned:
            load.details["warnings"] = list(warned)[:gaps.MAX_WARNINGS]
        if not_fetched:
            load.details["not_fetched"] = not_fetched
            n = sum(len(r) for r in missing.values())
            ctx.notes.append(f"partial: {n} of {len(plan)} requests came back with warnings and were "
                             "not stored; the next run fetches them again")
            log.warning("partial answer source=%s requests=%d of %d warning=%s", ctx.source, n,
                        len(plan), next(iter(gaps.data_lost(list(warned))), ""))
    return {"requests": len(plan), "rows": 0 if rows is None else rows.height, "load_id": load.load_id,
            "not_fetched": not_fetched}


def _rows(frames: list[pl.DataFrame], index: _SeriesIndex, starts: dict[str, datetime], ctx,
          settings: PromSettings) -> pl.DataFrame | None:
    """raw_telemetry rows: service/model_version per series (GPU attribution as in the OpenMetrics
    import), DCGM blanks and non-finite values (NaN, +/-Inf) NULL as in the import, and series_start: a counter with no point at its range's first step
    began inside the range, so its first point counts from zero (DCGM's energy counter, "since
    boot", never does)."""
    if not frames:
        return None
    df = pl.concat(frames)          # a point collected twice is one row in stg_telemetry
    seen = {next((json.loads(lj)[k] for k in SERVICE_LABELS if json.loads(lj).get(k)), None)
            for _, lj, _, _, _ in index.meta} - {None}
    only = next(iter(seen)) if len(seen) == 1 else settings.service
    meta: dict[str, list] = {k: [] for k in ("metric", "metric_type", "labels", "labels_hash",
                                             "service", "model_version", "counter", "range_start")}
    for metric, lj, mtype, gpu, qid in index.meta:
        lb = json.loads(lj)
        svc = next((lb[k] for k in SERVICE_LABELS if lb.get(k)), None)
        if not svc:
            svc = (gpu_owner(lb, ctx.config) or only) if gpu or any(k in lb for k in GPU_LABELS[:4]) \
                else settings.service
        meta["metric"].append(metric)
        meta["metric_type"].append(mtype)
        meta["labels"].append(lj)
        meta["labels_hash"].append(hashlib.md5(lj.encode()).hexdigest())
        meta["service"].append(svc)
        meta["model_version"].append(next((lb[k] for k in VERSION_LABELS if lb.get(k)), None)
                                     or (settings.model_version if svc == settings.service and not gpu else None))
        meta["counter"].append(mtype in ("counter", "histogram", "summary") and not metric.startswith("DCGM_"))
        meta["range_start"].append(starts[qid].timestamp())
    m = pl.DataFrame(meta, schema={"metric": pl.Categorical, "metric_type": pl.Categorical,
                                   "labels": pl.Categorical, "labels_hash": pl.Categorical,
                                   "service": pl.Categorical, "model_version": pl.Categorical,
                                   "counter": pl.Boolean, "range_start": pl.Float64}).with_row_index("sid")
    first = df.group_by("sid").agg(pl.col("t").min().alias("first_t"))
    df = df.join(first, on="sid", how="left").join(m, on="sid", how="left")
    value = pl.col("value")
    return df.select(
        (pl.col("t") * 1_000_000).round(0).cast(pl.Int64).cast(pl.Datetime("us", "UTC")).alias("sampled_at"),
        "metric", "metric_type", "labels", "labels_hash", "service", "model_version",
        pl.when((value.abs() >= SENTINEL_MIN) | ~value.is_finite()).then(None).otherwise(value).alias("value"),
        (pl.col("counter") & (pl.col("t") == pl.col("first_t"))
         & (pl.col("first_t") > pl.col("range_start"))).alias("series_start"),
        pl.lit(ctx.source).cast(pl.Categorical).alias("source"),
    )


@collector("prometheus", settings=PromSettings, table="raw_telemetry",
           help="PromQL range queries (default sets for prometheus_client, vLLM, TGI, Triton, "
                "TorchServe, DCGM) -> raw_telemetry")
def collect_prometheus(settings: PromSettings, ctx) -> None:
    prog = ctx.options.get("progress")
    if prog is not None:
        collect(settings, ctx, progress=prog.update, on_total=lambda n: setattr(prog, "total", n))
    else:
        collect(settings, ctx)


def collect_url(store, config, url: str, service: str | None = None, step: str | None = None,
                start=None, end=None, progress=None, now=None, **settings):
    """`onepane collect prometheus --url URL`: the default query sets against one server."""
    from collectors.registry import get
    from collectors.runner import run_source

    if service is None and config is not None and len(config.services) == 1:
        service = config.services[0].name
    s = PromSettings(url=url, service=service, step=step or "60s", **settings)
    from urllib.parse import urlparse

    source = "prometheus@" + urlparse(s.url).netloc       # watermarks are kept per server
    return run_source(store, config, get("prometheus"), source, s, start, end, now=now,
                      **({"progress": progress} if progress is not None else {}))
