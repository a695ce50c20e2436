"""OpenMetrics / Prometheus text exposition files -> raw_telemetry (`onepane ingest openmetrics FILE`).

Our own parser, because files exported for backfill carry timestamps on every sample (and
prometheus_client's parser rejects timestamped histograms and negative bucket bounds). It reads:

- `# HELP`, `# TYPE`, `# UNIT` lines (families need not be contiguous), other `#` lines as comments;
- samples `name{k="v", ...} value [timestamp] [# {exemplar labels} value [timestamp]]`: label values
  with `\\`, `\"` and `\n` escapes, spaces after commas, a trailing comma, names with colons;
- values `NaN`, `+Inf`, `-Inf` (kept as such) and DCGM's "blank" sentinels (9223372036854775792-95
  near INT64_MAX on any metric; the INT32 and FP64 blanks on `DCGM_*` metrics), which become NULL;
- `# EOF`: required at the end of an OpenMetrics file (a file without it is truncated), and nothing
  may follow it. Timestamps are seconds in OpenMetrics and milliseconds in the classic format.

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
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from collectors.registry import collector
from collectors.runner import source_files
from metrics.errors import InputError

log = logging.getLogger(__name__)

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_HEAD = re.compile(rf"^({_NAME})(\s*\{{)?")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,?)')
_META = re.compile(rf"^#\s+(HELP|TYPE|UNIT)\s+({_NAME})(?:\s+(.*))?$")
_ESC = re.compile(r"\\(.)")
_ESC_MAP = {"n": "\n", "\\": "\\", '"': '"'}

TYPES = {"counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown", "untyped"}
SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info")
# DCGM "blank" values: INT64 BLANK, NOT_FOUND, NOT_SUPPORTED, NOT_PERMISSIONED (0x7ffffffffffffff0+),
# the INT32 ones (0x7ffffff0+) and the FP64 ones (2**47 + 0..3).
SENTINEL_MIN = 9.2233720368547e18      # all four INT64 blanks parse to ~2**63 as doubles
DCGM_SENTINELS = {float(0x7FFFFFF0 + i) for i in range(4)} | {float(2 ** 47 + i) for i in range(4)}
# Labels that identify a GPU (matched against Service.gpus).
GPU_LABELS = ("UUID", "uuid", "gpu_uuid", "Hostname", "hostname", "pod", "exported_pod", "gpu", "device")
SERVICE_LABELS = ("service",)
VERSION_LABELS = ("model_version", "model_name", "model")


class OpenMetricsSettings(BaseModel):
    """`[[source]] type = "openmetrics"`: files (globs) of OpenMetrics/Prometheus text."""
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(default_factory=list)
    service: str | None = None          # service of series without a `service` label


@dataclass
class Series:
    name: str
    labels: dict
    labels_json: str
    family: str
    created_of: str | None          # a `_created` series: the family whose start time it holds
    dcgm: bool


@dataclass
class Parsed:
    """The parsed samples (one series id per sample) plus what the parser noticed."""
    series: list[Series] = field(default_factory=list)
    sid: list[int] = field(default_factory=list)
    sampled_at: list[float] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)          # family -> type
    created: dict[tuple[str, str], float] = field(default_factory=dict)   # (family, labels json) -> created
    exemplars: int = 0
    sentinels: int = 0
    openmetrics: bool = False
    cache: dict[str, int] = field(default_factory=dict, repr=False)   # label-set text -> series id

    @property
    def metric(self) -> list[str]:
        return [self.series[i].name for i in self.sid]

    @property
    def labels(self) -> list[dict]:
        return [self.series[i].labels for i in self.sid]


def _unescape(s: str) -> str:
    return _ESC.sub(lambda m: _ESC_MAP.get(m.group(1), "\\" + m.group(1)), s) if "\\" in s else s


def family_of(name: str, types: dict[str, str]) -> str:
    if name in types:
        return name
    for suf in SUFFIXES:
        if name.endswith(suf) and name[: -len(suf)] in types:
            return name[: -len(suf)]
    return name


def is_openmetrics(path: Path, head: str) -> bool:
    return path.suffix in (".om", ".openmetrics") or "# EOF" in head or "\n# UNIT " in head


def parse(text: str, file: str = "<text>", openmetrics: bool | None = None,
          default_time: float | None = None) -> Parsed:
    """Parse exposition text. Raises InputError naming file, line and column on bad input."""
    out = Parsed()
    om = openmetrics if openmetrics is not None else ("# EOF" in text or "\n# UNIT " in text)
    out.openmetrics = om
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    eof_line = None
    for i, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if eof_line is not None:
            if line.strip():
                raise InputError("content after '# EOF'", file=file, line=i, column="line")
            continue
        if not line.strip():
            continue
        if line[0] == "#":
            if line.strip() == "# EOF":
                eof_line = i
                continue
            m = _META.match(line)
            if m and m.group(1) == "TYPE":
                typ = (m.group(3) or "").strip()
                if typ not in TYPES:
                    raise InputError(f"unknown metric type {typ!r}", file=file, line=i, column="type")
                out.types[m.group(2)] = typ
            continue
        _sample(line, i, file, om, default_time, out)
    if om and eof_line is None:
        raise InputError("file is truncated: an OpenMetrics file must end with '# EOF'",
                         file=file, line=len(lines) + 1, column="line")
    return out


def _head(line: str, i: int, file: str) -> tuple[str, dict[str, str], int]:
    """Name and labels at the start of a sample line, and where they end."""
    h = _HEAD.match(line)
    if h is None:
        raise InputError(f"not a sample line: {line[:60]!r}", file=file, line=i, column="name")
    name, pos, labels = h.group(1), h.end(), {}
    while h.group(2):
        rest = line[pos:].lstrip()
        if rest.startswith("}"):
            pos = len(line) - len(rest) + 1
            break
        lm = _LABEL.match(line, pos)
        if lm is None:
            raise InputError(f"bad label set at character {pos + 1}: {line[pos:pos + 40]!r}",
                             file=file, line=i, column="labels")
        labels[lm.group(1)] = _unescape(lm.group(2))
        pos = lm.end()
        if not lm.group(3):
            rest = line[pos:].lstrip()
            if not rest.startswith("}"):
                raise InputError(f"expected ',' or '}}' at character {pos + 1}",
                                 file=file, line=i, column="labels")
    return name, labels, pos


def _series_id(head: str, name: str, labels: dict, out: Parsed) -> int:
    fam = family_of(name, out.types)
    created_of = fam if name.endswith("_created") and fam != name else None
    out.series.append(Series(name, labels, json.dumps(labels, sort_keys=True, separators=(",", ":")),
                             fam, created_of, name.startswith("DCGM_")))
    out.cache[head] = len(out.series) - 1
    return len(out.series) - 1


def _sample(line: str, i: int, file: str, om: bool, default_time: float | None, out: Parsed) -> None:
    if " # " not in line:                                  # fast path: no exemplar
        j = line.rfind("}")
        if j < 0:
            j = line.find(" ") - 1 if " " in line else len(line) - 1
        head, tail = line[: j + 1], line[j + 1:]
        sid = out.cache.get(head)
        if sid is None:
            name, labels, pos = _head(head, i, file)
            if pos != len(head):
                raise InputError(f"unexpected {head[pos:pos + 20]!r} at character {pos + 1}",
                                 file=file, line=i, column="labels" if "{" in head else "name")
            sid = _series_id(head, name, labels, out)
    else:
        name, labels, pos = _head(line, i, file)
        head, tail = line[:pos], line[pos:]
        ex = tail.find(" # ")
        if ex >= 0:
            out.exemplars += 1
            tail = tail[:ex]
        sid = out.cache.get(head)
        if sid is None:
            sid = _series_id(head, name, labels, out)
    parts = tail.split()
    if not parts or len(parts) > 2:
        raise InputError(f"expected 'value [timestamp]' after the name and labels, got {tail.strip()!r}",
                         file=file, line=i, column="value")
    series = out.series[sid]
    try:
        value: float | None = float(parts[0])
    except ValueError:
        raise InputError(f"value {parts[0]!r} is not a number", file=file, line=i, column="value") from None
    if (value >= SENTINEL_MIN and value != math.inf) or (series.dcgm and value in DCGM_SENTINELS):
        value = None
        out.sentinels += 1
    if len(parts) == 1:
        if default_time is None:
            raise InputError("sample has no timestamp; pass the time it was scraped (--at)",
                             file=file, line=i, column="timestamp")
        ts = default_time
    else:
        ttext = parts[1]
        try:
            ts = float(ttext)
        except ValueError:
            raise InputError(f"timestamp {ttext!r} is not a number", file=file, line=i,
                             column="timestamp") from None
        if not om and "." not in ttext and "e" not in ttext and "E" not in ttext:
            ts = ts / 1000.0            # classic text format: integer milliseconds
        if not math.isfinite(ts):
            raise InputError(f"timestamp {ttext!r} is not finite", file=file, line=i, column="timestamp")
    if series.created_of is not None:
        key = (series.created_of, _created_key(series.labels))
        out.created[key] = value if value is not None else ts
        return
    out.sid.append(sid)
    out.sampled_at.append(ts)
    out.value.append(value)


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


def to_frame(p: Parsed, source: str, config=None, service: str | None = None) -> pl.DataFrame:
    """Typed raw_telemetry rows: labels as sorted JSON, service/model_version, GPU attribution,
    series_start. Per-series work is done once per series, per-sample work in polars."""
    known = {_first(s.labels, SERVICE_LABELS) for s in p.series} - {None, ""}
    only = next(iter(known)) if len(known) == 1 else service
    meta: dict[str, list] = {k: [] for k in ("metric", "metric_type", "labels", "labels_hash", "service",
                                             "model_version", "counts_from_zero", "created")}
    for s in p.series:
        svc = _first(s.labels, SERVICE_LABELS)
        if not svc:
            svc = (gpu_owner(s.labels, config) or only) if any(k in s.labels for k in GPU_LABELS[:4]) else service
        mtype = p.types.get(s.family, "unknown")
        meta["metric"].append(s.name)
        meta["metric_type"].append(mtype)
        meta["labels"].append(s.labels_json)
        meta["labels_hash"].append(hashlib.md5(s.labels_json.encode()).hexdigest())
        meta["service"].append(svc)
        meta["model_version"].append(_first(s.labels, VERSION_LABELS))
        meta["counts_from_zero"].append((mtype in ("counter", "histogram", "summary") or s.name.endswith("_total"))
                                        and not s.dcgm)         # DCGM counters run since boot
        meta["created"].append(p.created.get((s.family, _created_key(s.labels))))
    m = pl.DataFrame(meta, schema={"metric": pl.Categorical, "metric_type": pl.Categorical,
                                   "labels": pl.Categorical, "labels_hash": pl.Categorical,
                                   "service": pl.Categorical, "model_version": pl.Categorical,
                                   "counts_from_zero": pl.Boolean, "created": pl.Float64}
                     ).with_row_index("sid")
    df = pl.DataFrame({"sid": pl.Series(p.sid, dtype=pl.UInt32),
                       "t": pl.Series(p.sampled_at, dtype=pl.Float64),
                       "value": pl.Series(p.value, dtype=pl.Float64)})
    t0 = df["t"].min() if df.height else 0.0
    first = df.group_by("sid").agg(pl.col("t").min().alias("first_t"))
    df = df.join(m, on="sid", how="left").join(first, on="sid", how="left")
    return df.select(
        (pl.col("t") * 1_000_000).round(0).cast(pl.Int64).cast(pl.Datetime("us", "UTC")).alias("sampled_at"),
        "metric", "metric_type", "labels", "labels_hash", "service", "model_version", "value",
        (pl.col("counts_from_zero") & (pl.col("t") == pl.col("first_t"))
         & (pl.coalesce("created", "first_t") > t0)).alias("series_start"),
        pl.lit(source).cast(pl.Categorical).alias("source"),
    )


def _created_key(labels: dict) -> str:
    return json.dumps({k: v for k, v in labels.items() if k not in ("le", "quantile")}, sort_keys=True)


def ingest_openmetrics(store, path, config=None, source=None, default_time: float | None = None,
                       service: str | None = None, ctx=None) -> dict:
    """Load one exposition file into raw_telemetry (all-or-nothing; the same file twice loads once).

    Returns {"load_id", "rows", "skipped", ...}."""
    from collectors.runner import file_hash
    from metrics.lake import Load, already_loaded

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    digest = file_hash(path)
    earlier = already_loaded(store, "raw_telemetry", digest)
    if earlier:
        log.info("already loaded file=%s load=%s", path, earlier)
        return {"load_id": earlier, "rows": 0, "skipped": True}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", file=str(path)) from None
    if default_time is None and not _has_timestamps(text):
        default_time = os.path.getmtime(path)
    src = source or path.name
    load = (ctx.load(source_file=str(path), content_hash=digest) if ctx is not None else
            Load(store, "raw_telemetry", collector="openmetrics", source=src, source_file=str(path),
                 content_hash=digest))
    with load:
        parsed = parse(text, str(path), is_openmetrics(path, text[:4096] + text[-64:]), default_time)
        frame = to_frame(parsed, src, config, service)
        load.write(frame, scope=f"openmetrics/{digest[:16]}")
        load.details = {"samples": frame.height, "exemplars_dropped": parsed.exemplars,
                        "dcgm_blank_values": parsed.sentinels, "created_series": len(parsed.created),
                        "unattributed_rows": int(frame["service"].null_count())}
        load.watermark = {"max_sampled_at": frame["sampled_at"].max()} if frame.height else None
    if load.status == "duplicate":             # the same content was committed meanwhile
        return {"load_id": load.duplicate_of, "rows": 0, "skipped": True}
    return {"load_id": load.load_id, "rows": frame.height, "skipped": False, **load.details}


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
        ingest_openmetrics(ctx.store, f, ctx.config, ctx.source, service=settings.service, ctx=ctx)
