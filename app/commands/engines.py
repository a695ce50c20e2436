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
