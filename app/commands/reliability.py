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

    @cli.command("backup")
    @click.argument("dest", type=click.Path(file_okay=False))
    @store_options
    def backup_cmd(dest, store, config) -> None:
        """Copy the store (DuckDB file and lake) into the new folder DEST, consistently, while
        collectors keep writing. Restore with `onepane restore DEST --db PATH`."""
        from metrics.housekeeping import backup

        r = backup(store, dest)
        click.echo(f"backed up {r['loads']} loads ({r['files']} files) to {r['db']}")

    @cli.command("restore")
    @click.argument("src", type=click.Path(file_okay=False, exists=True))
    @click.option("--db", "db", type=click.Path(dir_okay=False), required=True,
                  help="Store file to create from the backup (its lake goes beside it).")
    @click.option("--force", is_flag=True, help="Replace an existing store at --db.")
    def restore_cmd(src, db, force) -> None:
        """Create the store --db from a backup folder made by `onepane backup`."""
        from metrics.housekeeping import restore

        r = restore(src, db, force)
        click.echo(f"restored {r['loads']} loads into {r['db']}")
