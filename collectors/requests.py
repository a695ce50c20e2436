"""Request logs (CSV or Parquet, one row per request) -> raw_requests (`onepane ingest requests FILE`).

Columns are found by name (first match wins, case-insensitive):

| raw_requests | accepted source columns |
|---|---|
| request_id | request_id, id, trace_id |
| arrived_at | arrived_at, timestamp, ts, time, started_at, start_time, created_at |
| finished_at | finished_at, ended_at, end_time, completed_at |
| service | service, service_name, app (else `--service`, else the only configured service) |
| model_version | model_version, version, model |
| status | status, status_code, code, http_status |
| latency_s | latency_s, latency, duration_s, duration; latency_ms/duration_ms (/1000); else finished - arrived |
| prompt_tokens / completion_tokens | prompt_tokens, input_tokens / completion_tokens, output_tokens |
| fallback / abstained | fallback, is_fallback, used_fallback / abstained, abstain, is_abstain; or a `path` / `answered_by` / `route` column whose value is `fallback` or `abstain` |

Times take any form of collectors.dates (ISO 8601, unix seconds or milliseconds when >= 1e11,
M/D/YYYY, D.M.YYYY, ...), one reading per column inferred from all its values; a time before 2000
or more than a year after the load refuses the file. Latencies must be finite and >= 0: a NaN,
infinite or negative latency refuses the file (never summed, never silently NULL). A bad value
raises InputError naming the file, line (header = line 1) and column; nothing is written.

CSV files are read, typed and written by DuckDB in one streamed pass (`_csv_fast`): every check
above is a guard in that query or a test on the statistics of the files it wrote (a value out of
bounds), and a row that fails one (or anything unusual: a header DuckDB reads differently, a value
polars would read differently) stops it or refuses its files; the file is then read by the
polars reader (`read_requests`), which accepts it as the guards could not, or raises the typed
error naming the first failing line and column. So both paths give the same rows and errors.
The query writes one file when the first and last rows are on one UTC day; a log over several
days, in time order and without quotes or carriage returns, is cut where each day starts
(`_day_pieces`) and each piece written as its day's one file; a row on another day than its
file's refuses that write, and the rows are then written partitioned by day by DuckDB. Rows are
written in any order; the table columns the log lacks are written as NULL, as from the polars
reader. The request ids are then checked here (`_write_fast`): a log with an id twice is written
again in line order (one file per day, in file order), so the later line wins; one written
partitioned by DuckDB goes to the polars reader.
"""
from __future__ import annotations

import logging
import os
import shutil
from datetime import timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from collectors.registry import collector
from collectors.runner import source_files
from metrics.errors import InputError

log = logging.getLogger(__name__)

ALIASES = {
    "request_id": ("request_id", "id", "trace_id"),
    "arrived_at": ("arrived_at", "timestamp", "ts", "time", "started_at", "start_time", "created_at"),
    "finished_at": ("finished_at", "ended_at", "end_time", "completed_at"),
    "service": ("service", "service_name", "app"),
    "model_version": ("model_version", "version", "model"),
    "status": ("status", "status_code", "code", "http_status"),
    "latency_s": ("latency_s", "latency", "duration_s", "duration", "latency_seconds"),
    "latency_ms": ("latency_ms", "duration_ms"),
    "prompt_tokens": ("prompt_tokens", "input_tokens"),
    "completion_tokens": ("completion_tokens", "output_tokens"),
    "fallback": ("fallback", "is_fallback", "used_fallback"),
    "abstained": ("abstained", "abstain", "is_abstain"),
    "path": ("path", "answered_by", "route"),
}
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f", ""}


class RequestsSettings(BaseModel):
    """`[[source]] type = "requests"`: request-log files (globs), CSV or Parquet."""
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(default_factory=list)
    service: str | None = None


def _find(columns: list[str], key: str) -> str | None:
    lower = {c.lower().strip(): c for c in columns}
    return next((lower[a] for a in ALIASES[key] if a in lower), None)


def _bad(file: str, idx: int, column: str, msg: str) -> InputError:
    return InputError(msg, file=file, line=idx + 2, column=column)


def _times(s: pl.Series, file: str, column: str, now=None) -> pl.Series:
    """One reading for the column from all its values (collectors.dates), bounds checked;
    errors name the failing line and its own value."""
    from collectors.dates import Bounds, parse_series

    return parse_series(s, file, column, Bounds.at(now))[0]


