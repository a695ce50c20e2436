"""`onepane loads list|rm`, `onepane backup`, `onepane restore`: undo and safekeeping."""
from __future__ import annotations

import click

from app.common import TIME, as_of_option, emit, format_option, store_options


def register(cli: click.Group, ingest: click.Group) -> None:
    @cli.group("loads")
    def loads() -> None:
        """The run log: list loads, take a bad one back."""

    @loads.command("list")
    @click.option("--source", default=None, help="Only loads of this source.")
    @click.option("--since", type=TIME, default=None, help="Only loads finished at or after this time.")
    @as_of_option
    @format_option("table", "json", "csv")
    @store_options
    def loads_list(source, since, as_of, fmt, store, config) -> None:
        """Every load (newest first) with its status, rows and whether it was removed."""
        from metrics.housekeeping import list_loads

        df = list_loads(store, source, since, as_of)
        if fmt == "table":
            df = df.drop("error")
        emit(df, fmt)

    @loads.command("rm")
    @click.argument("load_id")
    @click.option("--reason", default=None, help="Why (kept in the run log and on Data health).")
    @store_options
    def loads_rm(load_id, reason, store, config) -> None:
        """Take back every row of one load. The removal is itself a load: `--as-of` before it
        still shows the rows, and Data health lists it. Re-collect a range with `--from`."""
        from metrics.housekeeping import remove_load

        r = remove_load(store, load_id, reason)
        click.echo(f"removed load {r['removed_load']}: {r['rows']} rows of {r['table']} "
                   f"(removal {r['removal_load']})")
