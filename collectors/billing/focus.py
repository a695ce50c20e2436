"""The canonical billing loader: any supported export -> FOCUS rows in raw_focus, in DuckDB SQL.

One pass, streaming: the file is read by DuckDB (`read_csv`: text columns, numbers and times typed when they parse, or
`read_parquet` / `read_json`), a format module (focus, aws_cur, azure, gcp, oci, llm_vendors) maps
its columns to FOCUS expressions, and the result is COPYed straight to Parquet by the `Load`.
No Python row loop, so memory stays bounded whatever the file size.

Parsing is strict but tolerant of what real exports contain:
- null markers (empty, NULL, null, None, NaN, N/A, NA in any case) are NULL;
- numbers may use scientific notation or thousands separators (`1,234.5`, `1.234,5`);
- timestamps may be ISO 8601 with or without `T`, seconds, fraction or zone (naive = UTC),
  US `M/D/YYYY`, `YYYYMMDD`, German `D.M.YYYY`.
A value that is present but cannot be parsed aborts the whole load with an `InputError` naming the
file, line (header = line 1) and column; the store is left unchanged.

Money is DECIMAL(38,18): a source value with more than 18 decimals is rounded at the 18th
decimal (1e-18), never per-row to cents.
"""
from __future__ import annotations

import ast
import csv
import functools
import gzip
import io
import json
import logging
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from metrics.errors import InputError

log = logging.getLogger(__name__)

NULL_MARKERS = ("", "NULL", "null", "Null", "None", "none", "NONE", "NaN", "nan", "NAN",
                "N/A", "n/a", "NA", "na", "#N/A")

MONEY = "DECIMAL(38,18)"
NUMERIC_TARGETS = ("billed_cost", "effective_cost", "list_cost", "contracted_cost",
                   "consumed_quantity", "pricing_quantity", "list_unit_price",
                   "contracted_unit_price")
TIME_TARGETS = ("billing_period_start", "billing_period_end", "charge_period_start",
                "charge_period_end")
TEXT_TARGETS = ("billing_account_id", "billing_account_name", "billing_currency",
                "charge_category", "charge_class", "charge_description", "charge_frequency",
                "consumed_unit", "pricing_unit", "pricing_category", "provider_name",
                "publisher_name", "invoice_issuer_name", "invoice_id", "service_name",
                "service_category", "service_subcategory", "resource_id", "resource_name",
                "resource_type", "region_id", "region_name", "availability_zone",
                "sub_account_id", "sub_account_name", "sku_id", "sku_price_id",
                "commitment_discount_id", "commitment_discount_type",
                "commitment_discount_status")
TARGETS = NUMERIC_TARGETS + TIME_TARGETS + TEXT_TARGETS