def _latencies(s: pl.Series, file: str, column: str) -> pl.Series:
    """Latency seconds: NaN, infinite or negative values refuse the file (naming the line)."""
    bad = (s.is_nan() | s.is_infinite() | (s < 0)).fill_null(False).arg_true()
    if len(bad):
        i = bad[0]
        raise _bad(file, i, column, f"latency {s[i]!r} is not a finite, non-negative number "
                   "(the file is refused rather than summing it)")
    return s


def _bools(s: pl.Series, file: str, column: str) -> pl.Series:
    import polars as pl

    if s.dtype == pl.Boolean:
        return s
    text = s.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    bad = (~text.is_in(list(TRUE | FALSE)) & text.is_not_null()).arg_true()
    if len(bad):
        i = bad[0]
        raise _bad(file, i, column, f"not a boolean: {s[i]!r} (use true/false or 1/0)")
    return text.is_in(list(TRUE))


def _numbers(s: pl.Series, file: str, column: str, dtype=None) -> pl.Series:
    import polars as pl

    out = s.cast(dtype or pl.Float64, strict=False)
    bad = (out.is_null() & s.is_not_null() & (s.cast(pl.Utf8).str.strip_chars() != "")).arg_true()
    if len(bad):
        i = bad[0]
        raise _bad(file, i, column, f"not a number: {s[i]!r}")
    return out


def read_requests(path: Path, service: str | None = None, source: str | None = None,
                  now=None) -> pl.DataFrame:
    """Read and normalise one request log; raises InputError on bad input."""
    import polars as pl          # here, not at import: a CSV on the DuckDB path never needs it

    file = str(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pl.read_parquet(path)
        else:
            df = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as e:
        raise InputError(f"cannot read as {'Parquet' if path.suffix.lower() in ('.parquet', '.pq') else 'CSV'}: "
                         f"{str(e).splitlines()[0]}", file=file) from None
    cols = df.columns
    c = {k: _find(cols, k) for k in ALIASES}
    if c["arrived_at"] is None:
        raise InputError(f"no time column (one of {', '.join(ALIASES['arrived_at'])})", file=file, line=1)
    n = df.height
    out: dict[str, pl.Series] = {}
    out["arrived_at"] = _times(df[c["arrived_at"]], file, c["arrived_at"], now)
    if out["arrived_at"].null_count():
        i = out["arrived_at"].is_null().arg_true()[0]
        raise _bad(file, i, c["arrived_at"], "empty time")
    out["finished_at"] = (_times(df[c["finished_at"]], file, c["finished_at"], now) if c["finished_at"]
                          else pl.Series([None] * n, dtype=pl.Datetime("us", "UTC")))
    if c["service"]:
        out["service"] = df[c["service"]].cast(pl.Utf8)
    elif service:
        out["service"] = pl.Series([service] * n, dtype=pl.Utf8)
    else:
        raise InputError("no service column; pass --service (or configure exactly one service)",
                         file=file, line=1)
    for key in ("request_id", "model_version", "status"):
        out[key] = df[c[key]].cast(pl.Utf8) if c[key] else pl.Series([None] * n, dtype=pl.Utf8)
    if c["latency_s"]:
        out["latency_s"] = _latencies(_numbers(df[c["latency_s"]], file, c["latency_s"]), file, c["latency_s"])
    elif c["latency_ms"]:
        out["latency_s"] = _latencies(_numbers(df[c["latency_ms"]], file, c["latency_ms"]), file,
                                      c["latency_ms"]) / 1000.0
    elif c["finished_at"]:
        out["latency_s"] = _latencies((out["finished_at"] - out["arrived_at"]).dt.total_microseconds() / 1e6,
                                      file, c["finished_at"])
    else:
        out["latency_s"] = pl.Series([None] * n, dtype=pl.Float64)
    for key in ("prompt_tokens", "completion_tokens"):
        out[key] = (_numbers(df[c[key]], file, c[key], pl.Int64) if c[key]
                    else pl.Series([None] * n, dtype=pl.Int64))
    path_col = df[c["path"]].cast(pl.Utf8).str.to_lowercase() if c["path"] else None
    for key, word in (("fallback", "fallback"), ("abstained", "abstain")):
        if c[key]:
            out[key] = _bools(df[c[key]], file, c[key])
        elif path_col is not None:
            out[key] = path_col.str.starts_with(word).fill_null(False)
        else:
            out[key] = pl.Series([None] * n, dtype=pl.Boolean)
    out["source"] = pl.Series([source or path.name] * n, dtype=pl.Utf8)
    return pl.DataFrame(out)


# ---- the fast path: CSV -> Parquet in DuckDB ---------------------------------------------------
_STOP = "onepane: not on the fast path"        # raised inside the query by error(); never shown
# the text columns worth a dictionary (service, model version, status: a few values per row
# group) hold far fewer; request ids, unique, are written plain at once (metrics.lake write_query)
DICTIONARY_LIMIT = 4096
_SPACE = " \t\n\r\x0b\x0c"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _header(path: Path) -> list[str] | None:
    """The header's column names as Python's csv module reads them (None: not plain UTF-8 CSV)."""
    import csv
    import io

    with open(path, "rb") as fh:
        first = fh.readline(1 << 20)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0] if len(rows) == 1 else None


