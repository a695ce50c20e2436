"""Query engines: the same metric SQL (written once, in DuckDB's dialect) on DuckDB or ClickHouse.

DuckDB runs the store natively (metrics.store). ClickHouse runs the very same view and query files,
transpiled by SQLGlot plus a small, tested function map (transpile.py); clickhouse.py creates the
views on a chdb session (over the lake's Parquet) or a server (over the MergeTree tables that
ddl.py defines and loads); layer.py picks the engine from `[storage]` for the page/metric query
path; compare.py and `onepane engines compare` run every query on both and report differences.
"""