# Timestamp layouts beyond what DuckDB's ISO cast accepts (naive values are UTC).
TIME_FORMATS = ["%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p",
                "%m/%d/%y", "%m/%d/%y %H:%M", "%Y%m%d", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S",
                "%d.%m.%Y", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y-%m-%dT%H:%M"]

BAD = "onepane-bad-value"     # marker of the error() raised inside SQL for an unparseable cell


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def canon(name: str) -> str:
    """Header key for matching: `lineItem/UnblendedCost` -> `lineitemunblendedcost`;
    a localized header `Kosten (Cost)` -> `cost` (the English name in brackets wins)."""
    m = re.fullmatch(r".*\(([^()]+)\)\s*", name)
    if m:
        name = m.group(1)
    return re.sub(r"[^0-9a-z]", "", name.lower())


class Columns:
    """The source's columns, found by any spelling (case, separators, localized brackets)."""

    def __init__(self, names: list[str], types: list[str] | None = None):
        self.names = list(names)
        self.types = dict(zip(names, types or ["VARCHAR"] * len(names)))
        self.by_canon: dict[str, str] = {}
        for n in self.names:
            self.by_canon.setdefault(canon(n), n)

    def find(self, *candidates: str) -> str | None:
        for c in candidates:
            hit = self.by_canon.get(canon(c))
            if hit is not None:
                return hit
        return None

    def has(self, *candidates: str) -> bool:
        return self.find(*candidates) is not None

    def canon_set(self) -> set[str]:
        return set(self.by_canon)


@dataclass
class Check:
    column: str          # source column named in the error
    kind: str            # number | timestamp
    bad_sql: str         # true where the cell is present but cannot be parsed


class Exprs:
    """Builds typed SQL expressions over the source relation and remembers what to validate."""

    def __init__(self, cols: Columns, csv: bool = False, markers_in_sql: bool = False,
                 readings: dict | None = None, numbers: dict | None = None):
        self.cols = cols
        self.numbers = numbers or {}     # text number columns: collectors.numbers.NumberReading
        # text time columns: their collectors.dates.Reading (inferred from the values; see
        # collectors.billing.checks); None: not inferred yet (ISO 8601 and the old layouts)
        self.readings = readings
        self.time_cols: dict[str, str] = {}     # source column -> SQL of its naive UTC TIMESTAMP
        self.csv = csv          # read_csv already turned empty cells (and null markers) into NULL
        self.markers_in_sql = markers_in_sql    # ... except the markers: text cells test them
        self.checks: list[Check] = []
        self.used: set[str] = set()
        self.uses: dict[str, set[str]] = {}     # column -> how expressions read it

    def cell(self, name: str) -> str:
        """SQL of a source cell as read (NULL for a null marker)."""
        if self.markers_in_sql and self.cols.types[name] == "VARCHAR":
            return f"onepane_null(src.{q(name)})"
        return f"src.{q(name)}"

    def ref(self, name: str, how: str = "text") -> str:
        self.used.add(name)
        self.uses.setdefault(name, set()).add(how)
        return self.cell(name)

    def read_only_as(self, how: str) -> list[str]:
        """Text columns read only as numbers or only as times (the CSV reader can parse them)."""
        return [c for c, uses in self.uses.items()
                if uses == {how} and self.cols.types[c] == "VARCHAR"]

    def text(self, *candidates: str) -> str | None:
        c = self.cols.find(*candidates)
        if c is None:
            return None
        if self.cols.types[c].startswith(("MAP", "STRUCT")) or self.cols.types[c].endswith("[]"):
            return f"CAST(to_json({self.ref(c)}) AS VARCHAR)"
        if self.cols.types[c] == "VARCHAR":
            # no trim: it copies every string (measured as the largest cost of a load)
            return self.ref(c) if self.csv else f"nullif({self.ref(c)}, '')"
        return f"CAST({self.ref(c)} AS VARCHAR)"

    def money(self, *candidates: str) -> str | None:
        c = self.cols.find(*candidates)
        return None if c is None else self.money_of(c)

    def money_of(self, c: str) -> str:
        x, typ = self.ref(c, "number"), self.cols.types[c]
        if typ.startswith("DECIMAL") or typ in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT",
                                                "UBIGINT", "UINTEGER"):
            return f"CAST({x} AS {MONEY})"
        if typ in ("DOUBLE", "FLOAT"):
            # via the shortest decimal text, so 0.1 stays 0.1 (not 0.1000000000000000055)
            return f"CAST(CAST({x} AS VARCHAR) AS {MONEY})"
        if c in self.numbers:       # one decimal convention for the column (collectors.numbers)
            from collectors.numbers import DOT, parse_sql
            r = self.numbers[c]
            text = x if typ == "VARCHAR" else f"CAST({x} AS VARCHAR)"
            conv = f"TRY_CAST({parse_sql(text, r)} AS {MONEY})"
            parsed = f"coalesce(TRY_CAST({x} AS {MONEY}), {conv})" if r.convention == DOT else conv
        else:
            parsed = f"coalesce(TRY_CAST({x} AS {MONEY}), TRY_CAST(onepane_num({x}) AS {MONEY}))"
        kind = (f"number in the column's {self.numbers[c].describe()} convention"
                if c in self.numbers else "number")
        self.checks.append(Check(c, kind, f"({x} IS NOT NULL AND {parsed} IS NULL)"))
        return (f"coalesce({parsed}, "
                f"CASE WHEN {x} IS NULL THEN NULL ELSE "
                f"error({lit(BAD + chr(31) + c + chr(31) + 'number' + chr(31))} || {x}) END)")

    def ts(self, *candidates: str) -> str | None:
        c = self.cols.find(*candidates)
        return None if c is None else self.ts_of(c)

    def ts_of(self, c: str) -> str:
        """A naive TIMESTAMP holding UTC (time arithmetic on it is cheap; TIMESTAMPTZ arithmetic
        goes through ICU and cost a third of a load). build_sql converts to TIMESTAMPTZ once."""
        x, typ = self.ref(c, "time"), self.cols.types[c]
        if typ.startswith("TIMESTAMP WITH TIME ZONE") or typ == "TIMESTAMPTZ":
            self.time_cols[c] = f"make_timestamp(epoch_us({x}))"
            return self.time_cols[c]
        if typ.startswith("TIMESTAMP") or typ == "DATE":
            self.time_cols[c] = f"CAST({x} AS TIMESTAMP)"
            return self.time_cols[c]
        if self.readings is not None and c in self.readings:
            from collectors.dates import parse_sql
            parsed = parse_sql(x if typ == "VARCHAR" else f"CAST({x} AS VARCHAR)", self.readings[c])
        else:
            parsed = parse_ts(x)
        self.time_cols[c] = parsed
        self.checks.append(Check(c, "timestamp", f"({x} IS NOT NULL AND {parsed} IS NULL)"))
        return (f"coalesce({parsed}, CASE WHEN {x} IS NULL THEN NULL ELSE "
                f"error({lit(BAD + chr(31) + c + chr(31) + 'timestamp' + chr(31))} || {x}) END)")


