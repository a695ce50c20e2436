"""Business commands: KPIs and change events in; unit economics and what-if out.

    onepane ingest kpis FILE...         business KPI counts (CSV/Parquet) -> raw_kpis
    onepane ingest events FILE...       change events (JSONL/CSV) -> raw_events
    onepane event add --kind deploy --service S --version V [--detail D] [--at T]
    onepane unit-economics [--service S] [--from D] [--to D] [--as-of T] [--format ...]
    onepane marginal-cost --service S [--a V] [--b V] [--from D] [--to D] [--as-of T]
    onepane what-if --service S --kpi-drop 10% [--price-change +20%] [--traffic +50%]
    onepane allocation [--from D] [--to D] [--as-of T] [--format ...]
"""
from __future__ import annotations

import click

from app.common import TIME, as_of_option, emit, format_option, from_option, store_options, to_option


def _percent(text: str) -> float:
    """'10%', '+20%', '-5%', '0.1' -> a fraction (0.10, 0.20, -0.05, 0.1)."""
    s = str(text).strip()
    try:
        return float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise click.BadParameter(f"not a percentage: {text!r} (e.g. 10% or +20%)") from None


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


def register(cli: click.Group, ingest: click.Group) -> None:
    @ingest.command("kpis")
    @click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @store_options
    def ingest_kpis_cmd(files, store, config) -> None:
        """Business KPIs (CSV/Parquet: time, service, model_version or variant, kpi, value)."""
        from collectors.kpi import ingest_kpis

        for f in files:
            r = ingest_kpis(store, f, config=config)
            _warn(r.warnings)
            click.echo(f"{f}: " + ("already loaded (unchanged), nothing to do" if r.skipped
                                   else f"{r.rows} KPI values loaded (load {r.load_id})"))

    @ingest.command("events")
    @click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @store_options
    def ingest_events_cmd(files, store, config) -> None:
        """Change events (JSONL/CSV: ts, kind, service, model_version, detail, extra fields)."""
        from collectors.events import ingest_events

        for f in files:
            r = ingest_events(store, f, config=config)
            _warn(r.warnings)
            click.echo(f"{f}: " + ("already loaded (unchanged), nothing to do" if r.skipped
                                   else f"{r.rows} events loaded (load {r.load_id})"))

    @cli.group("event")
    def event_group() -> None:
        """Record change events (for deploy scripts)."""

    @event_group.command("add")
    @click.option("--kind", required=True, help="deploy | rollback | config | incident | price_change | "
                  "experiment_start | experiment_stop | data_backfill")
    @click.option("--service", required=True)
    @click.option("--version", "model_version", default=None, help="Model version deployed.")
    @click.option("--detail", default=None, help="Free text; a deploy with detail 'rollback' is a rollback.")
    @click.option("--at", "at", type=TIME, default=None, help="When (default now), ISO 8601 or unix seconds.")
    @click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="Extra attribute (repeatable).")
    @store_options
    def event_add(kind, service, model_version, detail, at, attrs, store, config) -> None:
        """Publish one change event."""
        from collectors.events import add_event

        extra = {}
        for a in attrs:
            if "=" not in a:
                raise click.BadParameter(f"{a!r} is not KEY=VALUE", param_hint="--attr")
            k, v = a.split("=", 1)
            extra[k.strip()] = v
        ev = add_event(store, kind=kind, service=service, model_version=model_version,
                       detail=detail, at=at, attributes=extra, config=config)
        click.echo(f"event {ev['event_id']} {ev['kind']} {service} {model_version or ''} "
                   f"at {ev['occurred_at'].isoformat()}")
