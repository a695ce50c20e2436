"""Date and time columns of every file input: one reading per column, inferred from all its values.

Accepted forms (naive values are UTC):

| form | examples | notes |
|---|---|---|
| ISO 8601 | `2025-04-01`, `2025-04-01 13:00:00`, `2025-04-01T13:00:00.5Z`, `...+02:00` | with or without `T`, fraction, zone |
| `YYYY-MM` | `2025-04` | the month's first instant |
| `YYYYMM`, `YYYYMMDD` | `202504`, `20250401` | when every digit-only value of the column has that length |
| unix seconds / ms | `1743465600`, `1743465600123` | digit-only columns otherwise; a value >= 1e11 is milliseconds |
| `M/D/YYYY`, `M/D/YY` | `4/1/2025`, `4/1/25` (= 2025), optional ` H:MM[:SS][ AM]` | month- or day-first, see below |
| `YYYY/M/D` | `2025/4/1` | |
| `D.M.YYYY` | `1.4.2025` | always day-first (German) |

Slash dates: a column whose values have a first part above 12 is day-first, one whose second part
goes above 12 is month-first; a column that fits both uses the caller's convention (billing
providers document month-first: the FOCUS and Azure examples write `4/1/25` for April 1). The
reading used is reported (`Reading.describe`) so loads put it in their details.

The inference is one DuckDB query over the whole column: each value is reduced to its *shape*
(digits -> 9, `translate`, cheap), shapes are grouped, and Python classifies the few distinct
shapes. Parsing is SQL too (`parse_sql`), with only the branches the column needs.

Bounds: a parsed time before `earliest` (default 2000-01-01) or more than `max_ahead` (default
365 days) after the load's `now` refuses the file, naming the file, line, column and value; so a
year below 1000 never reaches the store.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from metrics.errors import InputError

MONTH_FIRST, DAY_FIRST = "month-first", "day-first"
QUOTE_MAX = 200            # an error quotes at most this many characters of a value


def lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def quote(value, limit: int = QUOTE_MAX) -> str:
    """repr() of a value, cut to `limit` characters (a 50 MB cell never lands in a message)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        return repr(text[:limit]) + f" (... {len(text)} characters)"
    return repr(value) if isinstance(value, str) else text


# ---- bounds ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bounds:
    earliest: datetime
    latest: datetime

    @classmethod
    def at(cls, now: datetime | None = None, earliest: date | datetime | str | None = None,
           max_ahead: timedelta | str | None = None) -> "Bounds":
        from metrics.times import parse_duration, utcnow

        now = now or utcnow()
        now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        e = earliest or date(2000, 1, 1)
        if isinstance(e, str):
            e = date.fromisoformat(e)
        if not isinstance(e, datetime):
            e = datetime(e.year, e.month, e.day, tzinfo=timezone.utc)
        e = e if e.tzinfo else e.replace(tzinfo=timezone.utc)
        if e.year < 1000:
            raise InputError(f"earliest date {e.date()} is before the year 1000")
        ahead = parse_duration(max_ahead or "365d")
        return cls(e, now + ahead)

    @classmethod
    def from_config(cls, config, now: datetime | None = None) -> "Bounds":
        inputs = getattr(config, "inputs", None) if config is not None else None
        if inputs is None:
            return cls.at(now)
        return cls.at(now, inputs.earliest_date, inputs.max_ahead)

    def sql(self, t: str) -> str:
        """SQL: true where the naive-UTC TIMESTAMP `t` is out of bounds."""
        lo = self.earliest.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        hi = self.latest.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        return f"({t} < TIMESTAMP {lit(lo)} OR {t} > TIMESTAMP {lit(hi)})"

    def message(self, value) -> str:
        return (f"date {quote(value)} is outside the accepted range {self.earliest.date()} .. "
                f"{self.latest.date()} (before 2000 or more than a year after the load is "
                "almost always a misread format; change [inputs] earliest_date / max_ahead "
                "if it is real)")


# ---- inference -------------------------------------------------------------------------------
_SHAPES = [   # (family, regex over the shape: digits are 9)
    ("iso", re.compile(r"9999-99-99([T ].*)?", re.I)),
    ("ym", re.compile(r"9999-99")),
    ("ymd_slash", re.compile(r"9999/99?/99?( 99?:99(:99)?)?")),
    ("slash", re.compile(r"99?/99?/(99|9999)([ T]99?:99(:99)?( ?[AP]M)?)?", re.I)),
    ("dot", re.compile(r"99?\.99?\.9999( 99?:99(:99)?)?")),
    ("digits", re.compile(r"[-+]?9+(\.9+)?")),
]
ISO_START = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ].*)?$"    # values whose shape is the "iso" one
DESCRIBE = {"iso": "ISO 8601", "ym": "YYYY-MM", "ymd_slash": "YYYY/M/D", "dot": "D.M.YYYY",
            "yyyymm": "YYYYMM", "yyyymmdd": "YYYYMMDD", "unix": "unix seconds (ms when >= 1e11)"}


