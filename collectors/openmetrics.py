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
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from collectors.registry import collector
from metrics.errors import InputError

log = logging.getLogger(__name__)

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SIMPLE = re.compile(rf"^({_NAME})\s+(\S+)(?:\s+(\S+))?\s*$")          # no labels, no exemplar
_HEAD = re.compile(rf"^({_NAME})\s*\{{")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,?)')
_META = re.compile(rf"^#\s+(HELP|TYPE|UNIT)\s+({_NAME})(?:\s+(.*))?$")
_ESC = re.compile(r"\\(.)")
_ESC_MAP = {"n": "\n", "\\": "\\", '"': '"'}

TYPES = {"counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown", "untyped"}
SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info")
COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")
# DCGM "blank" values: INT64 BLANK, NOT_FOUND, NOT_SUPPORTED, NOT_PERMISSIONED (0x7ffffffffffffff0+),
# the INT32 ones (0x7ffffff0+) and the FP64 ones (2**47 + 0..3).
INT64_SENTINELS = {str(0x7FFFFFFFFFFFFFF0 + i) for i in range(4)}
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
class Parsed:
    """Columns of the parsed samples plus what the parser noticed."""
    sampled_at: list[float] = field(default_factory=list)
    metric: list[str] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)          # family -> type
    created: dict[tuple[str, str], float] = field(default_factory=dict)   # (family, labels json) -> created
    exemplars: int = 0
    sentinels: int = 0
    openmetrics: bool = False


def _unescape(s: str) -> str:
    return _ESC.sub(lambda m: _ESC_MAP.get(m.group(1), "\\" + m.group(1)), s) if "\\" in s else s


def _float(text: str, file: str, line: int, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{what} {text!r} is not a number", file=file, line=line, column=what) from None


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
            if om:
                raise InputError("blank line (not allowed in OpenMetrics)", file=file, line=i, column="line")
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


def _sample(line: str, i: int, file: str, om: bool, default_time: float | None, out: Parsed) -> None:
    m = _SIMPLE.match(line) if "{" not in line and "#" not in line else None
    if m:
        name, vtext, ttext = m.group(1), m.group(2), m.group(3)
        labels: dict[str, str] = {}
    else:
        h = _HEAD.match(line)
        if h is None:
            raise InputError(f"not a sample line: {line[:60]!r}", file=file, line=i, column="name")
        name, pos, labels = h.group(1), h.end(), {}
        while True:
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
        tail = line[pos:]
        ex = tail.find(" # ")
        if ex >= 0:
            out.exemplars += 1
            tail = tail[:ex]
        parts = tail.split()
        if not parts or len(parts) > 2:
            raise InputError(f"expected 'value [timestamp]' after the labels, got {tail.strip()!r}",
                             file=file, line=i, column="value")
        vtext, ttext = parts[0], (parts[1] if len(parts) > 1 else None)
    if m and " # " in line:         # exemplar on a label-less sample
        out.exemplars += 1
    value: float | None = _float(vtext, file, i, "value")
    if vtext in INT64_SENTINELS or (value is not None and not math.isnan(value) and abs(value) >= 9.2233720368547e18
                                    and value != math.inf and value != -math.inf) \
            or (name.startswith("DCGM_") and value in DCGM_SENTINELS):
        value = None
        out.sentinels += 1
    if ttext is None:
        if default_time is None:
            raise InputError("sample has no timestamp; pass the time it was scraped (--at)",
                             file=file, line=i, column="timestamp")
        ts = default_time
    else:
        ts = _float(ttext, file, i, "timestamp")
        if not om and "." not in ttext and "e" not in ttext.lower():
            ts = ts / 1000.0            # classic text format: integer milliseconds
        if not math.isfinite(ts):
            raise InputError(f"timestamp {ttext!r} is not finite", file=file, line=i, column="timestamp")
    if name.endswith("_created") and family_of(name, out.types) != name:
        fam = family_of(name, out.types)
        out.created[(fam, json.dumps(labels, sort_keys=True))] = value if value is not None else ts
        return
    out.sampled_at.append(ts)
    out.metric.append(name)
    out.labels.append(labels)
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
    """Typed raw_telemetry rows: labels as sorted JSON, service/model_version, GPU attribution."""
    n = len(p.metric)
    labels_json = [json.dumps(lb, sort_keys=True, separators=(",", ":")) for lb in p.labels]
    services = [_first(lb, SERVICE_LABELS) or None for lb in p.labels]
    known = {s for s in services if s}
    only = next(iter(known)) if len(known) == 1 else service
    is_gpu = [not s and any(k in lb for k in GPU_LABELS[:4]) for s, lb in zip(services, p.labels)]
    owners: dict[str, str | None] = {}
    for idx in range(n):
        if services[idx]:
            continue
        lb = p.labels[idx]
        if is_gpu[idx]:
            key = labels_json[idx]
            if key not in owners:
                owners[key] = gpu_owner(lb, config) or only
            services[idx] = owners[key]
        else:
            services[idx] = service
    versions = [_first(lb, VERSION_LABELS) for lb in p.labels]
    mtypes = [p.types.get(family_of(name, p.types), "unknown") for name in p.metric]
    # which counter series started while observed (count their first sample from zero)
    t0 = min(p.sampled_at) if n else 0.0
    first: dict[tuple[str, str], int] = {}
    for idx in range(n):
        key = (p.metric[idx], labels_json[idx])
        if key not in first or p.sampled_at[idx] < p.sampled_at[first[key]]:
            first[key] = idx
    series_start = [False] * n
    for (name, lj), idx in first.items():
        if not (mtypes[idx] in ("counter", "histogram", "summary") or name.endswith("_total")):
            continue
        created = p.created.get((family_of(name, p.types), _created_key(name, p.labels[idx], p.types)))
        began = created if created is not None else p.sampled_at[idx]
        series_start[idx] = began > t0
    return pl.DataFrame({
        "sampled_at": pl.Series([datetime.fromtimestamp(t, tz=timezone.utc) for t in p.sampled_at],
                                dtype=pl.Datetime("us", "UTC")),
        "metric": pl.Series(p.metric, dtype=pl.Utf8),
        "metric_type": pl.Series(mtypes, dtype=pl.Utf8),
        "labels": pl.Series(labels_json, dtype=pl.Utf8),
        "labels_hash": pl.Series([hashlib.md5(x.encode()).hexdigest() for x in labels_json], dtype=pl.Utf8),
        "service": pl.Series(services, dtype=pl.Utf8),
        "model_version": pl.Series(versions, dtype=pl.Utf8),
        "value": pl.Series(p.value, dtype=pl.Float64),
        "series_start": pl.Series(series_start, dtype=pl.Boolean),
        "source": pl.Series([source] * n, dtype=pl.Utf8),
    })


def _created_key(name: str, labels: dict, types: dict) -> str:
    lb = {k: v for k, v in labels.items() if k not in ("le", "quantile")}
    return json.dumps(lb, sort_keys=True)


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
    import glob

    files = sorted({f for pattern in settings.paths for f in glob.glob(pattern, recursive=True)})
    if not files:
        raise InputError(f"no file matches {settings.paths}")
    for f in files:
        ingest_openmetrics(ctx.store, f, ctx.config, ctx.source, service=settings.service, ctx=ctx)