# Layouts the CSV reader may parse itself when a sample of a file's time columns all match one
# (no offset, or Z = UTC; the reader rejects anything more, which sends the file down the text path).
READER_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S")


def sample_cells(path: Path, columns: list[str], rows: int = 200) -> dict[str, list[str]] | None:
    """The cells of `columns` in the first `rows` records of a CSV file (None if unreadable)."""
    out: dict[str, list[str]] = {c: [] for c in columns}
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = unique_names(next(reader, []))
            idx = [(c, header.index(c)) for c in columns if c in header]
            for i, row in enumerate(reader):
                if i >= rows:
                    break
                for c, j in idx:
                    if j < len(row):
                        out[c].append(row[j])
    except (csv.Error, UnicodeDecodeError, OSError, EOFError):
        return None                             # the text path will say what is wrong
    return out


def reader_time_format(cells: list[str]) -> str | None:
    """The one READER_TIME_FORMATS layout every sampled time cell has, if any."""
    from datetime import datetime

    values = [v for v in cells if v not in NULL_MARKERS]
    for fmt in READER_TIME_FORMATS if values else ():
        try:
            for v in values:
                datetime.strptime(v, fmt)
            return fmt
        except ValueError:
            continue
    return None


# Shapes that carry no UTC offset (or just Z): a plain TIMESTAMP cast is exact and cheap for them.
# Anything else goes through the TIMESTAMPTZ cast, which applies an offset or zone name.
PLAIN_ISO = ("____-__-__ __:__:__", "____-__-__T__:__:__", "____-__-__T__:__:__Z", "____-__-__")


def parse_ts(x: str) -> str:
    """SQL: text -> naive UTC TIMESTAMP, NULL when no known layout parses it."""
    fmts = "[" + ", ".join(lit(f) for f in TIME_FORMATS) + "]"
    plain = " OR ".join(f"{x} LIKE {lit(p)}" for p in PLAIN_ISO)
    return (f"coalesce(CASE WHEN {plain} THEN TRY_CAST({x} AS TIMESTAMP) END, "
            f"make_timestamp(epoch_us(TRY_CAST({x} AS TIMESTAMPTZ))), try_strptime({x}, {fmts}))")


@dataclass
class Mapping:
    """What a format module returns: FOCUS expressions over `src` (plus optional extra row sets)."""
    fmt: str
    exprs: dict[str, str]                      # target column -> SQL over src
    tags: str | None = None                    # SQL giving a JSON object text (not yet normalized)
    invoice_expected: bool = False             # the export carries an invoice-id column
    complete: bool = True                      # a full-period delivery (supersedes its scopes)
    extra_rows: list[tuple[dict[str, str], str]] = field(default_factory=list)
    # (exprs overriding the base ones, extra FROM clause e.g. ", UNNEST(...) AS cr")
    extra_filter: str | None = None            # WHERE for the extra row sets
    required: dict[str, str] = field(default_factory=dict)   # what -> column names tried
    warnings: list[dict] = field(default_factory=list)


def require(m: Mapping, cols: Columns, path: str) -> None:
    """A format needs a cost column and a date column; say which one is missing."""
    for what, tried in m.required.items():
        raise InputError(f"no {what} column found (looked for {tried}); "
                         f"columns are: {', '.join(cols.names[:12])}"
                         f"{' ...' if len(cols.names) > 12 else ''}",
                         file=path, line=1, column=tried.split(' or ')[0])