def _csv_fast(con, load, path: Path, service: str | None, source: str, scope: str, now=None,
              plain: bool = False, spaces_only: bool = False, underscores: bool = True) -> dict | None:
    """Read, check and write a CSV request log in one DuckDB query through `load`; the counts for
    the load details, or None when the file needs the polars reader (see the module doc).
    `plain`: the file holds no quote and no carriage return (a multi-day log may be cut by day).
    `spaces_only`: `plain`, and no tab, vertical tab or form feed either, so the only white space
    a field can hold is " " (a line break ends the record). `underscores=False`: no "_" in the
    file's data (after its header).

    Checks that need a value's text run on every row (a number DuckDB reads and polars does not,
    a word that is not a boolean, a finish time that is not one). Bounds run on the statistics the
    Parquet writer keeps of every file anyway (`_check_stats`): a time not read or out of range, a
    latency below 0, infinite or NaN, a row on another day than its piece's - the same rows, at
    no cost per row (0.07 CPU s per 1M rows less than testing every row)."""
    import duckdb

    from collectors.dates import Bounds, lit

    names = _header(path)
    if not names or len(set(names)) != len(names) or any(not n for n in names):
        return None
    opts = ("all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"', "
            "allow_quoted_nulls = false, strict_mode = true, null_padding = false")

    def src(file: Path) -> str:
        return f"read_csv({lit(str(file))}, {opts})"

    try:
        got = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src(path)}").fetchall()]
    except duckdb.Error:
        return None
    if got != names:
        return None
    c = {k: _find(names, k) for k in ALIASES}
    if c["arrived_at"] is None or (c["service"] is None and not service):
        return None
    bounds = Bounds.at(now)
    stop = f"error({lit(_STOP)})"

    def v(key):
        return f"src.{_q(c[key])}"

    # three layers, so each expression is computed once per row (DuckDB does not share one
    # between the branches of a CASE): typed values; the output columns and one `_bad` flag
    # (any check failing); the write, where a bad row stops the query
    typed = {f"_t_{k}": v(k) for k in c if c[k]}
    checks: list[str] = []

    def when(key):
        """ISO 8601 only (YYYY-MM-DD first, no space before): what the ISO reading of
        collectors.dates gives, in one cast (naive values are UTC: the session's time zone)."""
        typed[f"_p_{key}"] = f"CASE WHEN {v(key)} LIKE '____-__-__%' THEN TRY_CAST({v(key)} AS TIMESTAMPTZ) END"
        return f"_p_{key}"

    def number(key, typ="DOUBLE"):
        x, n = f"_t_{key}", f"_n_{key}"
        typed[n] = f"TRY_CAST(nullif({v(key)}, '') AS {typ})"
        if typ == "BIGINT":      # polars reads plain integers only ("5.0", "+5", " 5" -> the polars reader)
            checks.append(f"({x} <> '' AND {n}::VARCHAR IS DISTINCT FROM {x})")
        else:                    # DuckDB also reads " 5" and "1_000", polars does not: any space or
            # "_" goes to the polars reader (one regexp: half the CPU of contains + trim; in a file
            # whose only white space is " ", contains() finds the same values: 0.02 against
            # 0.053 CPU s per 1M values, and "_" is looked for only in a file that has one)
            odd = (" OR ".join(f"contains({x}, {lit(ch)})" for ch in ("_ " if underscores else " "))
                   if spaces_only else f"regexp_matches({x}, {lit('[_' + _SPACE + ']')})")
            checks.append(f"({n} IS NULL AND {x} <> '') OR {odd}")
        return n

    arrived = when("arrived_at")            # NULL (not a time) and bounds: on the statistics
    cols = {"arrived_at": arrived}
    if c["finished_at"]:
        fin, x = when("finished_at"), "_t_finished_at"
        cols["finished_at"] = fin
        checks.append(f"{fin} IS NULL AND {x} IS NOT NULL AND trim({x}) <> ''")
    cols["service"] = "_t_service" if c["service"] else f"{lit(service)}::VARCHAR"
    for key in ("request_id", "model_version", "status"):
        cols[key] = f"_t_{key}" if c[key] else "NULL::VARCHAR"
    lat = val = None
    if c["latency_s"]:
        lat = val = number("latency_s")
    elif c["latency_ms"]:
        val = number("latency_ms")
        lat = f"({val} / 1000.0)"
    elif c["finished_at"]:
        lat = val = f"((epoch_us({fin}) - epoch_us({arrived})) / 1e6)"
    if lat is not None:          # finite and >= 0: on the statistics of latency_s, where ms divided
        cols["latency_s"] = lat  # by 1000 stay NaN or infinite, but a negative may become -0.0
        if lat != val:           # (-5e-324 ms), which the statistics do not tell from 0
            checks.append(f"{val} < 0")
    for key in ("prompt_tokens", "completion_tokens"):
        if c[key]:
            cols[key] = number(key, "BIGINT")
    if c["path"]:
        typed["_path"] = f"lower({v('path')})"
    # a boolean: lower-case spellings in one CASE (an IN list is planned as a join), the usual
    # two first (a row leaves the CASE at its first match: 0.013 against 0.019 CPU s per 1M values
    # in sorted order); anything else trimmed and lowered first; NULL (an empty field) stays NULL,
    # an unknown word stops the query there (no test on the rows that matched)
    words = " ".join(f"WHEN {lit(w)} THEN {str(w in TRUE).lower()}"
                     for w in sorted(TRUE | FALSE, key=lambda w: (w not in ("false", "true"), w)))
    for key, word in (("fallback", "fallback"), ("abstained", "abstain")):
        if c[key]:
            x = v(key)
            typed[f"_b_{key}"] = (f"CASE {x} {words} ELSE CASE lower(trim({x})) {words} "
                                  f"ELSE CASE WHEN {x} IS NOT NULL THEN {stop} END END END")
            cols[key] = f"_b_{key}"
        elif c["path"]:
            cols[key] = f"coalesce(starts_with(_path, {lit(word)}), false)"
    # a NULL check is no failure (CASE WHEN takes only true), so no coalesce() around each
    bad = " OR ".join(f"({x})" for x in checks)

    def body(file: Path = path) -> str:
        """The query over `file` (the log, or a piece of it with its header)."""
        layer1 = f"SELECT {', '.join(f'{e} AS {k}' for k, e in typed.items())} FROM {src(file)} AS src"
        out = ", ".join(f"{e} AS {_q(k)}" for k, e in cols.items())
        if not bad:
            return f"SELECT {out} FROM ({layer1})"
        layer2 = f"SELECT {out}, ({bad}) AS _bad FROM ({layer1})"
        return (f"SELECT * EXCLUDE (_bad) REPLACE (CASE WHEN _bad THEN {stop} ELSE arrived_at END "
                f"AS arrived_at) FROM ({layer2})")

    index = names.index(c["arrived_at"])
    days = _end_days(con, path, index)
    if days is None:
        try:
            first = con.execute(f"SELECT arrived_at FROM ({body()}) LIMIT 1").fetchone()
        except duckdb.Error:
            return None
        if first is None or first[0] is None:   # no rows (or no time): the polars reader says
            return None
        days = (first[0].astimezone(timezone.utc).date().isoformat(),) * 2
    pieces = ([(days[0], None)] if days[0] == days[1] else
              _day_pieces(path, index, days[0]) if plain else None)
    return _write_fast(con, load, path, body, list(cols), pieces, scope, source, bounds)


