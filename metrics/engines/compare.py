"""Every staged view and query file on DuckDB and on ClickHouse (chdb) over the same lake.

`compare(store)` returns one row per query: both row counts and the largest relative difference
of any cell (rows matched after sorting both results the same way). Queries are run with the
parameters a page would use over the store's whole data range, once per service where a query
takes one; a telemetry reader that takes `$start` runs again as `name@inside`, over a window that
starts inside the series (so counter increases use the sample before the window). A query the ClickHouse mapping cannot express is reported as `not portable` with the
reason, never dropped.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import polars as pl

from metrics import queries
from metrics.analysis import signals
from metrics.engines.clickhouse import ChdbEngine
from metrics.engines.transpile import NotPortable
from metrics.errors import OnepaneError
from metrics.store import SQL_DIR, Store

TOLERANCE = 1e-9


def _data_range(store: Store) -> tuple:
    r = store.query("SELECT min(first_at) a, max(last_at) b FROM ({q})".format(q=queries.sql_text("data_range")))
    return r["a"][0], r["b"][0]


def _params(rng: tuple, service: str | None, inside: bool = False) -> dict:
    """A page's parameters over the whole data range; `inside`: the window starts half way through
    it, at an odd second (so counter increases take each series' previous sample from before the
    window: the carry of requests_daily, the look-back before $start of service_technical)."""
    r = {"a": [rng[0]], "b": [rng[1]]}
    start = (r["a"][0] or datetime(2000, 1, 1, tzinfo=timezone.utc)).replace(hour=0, minute=0, second=0, microsecond=0)
    end = (r["b"][0] or start) + timedelta(days=1)
    if inside and r["a"][0] and r["b"][0]:
        mid = r["a"][0] + (r["b"][0] - r["a"][0]) / 2
        start = mid.replace(second=7, microsecond=0)
    month = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month_end = (month + timedelta(days=32)).replace(day=1)
    return {"start": start, "end": end, "services": [], "service": service, "model_version": None,
            "bucket": "day", "split": True, "late_after": timedelta(days=1), "window_start": start,
            "month_start": month, "month_end": month_end, "prev": start - (end - start), "origin": start.timestamp(),
            "bucket_s": 3600, "threshold_s": None, "action": None, "denominator": None,
            "metrics": [], "gpus": [], "own_unlabelled": True, "gap_start": None, "gap_end": None,
            "b0": start, "b1": start + (end - start) / 2, "a0": start + (end - start) / 2, "a1": end,
            "at": end, "a": start, "b": end, "from": start - timedelta(days=1), "gpu_match": "(?i)gpu",
            "source": None, "since": None, "versions": [], "null_version": True}


def _key(v):
    n = _num(v)
    if n is not None:
        return (0, "nan" if math.isnan(n) else f"{n:.9g}")
    if isinstance(v, datetime):
        return (1, (v if v.tzinfo else v.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat())
    return (2, "" if v is None else str(v))


def _rows(df: pl.DataFrame, columns: list[str]) -> list[tuple]:
    keys: dict = {}                     # _key per distinct (type, value): most cells repeat

    def key(v):
        # numbers by their text: 0.0 == -0.0 (and Decimal 0 == -0) share a hash, not a _key
        k = (type(v), str(v) if isinstance(v, (float, Decimal)) else v)
        try:
            return keys[k]
        except KeyError:
            got = keys[k] = _key(v)
            return got
        except TypeError:               # unhashable (a list)
            return _key(v)
    return sorted(df.select(columns).iter_rows(), key=lambda r: [key(v) for v in r])


def _num(v):
    if isinstance(v, bool):             # ClickHouse's Bool comes back as UInt8 from some expressions
        return float(v)
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    return None


_NUMERIC = (pl.Boolean, pl.Decimal, pl.Float32, pl.Float64, pl.Int8, pl.Int16, pl.Int32, pl.Int64,
            pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)


def _kind(dtype) -> str | None:
    if isinstance(dtype, _NUMERIC) or dtype in _NUMERIC:
        return "num"
    if isinstance(dtype, pl.Datetime):
        return "time"
    if dtype in (pl.Utf8, pl.Date, pl.Null) or isinstance(dtype, pl.Categorical):
        return "text"
    return None


def _frame_keys(df: pl.DataFrame, columns: list[str], kinds: dict) -> pl.DataFrame:
    """The values compared and the sort keys, column by column: numbers as Float64 (sorted by
    exponent and 9 significant digits, as `_key`), times as UTC microseconds, the rest as text."""
    out = []
    for i, c in enumerate(columns):
        col = pl.col(c)
        if kinds[c] == "num":
            x = col.cast(pl.Float64)
            e = pl.when(x.is_nan() | (x == 0) | x.is_infinite()).then(0.0).otherwise(x.abs().log10().floor())
            out += [x.alias(f"v{i}"), e.alias(f"e{i}"), (x / (10.0 ** e)).round(8).alias(f"m{i}")]
        elif kinds[c] == "time":
            out.append(col.dt.replace_time_zone(None).cast(pl.Int64).alias(f"v{i}") if df.schema[c].time_zone
                       is None else col.dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(pl.Int64)
                       .alias(f"v{i}"))
        else:
            out.append(col.cast(pl.Utf8).alias(f"v{i}"))
    return df.select(out)


def _fast_rel_diff(a: pl.DataFrame, b: pl.DataFrame) -> float | None:
    """max_rel_diff without Python objects per cell, for frames of plain columns (None: not such)."""
    columns = a.columns
    kinds = {}
    for c in columns:
        ka, kb = _kind(a.schema[c]), _kind(b.schema[c])
        if ka is None or kb is None or (ka != kb and "text" not in (ka, kb)):
            return None
        if ka != kb:                       # an all-NULL column on one side is typed NULL/text
            if (a[c].null_count() if ka == "text" else b[c].null_count()) != a.height:
                return math.inf
            kinds[c] = "text"
            continue
        kinds[c] = ka
    ka, kb = _frame_keys(a, columns, kinds), _frame_keys(b, columns, kinds)
    order = [k for i, c in enumerate(columns)
             for k in ((f"e{i}", f"m{i}") if kinds[c] == "num" else (f"v{i}",))]
    ka, kb = ka.sort(order, nulls_last=True), kb.sort(order, nulls_last=True)
    worst = 0.0
    for i, c in enumerate(columns):
        x, y = ka[f"v{i}"], kb[f"v{i}"]
        if (x.is_null() != y.is_null()).any():
            return math.inf
        if kinds[c] != "num":
            if not (x == y).fill_null(True).all():
                return math.inf
            continue
        nan_x, nan_y = x.is_nan().fill_null(False), y.is_nan().fill_null(False)
        if (nan_x != nan_y).any():
            return math.inf
        frame = pl.DataFrame({"x": x, "y": y}).filter(~nan_x & x.is_not_null())
        if frame.height:
            d = frame.select(pl.when(pl.col("x") == pl.col("y")).then(0.0).otherwise(
                (pl.col("x") - pl.col("y")).abs() / pl.max_horizontal(pl.col("x").abs(), pl.col("y").abs(),
                                                                    pl.lit(1e-300))).max())[0, 0]
            if d is None or math.isnan(d):
                return math.inf
            worst = max(worst, d)
    return worst


def max_rel_diff(a: pl.DataFrame, b: pl.DataFrame, fast_from: int = 20_000) -> float:
    """Largest relative difference of matching cells (inf when shapes or non-numbers differ).
    NULL and NaN are the same "unknown" on both sides only when both are unknown. Frames of
    `fast_from` rows or more are compared column-wise in polars (the row-by-row path below holds
    every cell as a Python object: 10 GB and many minutes for a million line items)."""
    if a.shape != b.shape or set(a.columns) != set(b.columns):
        return math.inf
    if a.height >= fast_from:
        got = _fast_rel_diff(a, b.select(a.columns))
        if got is not None:
            return got
    worst = 0.0
    for ra, rb in zip(_rows(a, a.columns), _rows(b, a.columns)):
        for x, y in zip(ra, rb):
            nx, ny = _num(x), _num(y)
            if nx is not None and ny is not None:
                if math.isnan(nx) and math.isnan(ny):
                    continue
                d = abs(nx - ny) / max(abs(nx), abs(ny), 1e-300) if nx != ny else 0.0
                worst = max(worst, d)
            elif isinstance(x, datetime) and isinstance(y, datetime):
                if _key(x) != _key(y):
                    return math.inf
            elif (x is None) != (y is None) or (x is not None and str(x) != str(y)):
                return math.inf
    return worst


_WINDOW = re.compile(r"\b(FROM|JOIN)\s+_window\b", re.I)


def _with_window(sql: str) -> str:
    """Queries over the telemetry summary's temporary table `_window` read it as a subquery
    (the same telemetry_window.sql that metrics/telemetry.py materialises)."""
    if not _WINDOW.search(sql):
        return sql
    window = "\n".join(line.split("--", 1)[0] for line in queries.sql_text("telemetry_window").splitlines())
    return _WINDOW.sub(lambda m: f"{m.group(1)} ({window.strip().rstrip(';')}) AS _window", sql)


def _cases(store: Store) -> list[tuple[str, str, dict | None]]:
    """(name, DuckDB SQL, params) for every staged/public view and query file."""
    out = []
    for layer in ("staged", "public"):
        for p in sorted((SQL_DIR / layer).glob("*.sql")):
            m = re.search(r"VIEW\s+(\w+)\s+AS", p.read_text(encoding="utf-8"), re.I)
            if m:
                out.append((m.group(1), f"SELECT * FROM {m.group(1)}", None))
    services = store.query("SELECT service FROM ({q}) ORDER BY 1".format(
        q=queries.sql_text("services_known")))["service"].to_list()
    rng = _data_range(store)
    for folder, text in (("queries", queries.sql_text), ("analysis", signals.sql)):
        for p in sorted((SQL_DIR / folder).glob("*.sql")):
            sql = _with_window(text(p.stem).strip().rstrip(";"))
            code = re.sub(r"--.*", "", sql)
            uses_service = "$service" in code.replace("$services", "")
            # telemetry readers also over a window that starts inside the series (`@inside`)
            inside = ([False, True] if "$start" in code and re.search(r"\bstg_telemetry", code)
                      else [False])
            for svc in (services if uses_service else [None]):
                for within in inside:
                    name = f"{folder}/{p.stem}" + ("@inside" if within else "") + (f"[{svc}]" if svc else "")
                    out.append((name, sql, _params(rng, svc, within)))
    return out


def compare(store: Store, as_of=None, progress=None, only: str | None = None, engine=None) -> list[dict]:
    """`only`: run just the queries whose name contains this text. `engine`: a ChdbEngine made for
    the same as-of time (e.g. over MergeTree tables; the caller closes it); default: chdb over the
    lake."""
    own = engine is None
    engine = engine or ChdbEngine(store, as_of=as_of)
    rows = []
    con = None
    try:
        con = store.connect(as_of)          # one DuckDB connection (and "now") for every query
        for name, sql, params in _cases(store):
            if only and only not in name:
                continue
            row = {"query": name, "duckdb_rows": None, "clickhouse_rows": None, "max_rel_diff": None,
                   "status": "ok", "error": None}
            try:
                used = queries._drop_unused(sql, params or {})
                code = "\n".join(line.split("--", 1)[0] for line in used.splitlines())
                need = set(re.findall(r"\$([a-z_0-9]+)", code))
                p = {k: v for k, v in (params or {}).items() if k in need}
                d = store.query(used, p or None, con=con)
                row["duckdb_rows"] = d.height
            except Exception as e:   # noqa: BLE001 - a query DuckDB itself refuses is reported
                row.update(status="duckdb error", error=str(e).splitlines()[0][:200])
                rows.append(row)
                continue
            try:
                c = engine.query(used, p)
                row["clickhouse_rows"] = c.height
                diff = max_rel_diff(d, c)
                row["max_rel_diff"] = diff
                if diff > TOLERANCE:
                    row["status"] = "differs"
            except NotPortable as e:
                row.update(status="not portable", error=str(e)[:200])
            except OnepaneError as e:
                row.update(status="clickhouse error", error=str(e)[:200])
            rows.append(row)
            if progress:
                progress(row)
    finally:
        if con is not None:
            con.close()
        if own:
            engine.close()
    for name, why in engine.skipped.items():
        for r in rows:
            if r["query"] == name and r["status"] != "ok":
                r["error"] = f"view not created: {why[:200]}"
    return rows