# ---- reading a source ------------------------------------------------------------------------
@dataclass
class Source:
    """A readable billing file: the SQL of its raw relation and its columns."""
    path: Path
    kind: str                  # csv | parquet | json | frame
    relation_sql: str          # SQL of the raw relation (FROM-able)
    cols: Columns
    line_offset: int = 1       # source line of record 1 = line_offset + 1
    vendor: str | None = None  # LLM vendor pages: openai | anthropic
    markers_in_sql: bool = False   # CSV: null markers other than empty are tested in SQL

    @property
    def typed(self) -> bool:
        """A CSV read with some columns typed by the reader (see open_source)."""
        return self.kind == "csv" and any(t != "VARCHAR" for t in self.cols.types.values())


def _open_text(path: Path):
    raw = open(path, "rb")
    if path.suffix == ".gz" or raw.read(2) == b"\x1f\x8b":
        raw.close()
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    raw.seek(0)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def csv_header(path: Path) -> list[str]:
    try:
        with _open_text(path) as fh:
            row = next(csv.reader(fh), None)
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason} at byte {e.start})", file=str(path), line=1) from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise InputError(f"cannot read: {e}", file=str(path)) from None
    except csv.Error as e:          # e.g. a header line of tens of MB (no newline at all)
        raise InputError(f"not a CSV header: {str(e)[:200]}", file=str(path), line=1) from None
    if not row or not any(c.strip() for c in row):
        raise InputError("empty file: no header line", file=str(path), line=1)
    return row


def unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        n = n.strip() or "column"
        k = n.lower()
        if k in seen:
            seen[k] += 1
            n = f"{n}_{seen[k]}"
        else:
            seen[k] = 0
        out.append(n)
    return out