def _end_days(con, path: Path, index: int) -> tuple[str, str] | None:
    """The UTC days of the first and the last row's time, read from the file's two ends as the
    query reads them (None: not sure, e.g. a quoted line break). A guess that only picks the
    write: a row on another day than the first row's still stops the one-file write."""
    import csv

    from collectors.dates import lit

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = csv.reader(fh)
            next(rows)
            head = next(rows)
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - (1 << 16)))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()   # may start mid-character
        tail = next(csv.reader([lines[-1]])) if len(lines) > 2 and '"' not in lines[-1] else None
        got = con.execute(
            "SELECT " + ", ".join(
                f"strftime(CASE WHEN {lit(r[index])} LIKE '____-__-__%' THEN TRY_CAST({lit(r[index])} AS TIMESTAMPTZ) END, "
                "'%Y-%m-%d')" for r in (head, tail or head))).fetchone()
    except (OSError, UnicodeDecodeError, csv.Error, StopIteration, IndexError):
        return None
    return None if None in got else (got[0], got[1])


def _day_pieces(path: Path, index: int, first: str, most: int = 64) -> list | None:
    """A multi-day log in time order, cut where each UTC day starts: [(day, (start, end))], byte
    ranges of whole lines after the header, in file order (None: not cut). Only a file without a
    quote or a carriage return is cut (the caller knows: `ingest_requests` looks while hashing),
    so every line break ends a record, and a piece with the header is read as those lines of the
    whole file are. The cuts are found by bisection over byte offsets (a day read here as Python
    reads the ISO time): a guess that only picks the writes, as each piece's query still stops
    on a row of another day (the whole file is then written partitioned by DuckDB)."""
    from datetime import datetime

    size = path.stat().st_size
    with open(path, "rb") as fh:
        def day_at(pos: int) -> str | None:
            fh.seek(pos)
            try:
                t = datetime.fromisoformat(fh.readline().split(b",")[index].decode())
            except (IndexError, UnicodeDecodeError, ValueError):
                return None
            return (t if t.tzinfo is None else t.astimezone(timezone.utc)).date().isoformat()

        def line_after(off: int) -> int:         # the first line start at or after `off` (> 0)
            fh.seek(off - 1)
            rest = fh.readline()
            return off - 1 + len(rest) if rest.endswith(b"\n") else size

        start = line_after(1)
        if start >= size or day_at(start) != first:
            return None
        out, day = [], first
        while start < size:
            lo, hi = start, size        # the line at lo is on `day`; every line from hi on is later
            while hi - lo > 1:
                mid = (lo + hi) // 2
                p = line_after(mid)
                if p >= hi:                 # no line starts in [mid, hi)
                    hi = mid
                    continue
                d = day_at(p)
                if d is None:
                    return None
                lo, hi = (lo, p) if d > day else (p, hi)
            end = line_after(lo + 1)
            out.append((day, (start, end)))
            if end < size:
                nxt = day_at(end)
                if nxt is None or nxt <= day or len(out) >= most:
                    return None
                day = nxt
            start = end
        return out


