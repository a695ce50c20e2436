"""Streamed, vectorised reading of an OpenMetrics / Prometheus text file (issue 15).

The file is read in chunks of whole lines (CHUNK_BYTES); memory is bounded by the chunk, not the
file. Each chunk's sample lines are split by one regular expression in polars and their values
and timestamps converted there; the per-series work (labels, family, canonical names) is done once
per series with the line parser's own functions. A chunk the vectorised path cannot take exactly
as the line parser would - an exemplar, a `_created` sample, an unusual spacing, a value Python
spells differently (`1_000`, `nan`), anything that would be an error - is parsed line by line by
`collectors/openmetrics_parse.feed` from the same state, so every behaviour and every typed error
(file, line, column) is the line parser's. The parsed samples (series id, time, value, line order)
are spilled per chunk to a scratch Parquet file; `write()` joins them with the series table in
DuckDB and writes the load, de-duplicating (the later line wins) only when two samples of a series
may share a timestamp.
"""
from __future__ import annotations

import fcntl
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from collectors.openmetrics_parse import (
    DCGM_SENTINELS, MAX_TIME, MIN_TIME, SENTINEL_MIN, _META, Parsed, _head, _monotonic, _series_id, feed,
    finish, meta)
from metrics.errors import InputError
from metrics.lake import OWNER

