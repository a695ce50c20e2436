"""Decimal conventions of number columns: one per column, inferred from all its values.

`1,234.5` (dot decimal, comma thousands) and `1.234,5` (comma decimal, dot thousands) are both
real; a column is read with ONE of them. Each value's *shape* (digits -> 9) says which
conventions it fits: `8,16` only comma-decimal, `1,234.5` only dot-decimal, `29,088` both
(29088 or 29.088). A thousands separator needs groups of exactly three digits. The column uses
the convention every value fits; when both fit, the convention the file's other columns showed,
else dot-decimal. When none fits, the file is refused at the first value that does not fit the
convention most values fit (file, line, column). Spaces and apostrophes as thousands separators
and a leading `$` are accepted under either convention.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

DOT, COMMA = "dot-decimal", "comma-decimal"
_SIGN = r"[-+]?\$?"
_DOT = re.compile(_SIGN + r"(9+|9{1,3}(,999)+|9{1,3}([ ']999)+)?(\.9*)?([eE][-+]?9+)?")
_COMMA = re.compile(_SIGN + r"(9+|9{1,3}(\.999)+|9{1,3}([ ']999)+)?(,9*)?")


def fits(shape: str) -> set[str]:
    s = shape.strip()
    if not any(ch == "9" for ch in s):
        return set()
    out = set()
    if _DOT.fullmatch(s):
        out.add(DOT)
    if _COMMA.fullmatch(s):
        out.add(COMMA)
    return out


@dataclass
class NumberReading:
    column: str
    convention: str = DOT
    by: str = "default"            # values | file | default
    unfit: list[str] = field(default_factory=list)      # example values fitting no convention

    def describe(self) -> str:
        how = {"values": "by the values", "file": "like the file's other columns",
               "default": "ambiguous or plain, default"}[self.by]
        return f"{self.convention} ({how})"


def classify(column: str, shapes: list[tuple[str, int, str]]) -> tuple[NumberReading, set[str]]:
    """`shapes`: (shape, rows, example). Returns the reading and the conventions all values fit
    (both: undecided, to be settled by the file)."""
    counts = {DOT: 0, COMMA: 0}
    possible = {DOT, COMMA}
    for shape, n, example in shapes:
        f = fits(shape)
        for c in f:
            counts[c] += n
        possible &= f
    r = NumberReading(column)
    if len(possible) == 1:
        r.convention, r.by = possible.pop(), "values"
        return r, {r.convention}
    if not possible:                 # no single convention: the majority names the bad line
        r.convention, r.by = max(counts, key=lambda c: (counts[c], c == DOT)), "values"
        r.unfit = [ex for shape, _, ex in shapes if r.convention not in fits(shape)][:3]
        return r, set()
    return r, {DOT, COMMA}


def infer(con, relation_sql: str, columns: dict[str, str]) -> dict[str, NumberReading]:
    """One pass: the reading of each text number column (`columns`: name -> SQL of its cell)."""
    if not columns:
        return {}
    names = list(columns)
    structs = ", ".join(f"{{'c': {i}, 'v': CAST({x} AS VARCHAR)}}" for i, x in enumerate(columns.values()))
    rows = con.execute(f"""
        SELECT c, translate(trim(v), '0123456789', '9999999999') AS shape, count(*), min(v)
        FROM (SELECT unnest([{structs}], recursive := true) FROM {relation_sql} AS src)
        WHERE v IS NOT NULL AND trim(v) <> '' GROUP BY ALL""").fetchall()
    by_col: dict[int, list] = {i: [] for i in range(len(names))}
    for c, shape, n, ex in rows:
        by_col[c].append((shape, n, ex))
    out, undecided, decided = {}, [], []
    for i, shapes in by_col.items():
        r, possible = classify(names[i], sorted(shapes))
        out[names[i]] = r
        (undecided if len(possible) == 2 else decided).append(r)
    file_conv = {r.convention for r in decided if r.by == "values" and not r.unfit}
    if len(file_conv) == 1:
        for r in undecided:
            r.convention, r.by = next(iter(file_conv)), "file"
    return out


def parse_sql(x: str, r: NumberReading) -> str:
    """SQL: text -> the number's text in plain notation (`1234.5`), NULL when it does not fit."""
    t = f"trim({x})"
    if r.convention == DOT:
        ok = r"^[-+]?\$?(\d+|\d{1,3}(,\d{3})+|\d{1,3}([ ']\d{3})+)?(\.\d*)?([eE][-+]?\d+)?$"
        plain = f"replace(replace(replace(replace({t}, ',', ''), ' ', ''), '''', ''), '$', '')"
    else:
        ok = r"^[-+]?\$?(\d+|\d{1,3}(\.\d{3})+|\d{1,3}([ ']\d{3})+)?(,\d*)?$"
        plain = (f"replace(replace(replace(replace(replace({t}, '.', ''), ' ', ''), '''', ''), "
                 f"'$', ''), ',', '.')")
    return f"CASE WHEN regexp_matches({t}, '{ok.replace(chr(39), chr(39) * 2)}') THEN {plain} END"