def _piece(path: Path, folder: Path, span: tuple[int, int]) -> Path:
    """Lines [start, end) of the log with its header line, as a file in `folder`."""
    out = folder / f".piece-{span[0]}.csv"
    with open(path, "rb") as src, open(out, "wb") as dst:
        dst.write(src.readline())
        dst.flush()
        pos, left = span[0], span[1] - span[0]
        while left > 0:
            n = os.copy_file_range(src.fileno(), dst.fileno(), left, pos)
            if n <= 0:
                raise OSError("copy_file_range copied nothing")
            pos, left = pos + n, left - n
    return out


class _Stop(Exception):
    """The written files hold a value the checks refuse: the file goes to the polars reader."""


class _OtherDay(Exception):
    """A piece of a log cut by day holds a row of another day (the log is not in time order)."""


def _check_stats(files: list[dict], bounds, day: str | None) -> None:
    """The bounds of `_csv_fast`, on the statistics of the files one write made (Load.write_query
    `stats`): raises _Stop for a time not read (NULL) or out of `bounds`, or a latency below 0,
    infinite or NaN; _OtherDay when a time is not on `day` (a piece's UTC day). Statistics it
    cannot read (a key missing, a value it cannot parse) refuse too: slower, never wrong."""
    from datetime import datetime, timedelta

    def span(stat: dict) -> tuple[datetime, datetime]:
        return datetime.fromisoformat(stat["min"]), datetime.fromisoformat(stat["max"])

    try:
        for f in files:
            def col(name: str) -> dict:
                return f.get(f'"{name}"', f.get(name)) or {}

            arrived, finished, lat = col("arrived_at"), col("finished_at"), col("latency_s")
            if arrived.get("null_count") != "0":
                raise _Stop
            first, last = span(arrived)
            for lo, hi in [(first, last)] + ([span(finished)] if "min" in finished else []):
                if lo < bounds.earliest or hi > bounds.latest:
                    raise _Stop
            if lat.get("has_nan") == "true" or ("min" in lat and (float(lat["min"]) < 0
                                                                  or float(lat["max"]) == float("inf"))):
                raise _Stop
            if day is not None:
                start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
                if first < start or last >= start + timedelta(days=1):
                    raise _OtherDay
    except (KeyError, ValueError, TypeError):
        raise _Stop from None


