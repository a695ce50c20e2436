"""What changed reads only the days it analyses: one connection whose day-partitioned raw tables are
scoped to the day partitions of the read range.

The generic raw views (metrics.store.raw_view_sql) glob every Parquet file of a table, so each query
opens the footer of every day's files to prune row groups by time: on the 90-day demo store that is
~360 telemetry files per query, most of the time of an answer. Here the connection's telemetry and
request-log tables (and the list of telemetry duplicates) are scoped to the days of the read range
with one day of margin either side (metrics.store.scope_days: TEMP views of the same name over those
`day=` folders only, gated by committed loads exactly as the generic view is); the margin covers the
first bucket, which may start up to one bucket before the read range. TEMP views come first in
DuckDB's search path, so the analysis SQL (and the stg_ views over these tables) run unchanged on
that connection and see the same rows for any time range inside the read range; the connection is
private to one what-changed call and is closed after it.

The bill (stg_cost, a de-duplicating view over every FOCUS load) is copied once into a TEMP table of
the same name holding the lines whose charge period starts in the range (± 1 day): what-changed asks
it for every before/after pair it compares (the windows, each event), a few milliseconds each then.
"""
from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from typing import Iterator

import duckdb

from metrics.store import Store, scope_days

DAY_PARTITIONED = ("raw_telemetry", "_dedup_raw_telemetry", "raw_requests")
LOOKBACK_S = 600.0          # wc_telemetry reads 10 minutes before its range (a counter's previous value)
MARGIN = timedelta(days=1)


@contextlib.contextmanager
def reading(store: Store, as_of: datetime | None, start: float, end: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection scoped to [start, end) ± 1 day (see the module doc); closed on exit."""
    lo = datetime.fromtimestamp(start, tz=timezone.utc) - MARGIN
    hi = datetime.fromtimestamp(end, tz=timezone.utc) + MARGIN
    con = store.connect(as_of)
    try:
        scope_days(store, con, DAY_PARTITIONED, lo, hi)      # TEMP views: gone with the connection
        # the bill: stg_cost (de-duplicated FOCUS lines) of the range, once, as a TEMP table; what-changed
        # asks it for several before/after pairs (one per event), each a scan of every load otherwise
        con.execute("CREATE OR REPLACE TEMP TABLE stg_cost AS SELECT * FROM main.stg_cost "
                    "WHERE charge_period_start >= $lo::TIMESTAMPTZ AND charge_period_start < $hi::TIMESTAMPTZ",
                    {"lo": lo.strftime("%Y-%m-%d"), "hi": hi.strftime("%Y-%m-%d")})
        yield con
    finally:
        con.close()
