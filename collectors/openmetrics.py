"""OpenMetrics / Prometheus text exposition files -> raw_telemetry (`onepane ingest openmetrics FILE`).

Our own parser (collectors/openmetrics_parse.py; files are read streamed and vectorised by
collectors/openmetrics_stream.py, which falls back to it line by line), because files exported for backfill carry
timestamps on every sample (and prometheus_client's parser rejects timestamped histograms and
negative bucket bounds). It reads:

- `# HELP`, `# TYPE`, `# UNIT` lines (families need not be contiguous), other `#` lines as comments;
- samples `name{k="v", ...} value [timestamp] [# {exemplar labels} value [timestamp]]`: label values
  with `\\`, `\"` and `\n` escapes, spaces after commas, a trailing comma, names with colons;
- values `NaN`, `+Inf`, `-Inf` (stored as NULL, counted in the load details) and DCGM's "blank" sentinels (9223372036854775792-95
  near INT64_MAX on any metric; the INT32 and FP64 blanks on `DCGM_*` metrics), which become NULL;
- `# EOF`: required at the end of an OpenMetrics file (a file without it is truncated), and nothing
  may follow it. Timestamps are seconds in OpenMetrics and milliseconds in the classic format.

vLLM, Triton, TorchServe and TGI names become canonical series (collectors/server_metrics.py).
Exemplars are dropped (counted in the load details). `_created` samples are not stored as
samples: they say when a counter started, so its first sample counts from zero (`series_start`).
A counter series that appears after the file's first timestamp started while it was being observed,
so it counts from zero too; one present from the first timestamp is a baseline (e.g. DCGM's energy
counter, in mJ since boot).

GPU series carry no service label: they are attributed with `Service.gpus` in onepane.toml (UUID,
Hostname, gpu index or Kubernetes pod), else to the single service the same file speaks about.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import datetime
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from collectors.openmetrics_parse import (  # noqa: F401 - the parser's names, re-exported
    DCGM_SENTINELS, MAX_TIME, MIN_TIME, SENTINEL_MIN, SUFFIXES, TYPES, Parsed, Series, _created_key,
    family_of, is_openmetrics, parse)
from collectors.registry import collector
from collectors.openmetrics_stream import StreamReader
from collectors.runner import source_files
from collectors.server_metrics import canonical, triton_version
from metrics.errors import InputError
from metrics.times import utcnow

log = logging.getLogger(__name__)

# Labels that identify a GPU (matched against Service.gpus).
GPU_LABELS = ("UUID", "uuid", "gpu_uuid", "Hostname", "hostname", "pod", "exported_pod", "gpu", "device")
SERVICE_LABELS = ("service",)
VERSION_LABELS = ("model_version", "model_name", "model")
DEFAULT_VERSION = "default"     # a model server's series without a model label (TorchServe's name)


class OpenMetricsSettings(BaseModel):
    """`[[source]] type = "openmetrics"`: files (globs) of OpenMetrics/Prometheus text."""
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(default_factory=list)
    service: str | None = None          # service of series without a `service` label
    model_version: str | None = None    # model version of server series without a model label


def _first(labels: dict, keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = labels.get(k)
        if v:
            return v
    return None


def gpu_owner(labels: dict, config) -> str | None:
    """The service configured (Service.gpus) for the GPU these labels describe."""
    if config is None:
        return None
    values = {labels.get(k) for k in GPU_LABELS if labels.get(k)}
    for svc in getattr(config, "services", []):
        if values & set(svc.gpus):
            return svc.name
    return None


def series_meta(p: Parsed, config=None, service: str | None = None,
                model_version: str | None = None) -> tuple[pl.DataFrame, int]:
    """One row per stored series target (a server series may map to several canonical ones):
    sid, metric, metric_type, labels, labels_hash, service, model_version, counts_from_zero,
    created, divide; and how many server series were mapped."""
    known = {_first(s.labels, SERVICE_LABELS) for s in p.series} - {None, ""}
    only = next(iter(known)) if len(known) == 1 else service
    meta: dict[str, list] = {k: [] for k in ("sid", "metric", "metric_type", "labels", "labels_hash", "service",
                                             "model_version", "counts_from_zero", "created", "divide")}
    mapped = 0
    for i, s in enumerate(p.series):
        if s.created_of is not None:
            continue
        svc = _first(s.labels, SERVICE_LABELS)
        if not svc:
            svc = (gpu_owner(s.labels, config) or only) if any(k in s.labels for k in GPU_LABELS[:4]) else service
        mtype = p.types.get(s.family, "unknown")
        created = p.created.get((s.family, _created_key(s.labels)))
        targets = canonical(s.name, s.labels)
        fallback_version = None
        if targets is not None:
            fallback_version = model_version or DEFAULT_VERSION
        if targets is None:
            targets = [(s.name, s.labels, None, mtype)]
            lj = [s.labels_json]
        else:
            mapped += 1
            lj = [json.dumps(t[1], sort_keys=True, separators=(",", ":")) for t in targets]
        for (metric, labels, divide, typ), labels_json in zip(targets, lj):
            meta["sid"].append(i)
            meta["metric"].append(metric)
            meta["metric_type"].append(typ)
            meta["labels"].append(labels_json)
            meta["labels_hash"].append(hashlib.md5(labels_json.encode()).hexdigest())
            meta["service"].append(svc)
            meta["model_version"].append(triton_version(labels) or _first(labels, VERSION_LABELS)
                                         or fallback_version)
            meta["counts_from_zero"].append((typ in ("counter", "histogram", "summary") or metric.endswith("_total"))
                                            and not s.dcgm)         # DCGM counters run since boot
            meta["created"].append(created)
            meta["divide"].append(divide)
    schema = {"sid": pl.UInt32, "metric": pl.Categorical, "metric_type": pl.Categorical,
              "labels": pl.Categorical, "labels_hash": pl.Categorical, "service": pl.Categorical,
              "model_version": pl.Categorical, "counts_from_zero": pl.Boolean, "created": pl.Float64,
              "divide": pl.Float64}
    return pl.DataFrame(meta, schema=schema), mapped


def to_frame(p: Parsed, source: str, config=None, service: str | None = None,
             stats: dict | None = None, model_version: str | None = None) -> pl.DataFrame:
    """Typed raw_telemetry rows: server metric names mapped to canonical series
    (collectors/server_metrics.py), labels as sorted JSON, service/model_version, GPU attribution,
    series_start. Per-series work is done once per series, per-sample work in polars. A mapped
    server series with no model label (TGI) gets `model_version`, else "default".

    Non-finite values (NaN, +/-Inf, overflowing numbers like 1e400) are stored as NULL and counted
    (`stats["non_finite_values"]`); two samples of one series at one instant keep the one written
    later in the file (`stats["duplicate_samples"]` counts the dropped ones, and
    `conflicting_duplicates` those whose value differed)."""
    m, mapped = series_meta(p, config, service, model_version)
    df = pl.DataFrame({"sid": pl.Series(p.sid, dtype=pl.UInt32),
                       "t": pl.Series(p.sampled_at, dtype=pl.Float64),
                       "value": pl.Series(p.value, dtype=pl.Float64)}).with_row_index("line_order")
    t0 = df["t"].min() if df.height else 0.0
    first = df.group_by("sid").agg(pl.col("t").min().alias("first_t"))
    df = df.join(m, on="sid", how="inner").join(first, on="sid", how="left")
    value = pl.col("value") / pl.coalesce("divide", pl.lit(1.0))
    out = df.select(
        (pl.col("t") * 1_000_000).round(0).cast(pl.Int64).cast(pl.Datetime("us", "UTC")).alias("sampled_at"),
        "metric", "metric_type", "labels", "labels_hash", "service", "model_version",
        pl.when(value.is_finite()).then(value).otherwise(None).alias("value"),
        (pl.col("counts_from_zero") & (pl.col("t") == pl.col("first_t"))
         & (pl.coalesce("created", "first_t") > t0)).alias("series_start"),
        pl.lit(source).cast(pl.Categorical).alias("source"),
        value.is_finite().not_().fill_null(False).alias("_non_finite"),
        "line_order",
    )
    key = ["metric", "labels_hash", "sampled_at"]
    dup = out.select(pl.struct(key).is_duplicated().any()).item() if out.height else False
    conflicting = 0
    before = out.height
    if dup:
        conflicting = out.group_by(key).agg(pl.col("value").n_unique().alias("n")).filter(pl.col("n") > 1).height
        out = out.sort("line_order").unique(subset=key, keep="last", maintain_order=True)
    if stats is not None:
        stats.update({"non_finite_values": int(out["_non_finite"].sum()), "mapped_series": mapped,
                      "duplicate_samples": before - out.height, "conflicting_duplicates": conflicting})
    return out.drop("_non_finite", "line_order")


def ingest_openmetrics(store, path, config=None, source=None, default_time: float | None = None,
                       service: str | None = None, ctx=None, now: datetime | None = None,
                       model_version: str | None = None) -> dict:
    """Load one exposition file into raw_telemetry (all-or-nothing; the same observation twice loads once).

    A file without timestamps is one scrape taken at `default_time` (`--at`, else the file's
    modification time): its identity is its bytes *and* that time, so the same bytes scraped at
    another time are another observation (counter increases between the two count as requests).
    Returns {"load_id", "rows", "skipped", ...}."""
    from collectors.runner import file_hash
    from metrics.lake import Load, already_loaded

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    now = now or utcnow()
    max_time = now.timestamp() + 366 * 86400
    head, tail = _peek(path)
    digest = file_hash(path)
    if not _has_timestamps(head):
        if default_time is None:
            default_time = os.path.getmtime(path)
        if not MIN_TIME <= default_time <= max_time:
            raise InputError(f"scrape time {default_time!r} is out of range (before 1970-01-01 or more "
                             "than a year after now); pass --at", file=str(path), column="--at")
        digest = hashlib.sha256(f"{digest}@{default_time!r}".encode()).hexdigest()
    earlier = already_loaded(store, "raw_telemetry", digest)
    if earlier:
        log.info("already loaded file=%s load=%s", path, earlier)
        return {"load_id": earlier, "rows": 0, "skipped": True}
    src = source or path.name
    load = (ctx.load(source_file=str(path), content_hash=digest) if ctx is not None else
            Load(store, "raw_telemetry", collector="openmetrics", source=src, source_file=str(path),
                 content_hash=digest))
    scratch = store.lake / "_staging" / f"{load.load_id}-parse"
    reader = StreamReader(path, str(path), is_openmetrics(path, head[:4096] + tail), default_time, max_time,
                          scratch)
    try:
        with load:
            parsed = reader.read().p
            m, mapped = series_meta(parsed, config, service, model_version)
            scope = f"openmetrics/{digest[:16]}"
            load.keys_unique = True                # both writes below give each key once
            if reader.files:
                w = reader.write(load, m, src, scope)
            else:                                  # no sample at all: nothing to join
                stats: dict = {}
                frame = to_frame(parsed, src, config, service, stats, model_version)
                load.write(frame, scope=scope)
                w = {"rows": frame.height, "unattributed": 0, "non_finite": 0, "duplicates": 0,
                     "conflicting": 0, "max_us": None}
            load.details = {"samples": w["rows"], "exemplars_dropped": parsed.exemplars,
                            "dcgm_blank_values": parsed.sentinels, "created_series": len(parsed.created),
                            "unattributed_rows": w["unattributed"],
                            "non_finite_values": w["non_finite"],
                            "non_finite_rule": "NaN/+Inf/-Inf/overflowing values stored as NULL",
                            "server_series_mapped": mapped,
                            "duplicate_samples": w["duplicates"],
                            "conflicting_duplicates": w["conflicting"],
                            "duplicate_rule": "same series and timestamp twice in the file: the later line wins; "
                                              "across loads the newest load wins"}
            hi = reader.max_sampled_at(w["max_us"])
            load.watermark = {"max_sampled_at": hi} if hi is not None else None
    finally:
        reader.cleanup()
    if load.status == "duplicate":             # the same content was committed meanwhile
        return {"load_id": load.duplicate_of, "rows": 0, "skipped": True}
    return {"load_id": load.load_id, "rows": w["rows"], "skipped": False, **load.details}


def _peek(path: Path) -> tuple[str, str]:
    """The file's first 200 lines (at least 64 KiB) and last 64 characters, as text (what the format is, whether its
    samples carry timestamps); bad UTF-8 near the start is refused here, as reading it would."""
    with open(path, "rb") as fh:
        data = fh.read(1 << 16)
        while data.count(b"\n") < 200 and len(data) < 1 << 26:
            more = fh.read(1 << 16)
            if not more:
                break
            data += more
        fh.seek(max(0, path.stat().st_size - 256))
        end = fh.read()
    try:
        head = data.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(data) - 4:
            raise InputError(f"not UTF-8 text (byte {e.start})", file=str(path)) from None
        head = data[:e.start].decode("utf-8")
    head = head.replace("\r\n", "\n").replace("\r", "\n")
    tail = end.decode("utf-8", errors="ignore").replace("\r\n", "\n").replace("\r", "\n")[-64:]
    return head, tail


def _has_timestamps(text: str) -> bool:
    for line in text.split("\n", 200)[:200]:
        if line and line[0] != "#":
            body = line.split(" # ")[0]
            return len(body.rsplit("}", 1)[-1].split()) >= 2 if "}" in body else len(body.split()) >= 3
    return True


@collector("openmetrics", settings=OpenMetricsSettings, table="raw_telemetry",
           help="OpenMetrics/Prometheus text files with timestamps -> raw_telemetry")
def collect_openmetrics(settings: OpenMetricsSettings, ctx) -> None:
    for f in source_files(settings.paths, ctx.config):
        ingest_openmetrics(ctx.store, f, ctx.config, ctx.source, service=settings.service, ctx=ctx,
                           model_version=settings.model_version)
