"""What every CLI command shares: the --db/--config/--format/--as-of options, output and errors."""
from __future__ import annotations

import csv
import functools
import io
import json
import logging
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

import click

from metrics.config import Settings, load_settings
from metrics.errors import OnepaneError
from metrics.store import Store
from metrics.times import parse_duration, parse_time

log = logging.getLogger("onepane")


class TimeParam(click.ParamType):
    """ISO 8601 (with Z or an offset) or unix seconds -> aware UTC datetime."""
    name = "TIME"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, datetime):
            return value
        try:
            return parse_time(value)
        except OnepaneError as e:
            self.fail(str(e), param, ctx)


class DurationParam(click.ParamType):
    """Ns | Nm | Nh | Nd | Nw (m = minutes) -> timedelta."""
    name = "DURATION"

    def convert(self, value, param, ctx):
        if value is None or not isinstance(value, str):
            return value
        try:
            return parse_duration(value)
        except OnepaneError as e:
            self.fail(str(e), param, ctx)


TIME = TimeParam()
DURATION = DurationParam()


def store_options(f: Callable) -> Callable:
    """--db and --config on a command that touches a store. Passes `store` and `config`."""
    @click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
                  help="DuckDB store file (default: [store] path in onepane.toml, else ./onepane.duckdb). "
                       "Its Parquet files live in <name>.lake/ beside it.")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                  envvar="ONEPANE_CONFIG", help="onepane.toml to use (default: $ONEPANE_CONFIG, else ./onepane.toml).")
    @functools.wraps(f)
    def wrapper(*args, db=None, config_path=None, **kwargs):
        config = load_settings(config_path)
        store = Store(db or config.store.path).ensure()
        if kwargs.get("as_of") is not None:          # an --as-of answer says what retention took since
            from metrics.housekeeping import as_of_notes

            for note in as_of_notes(store, kwargs["as_of"]):
                click.echo(f"note: {note}", err=True)
        if config.storage.engine != "duckdb":          # [storage] engine: where page queries run
            from metrics.engines.layer import attach
            attach(store, config)
        return f(*args, store=store, config=config, **kwargs)
    return wrapper


def config_option(f: Callable) -> Callable:
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                  envvar="ONEPANE_CONFIG", help="onepane.toml to use.")
    @functools.wraps(f)
    def wrapper(*args, config_path=None, **kwargs):
        return f(*args, config=load_settings(config_path), **kwargs)
    return wrapper


def format_option(*choices: str, default: str = "table"):
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format; with json, stdout holds only the JSON.")


as_of_option = click.option("--as-of", "as_of", type=TIME, default=None,
                            help="Show what the store knew at this time (ISO 8601 or unix seconds).")
from_option = click.option("--from", "start", type=TIME, default=None, help="Start (inclusive), ISO 8601 or unix seconds.")
to_option = click.option("--to", "end", type=TIME, default=None, help="End (exclusive), ISO 8601 or unix seconds.")


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    return v


def to_json(obj: Any) -> str:
    def default(v):
        out = _jsonable(v)
        if out is v:
            raise TypeError(f"not JSON serializable: {type(v).__name__}")
        return out
    return json.dumps(obj, default=default, indent=2)


def emit(data: Any, fmt: str = "table") -> None:
    """Print a polars frame, a list of dicts or a dict as table, json or csv to stdout."""
    import polars as pl

    if fmt == "json":
        if isinstance(data, pl.DataFrame):
            data = data.to_dicts()
        click.echo(to_json(data))
        return
    rows = data.to_dicts() if isinstance(data, pl.DataFrame) else (data if isinstance(data, list) else [data])
    if fmt == "csv":                  # text cells neutralized like the app's downloads
        from app.csv_safe import neutralize

        buf = io.StringIO()
        if rows:
            w = csv.writer(buf)
            w.writerow([neutralize(k) for k in rows[0]])
            for r in rows:
                w.writerow(["" if v is None else neutralize(v) if isinstance(v, str) else _jsonable(v)
                            for v in r.values()])
        click.echo(buf.getvalue(), nl=False)
        return
    if not rows:
        click.echo("(no rows)")
        return
    cols = list(rows[0])
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for x in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(x, widths)))


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, Decimal):
        return f"{v:.6f}"
    return str(_jsonable(v))


def progress(iterable=None, **kwargs):
    """A tqdm progress bar on stderr (never stdout), quiet when stderr is not a terminal."""
    from tqdm import tqdm

    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("disable", None)
    return tqdm(iterable, **kwargs)
