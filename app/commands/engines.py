"""Engine commands: `onepane engines compare` (DuckDB vs ClickHouse) and `onepane metrics check`."""
from __future__ import annotations

import sys

import click

from app.common import TIME, emit, format_option, store_options


def register(cli: click.Group, ingest: click.Group) -> None:
    cli.add_command(engines)
    cli.add_command(metrics_group)


@click.group()
def engines() -> None:
    """Run the metric SQL on other engines."""


@engines.command("compare")
@click.option("--as-of", "as_of", type=TIME, default=None, help="Compare what the store knew at this time.")
@format_option("table", "json")
@store_options
def compare_cmd(as_of, fmt, store, config) -> None:
    """Run every staged view and query on DuckDB and on ClickHouse's engine (chdb, in-process)
    over the store's lake; print both row counts and the largest relative difference per query.
    Exits 1 when any query differs or fails on ClickHouse."""
    from metrics.engines.compare import TOLERANCE, compare

    rows = compare(store, as_of=as_of)
    emit(rows, fmt)
    bad = [r for r in rows if r["status"] != "ok"]
    if fmt != "json":
        click.echo(f"{len(rows) - len(bad)} of {len(rows)} queries equal within {TOLERANCE:g}", err=True)
    if bad:
        sys.exit(1)


@engines.command("ddl")
@store_options
def ddl_cmd(store, config) -> None:
    """Print the ClickHouse tables of this store (MergeTree by month, ordered by the page keys,
    TTL from [retention], ON CLUSTER from [storage.clickhouse] cluster)."""
    from metrics.engines.ddl import ddl

    ch = config.storage.clickhouse
    for stmt in ddl(store, ch.database, config.retention, ch.cluster):
        click.echo(stmt + ";\n")


@engines.command("load")
@click.option("--month", "months", multiple=True, help="Only this month (YYYYMM); repeatable.")
@store_options
def load_cmd(months, store, config) -> None:
    """Create the ClickHouse tables on the [storage.clickhouse] server and load the lake into them,
    a month at a time (staging table, REPLACE PARTITION): re-running never double-counts. With
    [storage.clickhouse] lake_url the server reads the Parquet from object storage with s3()."""
    from metrics.engines.ddl import S3Lake, ddl, load
    from metrics.engines.layer import server_session
    from metrics.errors import ConfigError

    ch = config.storage.clickhouse
    if not ch.url:
        raise ConfigError("no server to load into: set [storage.clickhouse] url "
                          "(without one, chdb reads the lake in place)", key="storage.clickhouse.url")
    session = server_session(ch)
    if ch.lake_url:                     # the server reads the lake's copy on object storage
        session = S3Lake.from_settings(session, store, ch)
    for stmt in ddl(store, ch.database, config.retention, ch.cluster):
        session.execute(stmt)
    for table, n in load(session, store, ch.database, months=list(months) or None).items():
        click.echo(f"{table}: {n} rows")


@click.group("metrics")
def metrics_group() -> None:
    """Check the metric definitions."""


@metrics_group.command("check")
def metrics_check() -> None:
    """Fail when a view or query uses a function outside the tested portable list or does not
    transpile to ClickHouse."""
    from metrics.engines.lint import check, sql_files

    issues = check()
    for i in issues:
        click.echo(str(i))
    if issues:
        sys.exit(1)
    click.echo(f"{len(sql_files())} statements portable")
