"""`onepane demo`: generate the demo company, ingest it through the configured collectors, serve.

The demo writes real input files plus its own onepane.toml into --out, then runs exactly what a
user runs (`collectors.runner.run_sources` over that config); there is no demo-only loader.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from app.common import TIME


def register(cli: click.Group, ingest: click.Group) -> None:
    cli.add_command(demo)


@click.command()
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed; same seed, same files.")
@click.option("--days", default=90, show_default=True, type=click.IntRange(30, 400),
              help="Length of the demo period in days.")
@click.option("--end", type=TIME, default=None,
              help="End of the period (exclusive; ISO 8601 or unix seconds). Default: today 00:00 UTC.")
@click.option("--out", default="demo-data", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the generated files, their onepane.toml and the default store.")
@click.option("--db", default=None, type=click.Path(dir_okay=False),
              help="DuckDB store to build (default: OUT/onepane.duckdb).")
@click.option("--no-serve", is_flag=True, help="Only build the store; do not start the app.")
@click.option("--port", default=8501, show_default=True, help="Port of the app.")
def demo(seed, days, end, out, db, no_serve, port) -> None:
    """Generate 90 days of a demo company's inputs (three AI services with planted incidents),
    ingest them through the same collectors users run, then serve the app."""
    from collectors.demo import default_end, generate
    from collectors.registry import load_collectors
    from collectors.runner import publish_services, run_sources
    from metrics.config import load_settings
    from metrics.store import Store
    from metrics.times import parse_time

    out_dir = Path(out)
    db_path = Path(db) if db else out_dir / "onepane.duckdb"
    end = end or default_end()
    _drop_stale_store(out_dir, db_path, seed, days, end, default_db=db is None, parse_time=parse_time)

    t0 = time.monotonic()
    generate(out_dir, seed=seed, days=days, end=end)
    click.echo(f"generated {days} days of demo inputs in {out_dir} ({time.monotonic() - t0:.1f} s)", err=True)

    config = load_settings(out_dir / "onepane.toml")
    config.store.path = str(db_path)
    store = Store(db_path).ensure()
    publish_services(store, config)
    t1 = time.monotonic()
    started = datetime.now(timezone.utc)
    known = load_collectors()
    missing = [s for s in config.source if s.type not in known]
    for s in missing:
        click.echo(f"  {s.name} ({s.type}): not loaded, no collector of type {s.type!r} is installed", err=True)
    runnable = [s.name for s in config.source if s.type in known]
    results = run_sources(store, config, runnable) if runnable else []
    failed = [r for r in results if not r.ok] + missing
    # rows as the run log recorded them (collectors may publish several loads per source)
    loaded = store.query("SELECT source, sum(rows)::BIGINT AS n FROM _onepane_loads "
                         "WHERE status = 'ok' AND started_at >= ? GROUP BY source", [started])
    rows = dict(zip(loaded["source"].to_list(), loaded["n"].to_list()))
    for r in results:
        status = "ok" if r.ok else f"FAILED: {r.error}"
        click.echo(f"  {r.source} ({r.collector}): {rows.get(r.source, 0)} new rows, {status}", err=True)
    click.echo(f"ingested {sum(rows.values())} new rows from {len(results)} sources "
               f"({time.monotonic() - t1:.1f} s) into {store.db_path}", err=True)
    if no_serve:
        click.echo(str(store.db_path))
        if failed:
            sys.exit(1)
        return
    if failed:
        click.echo(f"warning: {len(failed)} source(s) failed; serving what was loaded", err=True)
    from app.serve import serve

    serve(store, config, port=port)


def _drop_stale_store(out_dir: Path, db_path: Path, seed: int, days: int, end, *, default_db: bool,
                      parse_time) -> None:
    """A demo store built from another seed or period would mix two companies: rebuild it.
    Only the demo's own default store (inside --out) is ever removed."""
    truth = out_dir / "ground_truth.json"
    if not (default_db and truth.exists() and db_path.exists()):
        return
    try:
        old = json.loads(truth.read_text(encoding="utf-8"))
        same = (old.get("seed") == seed and old.get("days") == days
                and parse_time(old["end"]) == parse_time(end))
    except (ValueError, KeyError):
        same = False
    if not same:
        from metrics.store import lake_path_for

        click.echo(f"demo parameters changed: rebuilding {db_path}", err=True)
        db_path.unlink()
        shutil.rmtree(lake_path_for(db_path), ignore_errors=True)
