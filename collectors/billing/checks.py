"""Billing dates: the reading of each text time column (collectors.dates) and the bounds check.

Reading: the first SAMPLE_ROWS rows decide (one SQL pass over the shapes of the values); the
main query then parses every value by that reading, so a later value that contradicts it (a day
above 12 in a column the sample read month-first, a 10-digit number in a YYYYMMDD column) fails
the parse, and the ingest infers again from *all* values (`full=True`) before it refuses
anything: the result is the same as inferring from the whole column, at the cost of one extra
pass only for files that need it. Columns typed by a reader (the fast path: ISO read by DuckDB's
CSV reader, Parquet/JSON timestamps) need no reading.

Bounds: after the rows are staged, the min and max of every time column are compared with
collectors.dates.Bounds; on a violation the source is scanned once to name the first line.
"""
from __future__ import annotations

from datetime import timezone

import duckdb

from collectors.billing.focus import BAD, TIME_TARGETS, Exprs, Source, lit, q
from collectors.dates import MONTH_FIRST, Bounds, Reading, infer, quote
from collectors.numbers import NumberReading
from collectors.numbers import infer as infer_numbers
from metrics.errors import InputError

SAMPLE_ROWS = 10_000
# the month-first/day-first convention each provider documents for slash dates
CONVENTION = {"focus": MONTH_FIRST, "azure": MONTH_FIRST, "aws-cur": MONTH_FIRST,
              "gcp": MONTH_FIRST, "oci": MONTH_FIRST}


def text_time_columns(e: Exprs) -> list[str]:
    """Source columns read as times that are not typed timestamps (their values need a reading)."""
    return [c for c, uses in e.uses.items() if "time" in uses
            and not e.cols.types[c].startswith(("TIMESTAMP", "DATE"))]


def readings(con: duckdb.DuckDBPyConnection, src: Source, e: Exprs, fmt: str,
             full: bool) -> dict[str, Reading]:
    cols = text_time_columns(e)
    if not cols:
        return {}
    rel = src.relation_sql if full else f"(FROM {src.relation_sql} LIMIT {SAMPLE_ROWS})"
    try:
        return infer(con, rel, {c: e.cell(c) for c in cols}, CONVENTION.get(fmt, MONTH_FIRST))
    except duckdb.Error:
        # the reader fails on this file (ragged row, bad quoting, ...): the main query reports it
        return {c: Reading(c, ["iso"]) for c in cols}


def text_number_columns(e: Exprs) -> list[str]:
    return [c for c, uses in e.uses.items() if "number" in uses and e.cols.types[c] == "VARCHAR"]


def number_readings(con: duckdb.DuckDBPyConnection, src: Source, e: Exprs,
                    full: bool) -> dict[str, NumberReading]:
    """The decimal convention of each text number column (collectors.numbers)."""
    cols = text_number_columns(e)
    if not cols:
        return {}
    rel = src.relation_sql if full else f"(FROM {src.relation_sql} LIMIT {SAMPLE_ROWS})"
    try:
        return infer_numbers(con, rel, {c: e.cell(c) for c in cols})
    except duckdb.Error:
        return {}            # the reader fails on this file: the main query reports it


def failed_on_number(err: Exception) -> bool:
    text = str(err)
    return BAD in text and "\x1fnumber\x1f" in text


def failed_on_time(err: Exception) -> bool:
    """The main query stopped on a time cell that its reading did not parse."""
    text = str(err)
    return BAD in text and "\x1ftimestamp\x1f" in text


def describe(rs: dict[str, Reading]) -> dict[str, str]:
    return {c: r.describe() for c, r in rs.items()}


def check_bounds(con: duckdb.DuckDBPyConnection, staged: list[str], src: Source, e: Exprs,
                 bounds: Bounds) -> None:
    """Raise InputError naming the first out-of-range time (file, line, column, value)."""
    if not staged:
        return
    lst = "[" + ", ".join(lit(f) for f in staged) + "]"
    cols = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lst}, union_by_name = true)").fetchall()
    present = [c[0] for c in cols if c[0] in TIME_TARGETS]
    if not present:
        return
    aggs = ", ".join(f"min({q(c)}), max({q(c)})" for c in present)
    row = con.execute(f"SELECT {aggs} FROM read_parquet({lst}, union_by_name = true)").fetchone()
    worst = None
    for i, c in enumerate(present):
        for v in row[2 * i: 2 * i + 2]:
            if v is not None and (v < bounds.earliest or v > bounds.latest):
                worst = worst or (c, v)
    if worst is None:
        return
    locate(con, src, e, bounds, worst)


def locate(con, src: Source, e: Exprs, bounds: Bounds, worst) -> None:
    con.execute("SET preserve_insertion_order = true")
    if e.time_cols:
        flags = ", ".join(f"{bounds.sql(p)} AS b{i}" for i, p in enumerate(e.time_cols.values()))
        where = " OR ".join(f"b{i}" for i in range(len(e.time_cols)))
        hit = con.execute(f"SELECT * FROM (SELECT row_number() OVER () AS rn, {flags} "
                          f"FROM {src.relation_sql} AS src) WHERE {where} ORDER BY rn LIMIT 1").fetchone()
        if hit:
            col = list(e.time_cols)[next(j for j, b in enumerate(hit[1:]) if b)]
            cell = con.execute(f"SELECT CAST({q(col)} AS VARCHAR) FROM (SELECT row_number() OVER () "
                               f"AS rn, * FROM {src.relation_sql}) WHERE rn = ?", [hit[0]]).fetchone()
            raise InputError(bounds.message(cell[0]), file=str(src.path),
                             line=hit[0] + src.line_offset, column=col)
    target, value = worst
    value = value.astimezone(timezone.utc).isoformat() if hasattr(value, "astimezone") else value
    raise InputError(f"{target} {quote(str(value))} is outside the accepted range "
                     f"{bounds.earliest.date()} .. {bounds.latest.date()}", file=str(src.path),
                     column=target)
