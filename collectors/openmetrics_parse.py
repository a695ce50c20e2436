"""OpenMetrics / Prometheus text exposition parser (used by collectors/openmetrics.py).

Reads `# HELP`, `# TYPE`, `# UNIT` lines (families need not be contiguous), samples with label escapes,
NaN/+Inf/-Inf values (kept as such; the loader stores them NULL), DCGM blank sentinels (NULL),
exemplars (dropped, counted), `_created` samples (the counter's creation time, kept apart) and
`# EOF`. Timestamps are seconds in OpenMetrics and integer milliseconds in the classic format;
one outside [MIN_TIME, MAX_TIME] (or the caller's max_time) and a negative counter, histogram count
or bucket sample raise InputError naming the file and line.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from metrics.errors import InputError

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
# Sample timestamps a load accepts (seconds since 1970, as OpenMetrics writes them): from
# 1970-01-01 to 9999-12-31, and at most a year after the load time (`ingest_openmetrics(now=...)`).
MIN_TIME = 0.0
MAX_TIME = 253402300799.0


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
          default_time: float | None = None, max_time: float | None = None) -> Parsed:
    """Parse exposition text. Raises InputError naming file, line and column on bad input."""
    out = Parsed()
    om = openmetrics if openmetrics is not None else ("# EOF" in text or "\n# UNIT " in text)
    out.openmetrics = om
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    eof_line = feed(out, lines, 1, file, om, default_time, max_time, None)
    finish(eof_line, om, len(lines), file)
    return out


def finish(eof_line: int | None, om: bool, n_lines: int, file: str) -> None:
    """After the last line: an OpenMetrics file must have ended with `# EOF`."""
    if om and eof_line is None:
        raise InputError("file is truncated: an OpenMetrics file must end with '# EOF'",
                         file=file, line=n_lines + 1, column="line")


def feed(out: Parsed, lines: list[str], first: int, file: str, om: bool, default_time: float | None,
         max_time: float | None, eof_line: int | None) -> int | None:
    """Parse `lines` (the first is line `first` of the file) into `out`, line by line; returns the
    line of `# EOF` once seen. The streamed reader (collectors/openmetrics_stream.py) calls this
    for the chunks its vectorised path does not take, so both read every line alike."""
    for i, raw in enumerate(lines, start=first):
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
            meta(out, line, i, file)
            continue
        _sample(line, i, file, om, default_time, out, max_time)
    return eof_line


def meta(out: Parsed, line: str, i: int, file: str) -> None:
    """A `#` line other than `# EOF`: a TYPE line records its family's type; others are comments."""
    m = _META.match(line)
    if m and m.group(1) == "TYPE":
        typ = (m.group(3) or "").strip()
        if typ not in TYPES:
            raise InputError(f"unknown metric type {typ!r}", file=file, line=i, column="type")
        out.types[m.group(2)] = typ


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


def _monotonic(series: Series, types: dict[str, str]) -> bool:
    """Samples the OpenMetrics spec requires to be non-negative: counter values, histogram and
    summary counts and bucket counts (a histogram's _sum may be negative)."""
    typ = types.get(series.family)
    suffix = series.name[len(series.family):]
    return ((typ == "counter" and suffix in ("", "_total"))
            or (typ in ("histogram", "gaugehistogram") and suffix in ("_bucket", "_count", "_gcount"))
            or (typ == "summary" and suffix == "_count"))


def _out_of_range(text: str, ts: float, om: bool, max_time: float | None) -> str:
    hint = ""
    if ts > MAX_TIME and ts / 1000 <= MAX_TIME:
        hint = ("; OpenMetrics timestamps are seconds - this looks like milliseconds (the classic "
                "text format writes integer milliseconds)" if om else "; timestamps look like microseconds")
    top = "9999-12-31" if max_time is None or ts > MAX_TIME else "a year after the load"
    return f"timestamp {text!r} is out of range (before 1970-01-01 or after {top}){hint}"


def _sample(line: str, i: int, file: str, om: bool, default_time: float | None, out: Parsed,
            max_time: float | None = None) -> None:
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
        if not MIN_TIME <= ts <= (max_time if max_time is not None else MAX_TIME):
            raise InputError(_out_of_range(ttext, ts, om, max_time), file=file, line=i, column="timestamp")
    if series.created_of is not None:
        # OpenMetrics: `<counter>_created` holds the counter's creation time (seconds), as value
        if value is not None and not MIN_TIME <= value <= MAX_TIME:
            raise InputError(f"_created value {parts[0]!r} is not a time in seconds since 1970 "
                             "before the year 10000", file=file, line=i, column="value")
        key = (series.created_of, _created_key(series.labels))
        out.created[key] = value if value is not None else ts
        return
    if value is not None and value < 0 and _monotonic(series, out.types):
        raise InputError(f"{series.name} is a counter and cannot be negative: {parts[0]}",
                         file=file, line=i, column="value")
    out.sid.append(sid)
    out.sampled_at.append(ts)
    out.value.append(value)


def _created_key(labels: dict) -> str:
    return json.dumps({k: v for k, v in labels.items() if k not in ("le", "quantile")}, sort_keys=True)
