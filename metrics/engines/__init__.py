"""Query engines: the same metric SQL (written once, in DuckDB's dialect) on DuckDB or ClickHouse.

DuckDB runs the store natively (metrics.store). ClickHouse runs the very same view and query files,
transpiled by SQLGlot plus a small, tested function map (metrics/engines/clickhouse.py); in CI its
engine runs in-process as chdb over the store's lake. `onepane engines compare` runs every query on
both and reports the largest difference.
"""