def kind_of(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".gz", ".zst", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet"
    if name.endswith((".json", ".jsonl", ".ndjson")):
        return "json"
    return "csv"


def open_source(con: duckdb.DuckDBPyConnection, path: Path, ncols: int | None = None,
                types: dict[str, str] | None = None, line_size: int | None = None,
                time_format: str | None = None, markers_in_sql: bool = False,
                read_path: Path | None = None) -> Source:
    """The raw relation of a file. `ncols` reads only the first ncols header columns (for exports
    whose rows all omit trailing, always-empty columns). CSV columns are VARCHAR unless `types`
    names another type (the reader then fails on a cell that does not cast). `line_size`: the
    longest line to accept; DuckDB's default (2 MB) unless a longer line was met (a larger limit
    for every file doubled the reader's memory). `markers_in_sql`: the reader turns only empty
    cells into NULL (it compares every cell with every null marker: 12% of a large load); text
    cells then test the markers in SQL (`Exprs.cell`), typed ones fail on a marker. `read_path`:
    the file to read instead of `path` (a copy with normalized line endings); messages name `path`.
    Gzip is recognised by its magic bytes whatever the name."""
    kind = kind_of(path)
    if kind == "parquet":
        rel = f"read_parquet({lit(str(path))})"
        desc = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
        return Source(path, kind, rel, Columns([d[0] for d in desc], [d[1] for d in desc]))
    if kind == "json":
        # JSON lines, an array of records or concatenated (pretty-printed) objects
        rel = f"read_json({lit(str(path))}, format = 'auto', sample_size = -1)"
        try:
            desc = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
        except duckdb.Error as e:
            raise InputError(f"not JSON (JSON lines, an array or concatenated objects): {_first_line(e)}", file=str(path)) from None
        flat, types = [], []
        for name, typ, *_ in desc:                       # BigQuery export: records -> dotted names
            if typ.startswith("STRUCT(") and not typ.endswith("]"):
                sub = con.execute(f"DESCRIBE SELECT {q(name)}.* FROM {rel}").fetchall()
                for s in sub:
                    flat.append((f"{q(name)}.{q(s[0])}", f"{name}.{s[0]}", s[1]))
            else:
                flat.append((q(name), name, typ))
        sel = ", ".join(
            f"{expr} AS {q(alias)}" if not (typ.endswith("[]") or typ.startswith(("STRUCT", "MAP")))
            else f"CAST(to_json({expr}) AS VARCHAR) AS {q(alias)}"
            for expr, alias, typ in flat)
        rel = f"(SELECT {sel} FROM {rel})"
        desc = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
        return Source(path, kind, rel, Columns([d[0] for d in desc], [d[1] for d in desc]))
    header = unique_names(csv_header(path))[:ncols]
    types = [(types or {}).get(n, "VARCHAR") for n in header]
    columns = "{" + ", ".join(f"{lit(n)}: {lit(t)}" for n, t in zip(header, types)) + "}"
    nulls = "[" + ", ".join(lit(n) for n in ([""] if markers_in_sql else NULL_MARKERS)) + "]"
    gz = read_path is None and not path.name.lower().endswith(".gz") and _is_gzip(path)
    rel = (f"read_csv({lit(str(read_path or path))}, auto_detect = false, header = true, delim = ',', "
           f"{'compression = ' + lit('gzip') + ', ' if gz else ''}"
           f"quote = '\"', escape = '\"', columns = {columns}, nullstr = {nulls}, "
           f"strict_mode = true{f', max_line_size = {line_size}' if line_size else ''}"
           f"{f', timestampformat = {lit(time_format)}' if time_format else ''})")
    return Source(path, kind, rel, Columns(header, types), markers_in_sql=markers_in_sql)


def _is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
CAST_FAILED = re.compile(r'Could not convert string "(.*?)" to \'')
LINE_TOO_LONG = re.compile(r"Maximum line size of \d+ bytes exceeded\. Actual Size:\s*(\d+)")


def failed_on_marker(e: Exception) -> bool:
    """The CSV reader could not cast a null marker (it was told to test only empty cells)."""
    m = CAST_FAILED.search(str(e))
    return bool(m) and m.group(1) in NULL_MARKERS


def line_too_long(e: Exception) -> int | None:
    """The size of the line that exceeded the CSV reader's limit, if that was the error."""
    m = LINE_TOO_LONG.search(str(e))
    return int(m.group(1)) if m else None


def csv_error(e: duckdb.Error, src: Source) -> InputError | None:
    """Turn DuckDB's CSV reader error (ragged row, bad quoting) into an InputError."""
    msg = str(e)
    m = CSV_LINE.search(msg)
    if not m:
        return None
    line = int(m.group(1))
    found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", msg)
    if found:
        expected, got = int(found.group(1)), int(found.group(2))
        col = src.cols.names[min(got, expected) if got < expected else expected - 1]
        what = f"ragged row: {got} fields where the header has {expected}"
        return InputError(what, file=str(src.path), line=line, column=col)
    detail = msg.splitlines()[1].strip() if len(msg.splitlines()) > 1 else _first_line(e)
    if len(detail) > 200:           # "Original Line: ..." may hold megabytes
        detail = detail[:200] + f"... ({len(detail)} characters)"
    return InputError(f"malformed CSV: {_first_line(e)[:200]} {detail}", file=str(src.path), line=line,
                      column=src.cols.names[0])


TAG_PREFIX = re.compile(r"^(resourcetags/|tags/)?(user:)?")


@functools.lru_cache(maxsize=1 << 16)
def normalize_tags(text: str) -> str | None:
    """A tags JSON object with keys lower-cased, trimmed and stripped of `user:`, `resourceTags/`
    and `tags/` prefixes (the first of keys that then collide wins), values trimmed (non-strings
    as JSON text), empty keys and null values dropped; None when nothing is left. Raises
    ValueError when the text is not a JSON object (the load then names the line and column)."""
    obj = json.loads(text)
    if not isinstance(obj, dict):
        raise ValueError(f"{BAD}: tags are not a JSON object")
    out: dict[str, str] = {}
    for k, v in obj.items():
        key = TAG_PREFIX.sub("", k.strip().lower())
        if key and v is not None and key not in out:
            out[key] = (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)).strip()
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")) if out else None


def _normalize_tags_batch(texts):
    """Arrow UDF: normalize each distinct text of the batch once (tags repeat across rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(texts)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    done = pa.array([None if t is None else normalize_tags(t) for t in enc.dictionary.to_pylist()],
                    pa.string())
    return done.take(enc.indices)


def macros(con: duckdb.DuckDBPyConnection) -> None:
    """SQL helpers used by the mapping expressions (thousands separators, tag normalization).
    Tags that are not already canonical go to `normalize_tags` in Python, once per distinct text
    of each batch: a pure-SQL version (JSON -> MAP -> list lambdas) cost 5 µs a row."""
    try:
        con.create_function("onepane_tags_normalized", _normalize_tags_batch, ["VARCHAR"], "VARCHAR",
                            type="arrow", null_handling="special")
    except duckdb.NotImplementedException:      # already registered on this connection
        pass
    markers = [n for n in NULL_MARKERS if n]
    con.execute(f"""