@dataclass
class Reading:
    """How one column's values are read."""
    column: str
    families: list[str] = field(default_factory=list)
    order: str | None = None          # slash dates: month-first | day-first
    by: str = "values"                # values | convention
    unknown: list[str] = field(default_factory=list)   # example values of no known form

    def describe(self) -> str:
        parts = []
        for f in self.families:
            if f == "slash":
                parts.append(("M/D/Y" if self.order == MONTH_FIRST else "D/M/Y")
                              + f" ({self.order}, by {'the values' if self.by == 'values' else 'the provider convention'})")
            else:
                parts.append(DESCRIBE[f])
        return ", ".join(parts) or "no values"


def classify(shapes: list[tuple[str, int, int | None, int | None]], column: str,
             convention: str = MONTH_FIRST) -> Reading:
    """`shapes`: (shape, example, max first part, max second part) of a column's slash values."""
    r = Reading(column)
    digit_lengths: set[int] = set()
    p1 = p2 = 0
    for shape, example, a, b in shapes:
        fam = next((f for f, rx in _SHAPES if rx.fullmatch(shape.strip())), None)
        if fam is None:
            r.unknown.append(example)
            continue
        if fam == "digits":
            s = shape.strip().lstrip("+-")
            digit_lengths.add(len(s) if s.isdigit() else -1)
            continue
        if fam == "slash":
            p1, p2 = max(p1, a or 0), max(p2, b or 0)
        if fam not in r.families:
            r.families.append(fam)
    if digit_lengths:
        fam = ("yyyymm" if digit_lengths == {6} else "yyyymmdd" if digit_lengths == {8} else "unix")
        r.families.append(fam)
    if "slash" in r.families:
        if p1 > 12:
            r.order = DAY_FIRST
        elif p2 > 12:
            r.order = MONTH_FIRST
        else:
            r.order, r.by = convention, "convention"
    r.families.sort(key=lambda f: ["iso", "ym", "ymd_slash", "slash", "dot", "yyyymm", "yyyymmdd",
                                   "unix"].index(f))
    return r


def _shape_sql(x: str) -> str:
    return f"translate({x}, '0123456789', '9999999999')"


def infer(con, relation_sql: str, columns: dict[str, str],
          convention: str = MONTH_FIRST) -> dict[str, Reading]:
    """One pass over `relation_sql` (aliased `src`): the reading of each column. `columns`: the
    column name -> SQL of its text cell (NULL for a missing value)."""
    if not columns:
        return {}
    names = list(columns)
    structs = ", ".join(f"{{'c': {i}, 'v': CAST({x} AS VARCHAR)}}" for i, x in enumerate(columns.values()))
    part = ("max(CASE WHEN contains(v, '/') AND NOT starts_with(shape, '9999/') THEN "
            "TRY_CAST(split_part(trim(v), '/', {n}) AS INTEGER) END)")
    rows = con.execute(f"""
        SELECT c, shape, min(v), {part.format(n=1)}, {part.format(n=2)}
        FROM (SELECT c, v, {_shape_sql('trim(v)')} AS shape
              FROM (SELECT unnest([{structs}], recursive := true) FROM {relation_sql} AS src)
              WHERE v IS NOT NULL AND trim(v) <> '')
        GROUP BY c, shape""").fetchall()
    by_col: dict[int, list] = {i: [] for i in range(len(names))}
    for c, shape, example, a, b in rows:
        by_col[c].append((shape, example, a, b))
    return {names[i]: classify(sorted(s, key=lambda t: t[0]), names[i], convention)
            for i, s in by_col.items()}


# ---- parsing ---------------------------------------------------------------------------------
PLAIN_ISO = ("____-__-__ __:__:__", "____-__-__T__:__:__", "____-__-__T__:__:__Z", "____-__-__")
_TIME_SUFFIXES = ("", " %H:%M:%S", " %H:%M", " %I:%M:%S %p", " %I:%M %p", "T%H:%M:%S", "T%H:%M")


def iso_sql(x: str) -> str:
    plain = " OR ".join(f"{x} LIKE {lit(p)}" for p in PLAIN_ISO)
    return (f"coalesce(CASE WHEN {plain} THEN TRY_CAST({x} AS TIMESTAMP) END, "
            f"make_timestamp(epoch_us(TRY_CAST({x} AS TIMESTAMPTZ))))")


def _fmts(dates: list[str]) -> str:
    return "[" + ", ".join(lit(d + t) for d in dates for t in _TIME_SUFFIXES) + "]"