def _write_fast(con, load, path: Path, body, cols: list[str], pieces: list | None, scope: str,
                source: str, bounds, ordered: bool = False) -> dict | None:
    """Write through the load, one unpartitioned file per UTC day when the log can be cut by day
    (`pieces`: one day, the whole file; several days, the pieces of `_day_pieces`; a row on
    another day than its piece's refuses the write), else partitioned by DuckDB (`pieces` None, or
    after such a refusal). Each write's files are checked on their statistics (`_check_stats`).
    The rows are written in any order (cheaper), then their request ids
    checked: all distinct, the load says so (`keys_unique`: the commit skips its own check); a
    request id twice, and the later line must win (lake_dedup), so the order counts: a log cut by
    day is written again in line order (pieces in file order, so later lines are later writes),
    a partitioned one (DuckDB's partitioned write keeps no order) goes to the polars reader."""
    from concurrent.futures import ThreadPoolExecutor

    import duckdb

    from metrics.lake import OWNER
    from metrics.lake_dedup import keys_distinct

    load.staging.mkdir(parents=True, exist_ok=True)
    before = set(load.staging.iterdir())

    def discard():
        for p in set(load.staging.iterdir()) - before:          # this write's files
            if p.name != OWNER:
                shutil.rmtree(p, ignore_errors=True)

    # the partition value (strftime(arrived_at, '%Y-%m-%d') in UTC) without formatting every
    # TIMESTAMPTZ through ICU: the UTC date of the epoch microseconds (20x cheaper), kept a DATE
    # (DuckDB names the folder day=YYYY-MM-DD all the same, and partitions on 4-byte values
    # instead of a string per row)
    utc_day = "make_timestamp(epoch_us(arrived_at))::DATE"

    def write(day, file: Path) -> int:
        stats: list[dict] = []
        n = load.write_query(con, body(file), cols, scope, partition=day, partition_sql=utc_day,
                             ordered=ordered, constants={"source": source},
                             dictionary_limit=DICTIONARY_LIMIT, stats=stats)
        _check_stats(stats, bounds, day)
        return n

    def write_all(plan) -> int:
        """Each piece is copied while the one before is written (a copy in the kernel, on a
        thread: DuckDB's query leaves the cores ~8% idle, so the copies cost no wall time)."""
        if plan[0][1] is None:
            return sum(write(day, path) for day, _ in plan)
        total = 0
        with ThreadPoolExecutor(1) as pool:
            ahead = pool.submit(_piece, path, load.staging, plan[0][1])
            for k, (day, _) in enumerate(plan):
                file = ahead.result()
                if k + 1 < len(plan):
                    ahead = pool.submit(_piece, path, load.staging, plan[k + 1][1])
                try:
                    total += write(day, file)
                finally:
                    file.unlink(missing_ok=True)
        return total

    rows, written = load.rows, None
    for plan in ([pieces] if pieces else []) + [[(None, None)]]:
        try:
            written = write_all(plan)
            break
        except (duckdb.Error, OSError, _Stop, _OtherDay) as e:
            discard()                                           # the refused write's files
            load.rows = rows
            if plan[0][0] is None or not isinstance(e, (_OtherDay, OSError)):
                return None                                     # (a piece not copied: partitioned)
    by_day = plan[0][0] is not None
    staged = sorted(p for p in load.staging.rglob("*.parquet") if p.parent.parent not in before)
    if not ordered:
        if not staged or keys_distinct(con, "raw_requests", staged, rows=written):
            load.keys_unique = True
        else:                                                   # a request id twice: order counts
            discard()
            load.rows -= written
            return (_write_fast(con, load, path, body, cols, plan, scope, source, bounds, ordered=True)
                    if by_day else None)
    n, fb, ab = con.execute(
        f"SELECT count(*), {', '.join(f'count(*) FILTER ({k})' if k in cols else '0' for k in ('fallback', 'abstained'))} "
        "FROM read_parquet("
        f"[{', '.join(repr(str(p)) for p in staged)}], union_by_name = true, hive_partitioning = false)").fetchone()
    return {"requests": n, "fallbacks": fb, "abstained": ab}