CREATE OR REPLACE MACRO onepane_null(x) AS CASE
    WHEN strlen(x) <= {max(map(len, markers))} AND list_contains([{', '.join(map(lit, markers))}], x)
    THEN NULL ELSE x END;""")
    con.execute(r"""
CREATE OR REPLACE MACRO onepane_num(x) AS CASE
    WHEN regexp_full_match(x, '\s*[-+]?\$?\d{1,3}(,\d{3})+(\.\d*)?\s*')
        THEN replace(replace(trim(x), ',', ''), '$', '')
    WHEN regexp_full_match(x, '\s*[-+]?\d{1,3}(\.\d{3})*,\d+\s*')
        THEN replace(replace(trim(x), '.', ''), ',', '.')
    WHEN regexp_full_match(x, '\s*[-+]?\d{1,3}([ '']\d{3})+([.,]\d+)?\s*')
        THEN replace(replace(replace(trim(x), ' ', ''), '''', ''), ',', '.')
    ELSE trim(x) END;
CREATE OR REPLACE MACRO onepane_tags(j) AS CASE
    WHEN j IS NULL OR j IN ('', '{}', '[]') THEN NULL     -- (no trim: it copies every string)
    -- fast path: already canonical (lower-case, no spaces, no prefixes, no escapes); cheap
    -- string tests, as a regex here cost more than the whole JSON extraction
    WHEN starts_with(j, '{"') AND j = lower(j) AND NOT contains(j, ' ')
         AND NOT contains(j, 'user:') AND NOT contains(j, chr(92)) AND NOT contains(j, chr(9)) THEN j
    ELSE onepane_tags_normalized(j) END;
""")


# ---- the FOCUS format itself ------------------------------------------------------------------
def detect(cols: Columns) -> bool:
    c = cols.canon_set()
    return "billedcost" in c and ("chargeperiodstart" in c or "billingperiodstart" in c)


def mapping(cols: Columns, e: Exprs, path: Path) -> Mapping:
    exprs: dict[str, str] = {}
    for t in TARGETS:
        c = cols.find(t)
        if c is None:
            continue
        exprs[t] = (e.money_of(c) if t in NUMERIC_TARGETS else
                    e.ts_of(c) if t in TIME_TARGETS else e.text(c))
    m = Mapping("focus", exprs, tags=e.text("Tags"), invoice_expected=cols.has("InvoiceId"))
    if "billed_cost" not in exprs and "effective_cost" not in exprs:
        m.required["cost"] = "BilledCost or EffectiveCost"
    if "charge_period_start" not in exprs and "billing_period_start" not in exprs:
        m.required["date"] = "ChargePeriodStart or BillingPeriodStart"
    return m


_PY_NAMES = {"None": "null", "True": "true", "False": "false"}
_PY_SKIP = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}


@functools.lru_cache(maxsize=1 << 16)          # labels repeat: parse each distinct text once
def py_literal_json(text: str | None) -> str | None:
    """A Python-repr list/dict (as some GCP exports write labels and credits: single or double
    quotes, escapes, None/True/False) as JSON text, token by token so numbers keep their exact
    digits; None when the text is not such a literal."""
    if text is None:
        return None
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.STRING:
                value = ast.literal_eval(tok.string)
                if not isinstance(value, str):
                    return None                 # bytes
                out.append(json.dumps(value, ensure_ascii=False))
            elif tok.type == tokenize.NAME and tok.string in _PY_NAMES:
                out.append(_PY_NAMES[tok.string])
            elif tok.type == tokenize.NUMBER or (tok.type == tokenize.OP and tok.string in "[]{}:,-"):
                out.append(tok.string)
            elif tok.type not in _PY_SKIP:
                return None
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    return "".join(out)


def pyjson_macro(con: duckdb.DuckDBPyConnection) -> None:
    """onepane_pyjson(x): JSON passes through; a Python-repr literal becomes JSON (through a
    Python function: a quote-swapping regex breaks on values such as "O'Brien")."""
    try:
        con.create_function("onepane_py_literal_json", py_literal_json, ["VARCHAR"], "VARCHAR",
                            null_handling="special")
    except duckdb.NotImplementedException:      # already registered on this connection
        pass
    con.execute("""
CREATE OR REPLACE MACRO onepane_pyjson(x) AS CASE
    WHEN x IS NULL THEN NULL
    WHEN json_valid(x) THEN x
    ELSE onepane_py_literal_json(x) END;
""")
