"""What changed reads only the days it analyses: one connection whose day-partitioned raw tables are
narrowed to the partition folders of the read range.

The generic raw views (metrics.store.raw_view_sql) glob every Parquet file of a table, so each query
opens the footer of every day's files to prune row groups by time: on the 90-day demo store that is
~360 telemetry files per query, most of the time of an answer. Here the connection gets TEMP views of
the same name (raw_telemetry, raw_requests) over the `_schema.parquet` template and only the `day=`
folders that overlap the read range (one day of margin either side), gated by committed loads
exactly as the generic view is. TEMP views come first in DuckDB's search path, so the analysis SQL
(and the stg_ views over these tables) run unchanged on that connection and see the same rows for
any time range inside the read range; the connection is private to one what-changed call and is
closed after it.

A table with any folder that is not `day=YYYY-MM-DD` (another partitioning) keeps its generic view.

The bill (stg_cost, a de-duplicating view over every FOCUS load) is copied once into a TEMP table of
the same name holding the lines whose charge period starts in the range (± 1 day): what-changed asks
it for every before/after pair it compares (the windows, each event), a few milliseconds each then.
"""
from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta, timezone
from typing import Iterator

import duckdb

from metrics.store import Store, raw_view_sql

DAY_PARTITIONED = ("raw_telemetry", "raw_requests")
LOOKBACK_S = 600.0          # wc_telemetry reads 10 minutes before its range (a counter's previous value)
_DAY = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")


def _literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def narrow(con: duckdb.DuckDBPyConnection, store: Store, start: float, end: float) -> None:
    """Shadow each day-partitioned raw table of `con` by a view over the folders of [start, end)."""
    lo = (datetime.fromtimestamp(start, tz=timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    hi = (datetime.fromtimestamp(end, tz=timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")
    for table in DAY_PARTITIONED:
        folder = store.lake / table
        schema = folder / "_schema.parquet"
        if not schema.exists():
            continue
        days = []
        for p in folder.iterdir():
            if not p.is_dir() or p.name.startswith(("_", ".")):
                continue
            m = _DAY.match(p.name)
            if not m:
                days = None                       # partitioned otherwise: keep the generic view
                break
            if lo <= m.group(1) <= hi:
                days.append(p)
        if days is None:
            continue
        paths = [str(schema)] + [str(d / "*.parquet") for d in sorted(days) if any(d.glob("*.parquet"))]
        generic = raw_view_sql(table, store.lake)
        glob = _literal(str(folder / "**" / "*.parquet"))
        if glob not in generic:                  # the generic view changed shape: do not guess
            continue
        con.execute(generic.replace(f"CREATE OR REPLACE VIEW {table}", f"CREATE OR REPLACE TEMP VIEW {table}", 1)
                           .replace(glob, "[" + ", ".join(_literal(p) for p in paths) + "]", 1))
    # the bill: stg_cost (de-duplicated FOCUS lines) of the range, once, as a TEMP table; what-changed
    # asks it for several before/after pairs (one per event), each a scan of every load otherwise
    con.execute("CREATE OR REPLACE TEMP TABLE stg_cost AS SELECT * FROM main.stg_cost "
                "WHERE charge_period_start >= $lo::TIMESTAMPTZ AND charge_period_start < $hi::TIMESTAMPTZ",
                {"lo": lo, "hi": hi})


@contextlib.contextmanager
def reading(store: Store, as_of: datetime | None, start: float, end: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection narrowed to [start, end) (see the module doc); closed on exit."""
    con = store.connect(as_of)
    try:
        narrow(con, store, start, end)
        yield con
    finally:
        con.close()