def parse_sql(x: str, r: Reading | None) -> str:
    """SQL: the text `x` -> naive UTC TIMESTAMP, NULL when it does not parse by reading `r`
    (None: ISO 8601 only)."""
    fams = r.families if r is not None else ["iso"]
    t = f"trim({x})"
    branches = []
    for f in fams:
        if f == "iso":
            branches.append((f"{t} LIKE '____-__-__%'", iso_sql(t)))
        elif f == "ym":
            branches.append((f"{t} LIKE '____-__' ", f"try_strptime({t}, '%Y-%m')"))
        elif f == "ymd_slash":
            branches.append((f"{t} LIKE '____/%'", f"try_strptime({t}, {_fmts(['%Y/%m/%d'])})"))
        elif f == "slash":
            md = "%m/%d" if r.order == MONTH_FIRST else "%d/%m"
            year = f"strlen(split_part(split_part(split_part({t}, '/', 3), ' ', 1), 'T', 1))"
            branches.append((f"contains({t}, '/') AND {year} = 4", f"try_strptime({t}, {_fmts([md + '/%Y'])})"))
            # two-digit years are 20YY (strptime's %y would make 69-99 the 1900s)
            four = (f"regexp_replace({t}, '^(\\d{{1,2}})/(\\d{{1,2}})/(\\d{{2}})(\\D|$)', "
                    f"'\\1/\\2/20\\3\\4')")
            branches.append((f"contains({t}, '/') AND {year} = 2", f"try_strptime({four}, {_fmts([md + '/%Y'])})"))
        elif f == "dot":
            branches.append((f"contains({t}, '.') AND {t} LIKE '%.%.____%'",
                             f"try_strptime({t}, {_fmts(['%d.%m.%Y'])})"))
        elif f in ("yyyymm", "yyyymmdd"):
            fmt = "%Y%m" if f == "yyyymm" else "%Y%m%d"
            branches.append((f"regexp_full_match({t}, '\\d+')", f"try_strptime({t}, {lit(fmt)})"))
        elif f == "unix":
            d = f"TRY_CAST({t} AS DOUBLE)"
            us = (f"CASE WHEN abs({d}) >= 1e11 THEN {d} * 1000 ELSE {d} * 1000000 END")
            branches.append((f"{d} IS NOT NULL AND isfinite({d}) AND abs({d}) < 1e14",
                             f"make_timestamp(TRY_CAST(round({us}) AS BIGINT))"))
    if not branches:
        return "CAST(NULL AS TIMESTAMP)"
    whens = " ".join(f"WHEN {c} THEN {p}" for c, p in branches)
    return f"(CASE {whens} END)::TIMESTAMP"


# ---- frames (KPI, events, request logs) -------------------------------------------------------
def parse_series(s, file: str, column: str, bounds: Bounds, *, convention: str = MONTH_FIRST,
                 lines=None):
    """A polars Series of times (text, numbers or datetimes) -> (Datetime(us, UTC) Series, Reading).

    Raises InputError naming the first value that does not parse or is out of bounds; `lines`
    gives each row's source line (default: index + 2, the header being line 1). Null/empty cells
    stay null (the caller decides whether that is allowed)."""
    import duckdb
    import polars as pl

    n = len(s)
    line_of = (lambda i: int(lines[i])) if lines is not None else (lambda i: i + 2)
    if isinstance(s.dtype, pl.Datetime) or s.dtype == pl.Date:
        out = s.cast(pl.Datetime("us"))
        out = (out.dt.replace_time_zone("UTC") if getattr(out.dtype, "time_zone", None) is None
               else out.dt.convert_time_zone("UTC"))
        reading = Reading(column, ["iso"])
        unparsed = None
    else:
        text = s.cast(pl.Utf8) if not s.dtype.is_numeric() else s.cast(pl.Float64).cast(pl.Utf8)
        frame = pl.DataFrame({"v": text})
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.register("f", frame)
            # every value starts with YYYY-MM-DD: the reading `infer` gives is ISO (one cheap scan)
            iso = text.str.contains(ISO_START).all() and text.is_not_null().any()
            reading = Reading(column, ["iso"]) if iso else infer(con, "f", {column: "src.v"}, convention)[column]
            parsed = con.sql(
                f"SELECT {parse_sql('src.v', reading)} AS t FROM f AS src").pl()["t"]
        finally:
            con.close()
        unparsed = (parsed.is_null() & text.is_not_null() & (text.str.strip_chars() != ""))
        out = parsed.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if unparsed is None:
        unparsed = pl.Series([False] * n)
    lo, hi = bounds.earliest, bounds.latest
    outside = (out.is_not_null() & ((out < lo) | (out > hi))).fill_null(False)
    bad = (unparsed | outside).arg_true()          # the first failing line, whatever the reason
    if len(bad):
        i = int(bad[0])
        if unparsed[i]:
            raise InputError(f"not a time: {quote(s[i])} (read as {reading.describe()}; "
                             "use ISO 8601, M/D/YYYY, D.M.YYYY, YYYYMM or unix seconds)",
                             file=file, line=line_of(i), column=column)
        raise InputError(bounds.message(s[i]), file=file, line=line_of(i), column=column)
    assert len(out) == n
    return out.alias(s.name), reading