CHUNK_BYTES = 16 << 20
MEMORY_LIMIT = "600MB"          # DuckDB's share while writing the load (it spills to the scratch folder)
_NUM = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
VALUE = rf"^(?:{_NUM}|NaN|[+-]?Inf)$"
TIME = rf"^{_NUM}$"
DAY_US = 86_400_000_000
BOM = b"\xef\xbb\xbf"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class StreamReader:
    """Reads one file into scratch Parquet chunks plus the parser state (`self.p`)."""

    def __init__(self, path: Path, file: str, om: bool, default_time: float | None, max_time: float | None,
                 scratch: Path):
        self.path, self.file, self.om = path, file, om
        self.default_time, self.max_time = default_time, max_time
        self.scratch = scratch
        self.p = Parsed(openmetrics=om)
        self.eof_line: int | None = None
        self.n_lines = 0
        self.files: list[Path] = []
        self.order = 0                       # samples so far (line order of the next sample)
        self.first_t = np.zeros(0)           # per series: earliest time, last microsecond, samples, non-finite
        self.last_us = np.zeros(0, dtype=np.int64)
        self.count = np.zeros(0, dtype=np.int64)
        self.nonfinite = np.zeros(0, dtype=np.int64)
        self.t0 = float("inf")
        self.max_us: int | None = None
        self.maybe_duplicates = False        # a series' timestamps did not strictly increase
        self.slow_chunks = 0
        self.days: set[int] = set()          # UTC days (since 1970) the samples fall on
        self.chunk_days = 0                  # sum over chunks of the days each holds
        scratch.mkdir(parents=True, exist_ok=True)
        self._owner = open(scratch / OWNER, "a+")        # the staging sweep leaves a held folder alone
        fcntl.flock(self._owner, fcntl.LOCK_EX)

    # ---- reading ------------------------------------------------------------------------------
    def _blocks(self, start: int = 0):
        """(bytes, offset) of whole lines, about CHUNK_BYTES at a time (the last may lack its newline)."""
        offset, carry = start, b""
        with open(self.path, "rb") as fh:
            fh.seek(start)
            while True:
                block = fh.read(CHUNK_BYTES)
                data = carry + block
                if not block:
                    if data:
                        yield data, offset
                    return
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                yield data[:cut + 1], offset
                offset += cut + 1
                carry = data[cut + 1:]

    def read(self) -> "StreamReader":
        for data, offset in self._blocks():
            self._chunk(data, offset)
        finish(self.eof_line, self.om, self.n_lines, self.file)
        return self

    def _decode(self, data: bytes, offset: int) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"not UTF-8 text (byte {offset + e.start})", file=self.file) from None

    def _chunk(self, data: bytes, offset: int) -> None:
        first = self.n_lines + 1
        s = _lines_frame(data) if b"\r" not in data and not (offset == 0 and data.startswith(BOM)) else None
        lines: list[str] | None = None
        if s is None:
            lines = self._lines(data, offset)
            self.n_lines += len(lines)
        else:
            self.n_lines += s.len()
        try:
            if s is None or not self._fast(s, first):
                self._slow(lines if lines is not None else self._lines(data, offset), first)
        except InputError:
            for rest, at in self._blocks(offset + len(data)):   # reading the whole text first
                self._decode(rest, at)                          # reported bad UTF-8 before anything
            raise

    def _lines(self, data: bytes, offset: int) -> list[str]:
        text = self._decode(data, offset)
        if "\r" in text:                      # universal newlines, as reading the file as text does
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        return lines

    def _slow(self, lines: list[str], first: int) -> None:
        """The line parser, from the state the chunk started with."""
        p = self.p
        self.slow_chunks += 1
        self.eof_line = feed(p, lines, first, self.file, self.om, self.default_time, self.max_time,
                             self.eof_line)
        if p.sid:
            self._emit(pl.DataFrame({"sid": pl.Series(p.sid, dtype=pl.UInt32),
                                     "t": pl.Series(p.sampled_at, dtype=pl.Float64),
                                     "value": pl.Series(p.value, dtype=pl.Float64)}))
        p.sid, p.sampled_at, p.value = [], [], []

    def _fast(self, lines: pl.Series, first: int) -> bool:
        """The vectorised path; False (state untouched) when the chunk needs the line parser."""
        p = self.p
        snap = (dict(p.types), len(p.series), dict(p.cache), p.sentinels, self.eof_line)
        self._pending: list[pl.DataFrame] = []
        try:
            ok = self._fast_chunk(lines, first)
        except InputError:
            ok = False
        if ok:
            for df in self._pending:
                self._emit(df)
        else:
            p.types, p.cache, p.sentinels, self.eof_line = snap[0], snap[2], snap[3], snap[4]
            del p.series[snap[1]:]
        return ok

    def _fast_chunk(self, s: pl.Series, first: int) -> bool:
        p = self.p
        kind = pl.DataFrame([s]).select(pl.col("line").str.starts_with("#").fill_null(False).alias("meta"),
                                        (pl.col("line").str.len_bytes() == 0).fill_null(True).alias("empty"))
        is_meta, empty = kind["meta"], kind["empty"]
        sample_rows = (~is_meta & ~empty).arg_true()
        if self.eof_line is not None:
            return not (~empty).any()
        rows = _split(s.gather(sample_rows))
        if rows is None:
            return False
        rows = rows.with_columns(row=sample_rows)
        # walk the `#` lines in order; a TYPE that changes a family's type ends a segment
        start = 0
        meta_rows = is_meta.arg_true()
        for i, line in zip(meta_rows.to_list(), s.gather(meta_rows).to_list()):
            if line.strip() == "# EOF":
                self.eof_line = first + i
                if not empty.slice(i + 1).all():
                    return False
                break
            m = _META.match(line)
            if m and m.group(1) == "TYPE" and p.types.get(m.group(2)) != (m.group(3) or "").strip():
                end = rows["row"].search_sorted(i)
                if end > start and not self._segment(rows.slice(start, end - start), first):
                    return False
                start = end
            meta(p, line, first + i, self.file)
        return rows.height == start or self._segment(rows.slice(start), first)

    def _segment(self, rows: pl.DataFrame, first: int) -> bool:
        """Sample lines under one set of family types."""
        p = self.p
        for h in rows["h"].unique(maintain_order=True).to_list():
            if h not in p.cache:
                name, labels, pos = _head(h, first, self.file)
                if pos != len(h):
                    return False
                _series_id(h, name, labels, p)
        n = len(p.series)
        keys = pl.DataFrame({"h": list(p.cache.keys()), "sid": pl.Series(list(p.cache.values()), dtype=pl.UInt32)})
        props = pl.DataFrame({"sid": pl.Series(range(n), dtype=pl.UInt32),
                              "created": [x.created_of is not None for x in p.series],
                              "dcgm": [x.dcgm for x in p.series],
                              "mono": [_monotonic(x, p.types) for x in p.series]})
        df = rows.join(keys, on="h", how="left", maintain_order="left").join(props, on="sid", maintain_order="left")
        if df["created"].any():
            return False
        raw = pl.col("v").cast(pl.Float64)
        sentinel = (((raw >= SENTINEL_MIN) & (raw != float("inf")) & raw.is_not_nan())   # polars: NaN > all
                    | (pl.col("dcgm") & raw.is_in(list(DCGM_SENTINELS))))
        t = pl.col("ts").cast(pl.Float64)
        if not self.om:
            t = pl.when(pl.col("ts").str.contains(r"[.eE]")).then(t).otherwise(t / 1000.0)
        if self.default_time is not None:
            t = pl.coalesce(t, pl.lit(self.default_time, pl.Float64))
        top = self.max_time if self.max_time is not None else MAX_TIME
        out = df.select(pl.col("sid"), t.alias("t"), pl.when(sentinel).then(None).otherwise(raw).alias("value"),
                        sentinel.alias("sentinel"), pl.col("mono"))
        bad = out.select(pl.col("t").is_null().any() | ~pl.col("t").is_between(MIN_TIME, top).all()
                         | ((pl.col("value") < 0) & pl.col("mono")).any()).item()
        if bad:
            return False
        p.sentinels += int(out["sentinel"].sum())
        self._pending.append(out.select("sid", "t", "value"))
        return True

    # ---- samples ------------------------------------------------------------------------------
    def _emit(self, df: pl.DataFrame) -> None:
        """Spill one chunk's samples and keep what the write needs per series."""
        n = len(self.p.series)
        if len(self.first_t) < n:
            grow = n - len(self.first_t)
            self.first_t = np.concatenate([self.first_t, np.full(grow, np.inf)])
            self.last_us = np.concatenate([self.last_us, np.full(grow, np.iinfo(np.int64).min)])
            self.count = np.concatenate([self.count, np.zeros(grow, dtype=np.int64)])
            self.nonfinite = np.concatenate([self.nonfinite, np.zeros(grow, dtype=np.int64)])
        df = df.with_columns((pl.col("t") * 1_000_000).round(0).cast(pl.Int64).alias("us"),
                             pl.int_range(self.order, self.order + df.height, dtype=pl.Int64).alias("ord"))
        self.order += df.height
        g = df.group_by("sid").agg(pl.col("t").min().alias("t_min"), pl.col("us").min().alias("us_min"),
                                   pl.col("us").max().alias("us_max"), pl.len().alias("n"),
                                   (pl.col("value").is_not_null() & ~pl.col("value").is_finite()).sum().alias("nf"),
                                   (pl.col("us").diff() <= 0).any().alias("back"))
        sid = g["sid"].to_numpy().astype(np.int64)
        if g["back"].any() or (g["us_min"].to_numpy() <= self.last_us[sid]).any():
            self.maybe_duplicates = True
        self.first_t[sid] = np.minimum(self.first_t[sid], g["t_min"].to_numpy())
        self.last_us[sid] = np.maximum(self.last_us[sid], g["us_max"].to_numpy())
        self.count[sid] += g["n"].to_numpy()
        self.nonfinite[sid] += g["nf"].to_numpy()
        self.t0 = min(self.t0, float(g["t_min"].min()))
        top = int(g["us_max"].max())
        self.max_us = top if self.max_us is None else max(self.max_us, top)
        days = (df["us"] // DAY_US).unique().to_list()
        self.days.update(days)
        self.chunk_days += len(days)
        out = self.scratch / f"{len(self.files):05d}.chunk"
        df.write_parquet(out, compression="lz4")   # min/max statistics: a day's write skips the rest
        self.files.append(out)

    # ---- writing --------------------------------------------------------------------------------
    def write(self, load, m: pl.DataFrame, source: str, scope: str) -> dict:
        """Write the samples joined with the series table `m` (collectors.openmetrics.series_meta)
        through `load`; returns the counts the load details report."""
        m = m.with_columns(pl.col(c).cast(pl.String) for c in ("metric", "metric_type", "labels", "labels_hash",
                                                                "service", "model_version"))
        keys: dict[tuple, int] = {}
        kid = [keys.setdefault(k, len(keys)) for k in zip(m["metric"].to_list(), m["labels"].to_list())]
        m = m.with_columns(pl.Series("first_t", self.first_t[m["sid"].to_numpy().astype(np.int64)]),
                           pl.Series("kid", kid, dtype=pl.Int64), pl.lit(self.t0, pl.Float64).alias("t0"))
        con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(self.scratch / "tmp"),
                                     "preserve_insertion_order": False})
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.register("m", m.to_arrow())
            files = "[" + ", ".join(f"'{f}'" for f in self.files) + "]"
            value = "c.value / coalesce(m.divide, 1.0)"
            joined = f"""
                SELECT make_timestamp(c.us)::TIMESTAMPTZ AS sampled_at, m.metric, m.metric_type, m.labels,
                       m.labels_hash, m.service, m.model_version,
                       CASE WHEN isfinite({value}) THEN {value} END AS value,
                       (m.counts_from_zero AND c.t = m.first_t
                        AND coalesce(m.created, m.first_t) > m.t0) AS series_start,
                       {_lit(source)} AS source, m.kid, c.ord, NOT isfinite({value}) AS non_finite
                FROM read_parquet({files}) c JOIN m ON c.sid = m.sid"""
            cols = ["sampled_at", "metric", "metric_type", "labels", "labels_hash", "service", "model_version",
                    "value", "series_start", "source"]
            sids = m["sid"].to_numpy().astype(np.int64)
            fan_in = len(keys) < m.height
            if not (self.maybe_duplicates or fan_in):
                if self.chunk_days > len(self.files) + len(self.days):    # not in time order
                    rows = load.write_query(con, joined, cols, scope)
                else:                      # one partition per query: DuckDB need not partition rows
                    rows = sum(load.write_query(
                        con, f"{joined} WHERE c.us >= {d * DAY_US} AND c.us < {(d + 1) * DAY_US}", cols, scope,
                        partition=(EPOCH + timedelta(days=d)).strftime("%Y-%m-%d")) for d in sorted(self.days))
                unattributed = int(self.count[sids[m["service"].is_null().to_numpy()]].sum())
                return {"rows": rows, "unattributed": unattributed, "non_finite": int(self.nonfinite[sids].sum()),
                        "duplicates": 0, "conflicting": 0, "max_us": self.max_us}
            con.execute(f"CREATE TEMP TABLE j AS {joined}")
            before = con.execute("SELECT count(*) FROM j").fetchone()[0]
            conflicting = con.execute("""SELECT count(*) FROM (SELECT kid FROM j GROUP BY kid, sampled_at
                HAVING count(*) > 1 AND count(DISTINCT value) + max((value IS NULL)::INT) > 1)""").fetchone()[0]
            con.execute("CREATE TEMP TABLE d AS SELECT * FROM j QUALIFY row_number() OVER "
                        "(PARTITION BY kid, sampled_at ORDER BY ord DESC) = 1")
            con.execute("DROP TABLE j")
            rows = load.write_query(con, "SELECT * FROM d", cols, scope)
            unattributed, non_finite, hi = con.execute(
                "SELECT count(*) FILTER (service IS NULL), count(*) FILTER (non_finite), "
                "max(epoch_us(sampled_at)) FROM d").fetchone()
            return {"rows": rows, "unattributed": unattributed, "non_finite": non_finite,
                    "duplicates": before - rows, "conflicting": conflicting, "max_us": hi}
        finally:
            con.close()

    def max_sampled_at(self, us: int | None) -> datetime | None:
        return None if us is None else EPOCH + timedelta(microseconds=int(us))

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        self._owner.close()


