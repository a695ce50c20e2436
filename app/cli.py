"""The `onepane` command line: one click group; commands parse, call one function, print.

Collectors are imported lazily inside commands, so `onepane --help` stays fast and nothing here
imports evidently. Area-specific commands live in app/commands/<area>.py (one `register` each).
An OnepaneError prints as one line on stderr and exits 1; anything else keeps its traceback.
"""
from __future__ import annotations

import importlib
import logging
import sys

import click

from app.common import (DURATION, TIME, as_of_option, config_option, emit, format_option,
                        from_option, store_options, to_option)
from metrics.errors import OnepaneError

log = logging.getLogger("onepane")

# Each module defines register(cli: click.Group, ingest: click.Group).
COMMAND_MODULES = (
    "app.commands.billing",
    "app.commands.telemetry",
    "app.commands.model_health",
    "app.commands.business",
    "app.commands.analysis",
    "app.commands.demo",
    "app.commands.decisions",
    "app.commands.governance",
    "app.commands.review",
    "app.commands.engines",
    "app.commands.reliability",
)


class OnepaneGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except OnepaneError as e:
            from metrics.redact import redact

            click.echo(f"error: {redact(str(e))}", err=True)
            sys.exit(1)


@click.group(cls=OnepaneGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.version_option(package_name="onepane", message="onepane %(version)s")
def cli(verbose: int) -> None:
    """onepane: technical, model and business health of AI services, with unit economics,
    in one DuckDB store."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from metrics.redact import RedactingFilter

    for h in logging.getLogger().handlers:      # no URL credential or token in any log line
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())


@cli.command()
@store_options
def init(store, config) -> None:
    """Create the store and apply pending migrations (idempotent)."""
    from collectors.runner import publish_services

    applied = store.migrate()
    publish_services(store, config)
    click.echo(f"store {store.db_path} ready; lake {store.lake}; "
               f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


@cli.group("config")
def config_group() -> None:
    """Check the configuration."""


@config_group.command("check")
@config_option
def config_check(config) -> None:
    """Validate onepane.toml, including every [[source]] against its collector."""
    from collectors.registry import source_settings

    for i, src in enumerate(config.source):
        source_settings(src, i, config.path)
    where = config.path or "(no onepane.toml: defaults)"
    click.echo(f"{where}: ok ({len(config.services)} services, {len(config.source)} sources)")


@cli.command()
@click.argument("names", nargs=-1)
@from_option
@to_option
@click.option("--service", default=None, help="Only this service (sources that read one service, e.g. drift).")
@click.option("--window", type=DURATION, default=None, help="Window size for windowed sources (drift), e.g. 1d.")
@store_options
def collect(names, start, end, service, window, store, config) -> None:
    """Run configured sources: all, or those whose name or collector type is given.

    Every source runs even if one fails; exits 1 if any failed."""
    from collectors.runner import publish_services, run_sources

    publish_services(store, config)
    options = {k: v for k, v in (("service", service), ("window", window)) if v is not None}
    results = run_sources(store, config, list(names) or None, start, end, **options)
    for r in results:
        status = ("ok" + (f", {r.note}" if r.note else "")) if r.ok else f"FAILED: {r.error}"
        click.echo(f"{r.source} ({r.collector}): {r.rows} rows, {status}", err=not r.ok)
    if not results:
        click.echo("no sources configured; add [[source]] entries to onepane.toml", err=True)
    if any(not r.ok for r in results):
        sys.exit(1)


@cli.group()
def ingest() -> None:
    """Load files into the store (all-or-nothing; re-ingesting the same file changes nothing)."""


@cli.command()
@click.argument("sql")
@as_of_option
@format_option("table", "json", "csv")
@store_options
def sql(sql, as_of, fmt, store, config) -> None:
    """Run one read-only SELECT against the store's views (e.g. `select * from focus`).

    Anything else (COPY, EXPORT, SET, ATTACH, several statements, reading files outside the
    store) is refused with a one-line error and exit status 1."""
    from metrics.usersql import run_user_sql

    emit(run_user_sql(store, sql, as_of=as_of), fmt)


@cli.command()
@store_options
def compact(store, config) -> None:
    """Merge small Parquet files so the file count stays bounded (keeps every row and load id);
    remove the staging files of dead loads (never of a running one)."""
    from metrics.housekeeping import apply_retention
    from metrics.lake import compact_partition, sweep_staging

    swept = sweep_staging(store)
    for r in apply_retention(store, config.retention):
        click.echo(f"retention: {r['table']} dropped {len(r['partitions'])} partition(s), "
                   f"{r['rows']} rows older than {r['cutoff']:%Y-%m-%d}")
    n = 0
    for folder in sorted(p for p in store.lake.glob("*/*")
                         if p.is_dir() and not p.parent.name.startswith("_")
                         or p.is_dir() and p.parent.name == "_onepane_loads"):
        n += compact_partition(store, folder.parent.name, folder)
    click.echo(f"compacted {n} files; removed {len(swept)} staging folder(s) of dead loads")


@cli.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--headless/--no-headless", default=True, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs [auth] in onepane.toml.")
@store_options
def serve(port, headless, address, store, config) -> None:
    """Serve the dashboard on http://127.0.0.1:PORT. Another --address is refused unless [auth]
    is configured, and then every page requires login."""
    from app.serve import serve as run

    run(store, config, port=port, headless=headless, address=address)


for _module in COMMAND_MODULES:
    try:
        importlib.import_module(_module).register(cli, ingest)
    except ModuleNotFoundError as e:
        if e.name != _module:
            raise


def main() -> None:
    cli(prog_name="onepane")


if __name__ == "__main__":
    main()