def ingest_requests(store, path, config=None, source=None, service: str | None = None, ctx=None) -> dict:
    """Load one request log into raw_requests (all-or-nothing; the same file twice loads once)."""
    from collectors.runner import file_hash
    from metrics.lake import Load, already_loaded, run_log_files

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    # seen while hashing: a quote or a carriage return (a multi-day CSV is then not cut by day), a
    # tab, vertical tab or form feed (numbers are then checked for every kind of white space), "_"
    # after the header (numbers are checked for it)
    odd: set[bytes] = set()
    header = True

    def look(chunk: bytes) -> None:
        nonlocal header
        odd.update(c for c in (b'"', b"\r", b"\t", b"\x0b", b"\x0c") if c in chunk)
        if header:                  # (a header longer than a chunk: "_" may be counted from it)
            chunk, header = chunk[chunk.find(b"\n") + 1:], False
        if b"_" not in odd and b"_" in chunk:
            odd.add(b"_")
    digest = file_hash(path, each=look)
    con = store.connect()           # one connection for both look-ups (each open costs ~30 ms)
    try:
        checked = run_log_files(store)      # before the look-up: the commit reads only newer files
        earlier = already_loaded(store, "raw_requests", digest, con=con)
        if earlier:
            return {"load_id": earlier, "rows": 0, "skipped": True}
        load = (ctx.load(source_file=str(path), content_hash=digest) if ctx is not None else
                Load(store, "raw_requests", collector="requests", source=source or path.name,
                     source_file=str(path), content_hash=digest, con=con, checked=checked))
    finally:
        con.close()
    if service is None and config is not None and len(config.services) == 1:
        service = config.services[0].name
    scope = f"requests/{digest[:16]}"
    with load:
        counts = None
        if path.suffix.lower() not in (".parquet", ".pq"):
            from metrics.lake import scratch
            con = scratch()
            try:    # a multi-day log: each thread's partitions flushed at ~1 row group, not 4
                # (10M rows: 2.1 -> 0.5 GB); a global setting of the shared DuckDB: reset after
                con.execute("SET partitioned_write_flush_threshold = 131072")
                counts = _csv_fast(con, load, path, service, source or path.name, scope,
                                   plain=not odd & {b'"', b"\r"}, spaces_only=not odd - {b"_"},
                                   underscores=b"_" in odd)
            finally:
                try:
                    con.execute("RESET partitioned_write_flush_threshold")
                finally:
                    con.close()
        if counts is None:
            frame = read_requests(path, service, source)
            load.write_days(frame, "arrived_at", scope=scope)
            counts = {"requests": frame.height, "fallbacks": int(frame["fallback"].sum() or 0),
                      "abstained": int(frame["abstained"].sum() or 0)}
        load.details = counts
    if load.status == "duplicate":             # the same content was committed meanwhile
        return {"load_id": load.duplicate_of, "rows": 0, "skipped": True}
    return {"load_id": load.load_id, "rows": counts["requests"], "skipped": False}


@collector("requests", settings=RequestsSettings, table="raw_requests",
           help="Request logs (CSV/Parquet) -> raw_requests")
def collect_requests(settings: RequestsSettings, ctx) -> None:
    for f in source_files(settings.paths, ctx.config):
        ingest_requests(ctx.store, f, ctx.config, ctx.source, service=settings.service, ctx=ctx)