def _lines_frame(data: bytes) -> pl.Series | None:
    """The chunk's lines as a polars column (an empty line is null), read by polars' CSV reader
    with a separator that a valid line never holds; None when that reading is not one row per
    line (a control character, bad UTF-8): the chunk is then split in Python."""
    try:
        s = pl.read_csv(data, has_header=False, separator="\x01", quote_char=None, new_columns=["line"],
                        schema={"line": pl.String})["line"]
    except (pl.exceptions.PolarsError, UnicodeDecodeError):
        return None
    return s if s.len() == data.count(b"\n") + (not data.endswith(b"\n")) else None


def _split(lines: pl.Series) -> pl.DataFrame | None:
    """`name{labels} value [timestamp]` with single spaces -> h (name and labels), v, ts; None when a
    line has another shape. The head ends at the first `} ` (a label value holding one makes the
    head fail `_head` later); value and timestamp must be plain numbers, so the head is the text up
    to the line's last `}`, as the line parser takes it."""
    line = pl.col("line")
    j = pl.when(line.str.contains("{", literal=True)).then(line.str.find("} ", literal=True) + 1) \
        .otherwise(line.str.find(" ", literal=True))
    df = pl.DataFrame({"line": lines}).with_columns(j.alias("j"))
    if df["j"].null_count():
        return None
    df = df.select(line.str.slice(0, pl.col("j")).alias("h"),
                   line.str.slice(pl.col("j") + 1).str.splitn(" ", 2).alias("rest"))
    df = df.select("h", pl.col("rest").struct.field("field_0").alias("v"),
                   pl.col("rest").struct.field("field_1").alias("ts"))
    ok = df.select(pl.col("v").str.contains(VALUE).all()
                   & (pl.col("ts").str.contains(TIME) | pl.col("ts").is_null()).all()).item()
    return df if ok else None


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
