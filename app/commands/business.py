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

    @cli.command("unit-economics")
    @click.option("--service", default=None, help="Only this service.")
    @from_option
    @to_option
    @as_of_option
    @click.option("--team", "by_team", is_flag=True, help="One row per team × day × currency instead.")
    @click.option("--tokens", "by_tokens", is_flag=True,
                  help="Cost per 1k tokens (vendor-billed and self-hosted) per service × day instead.")
    @format_option("table", "json", "csv")
    @store_options
    def unit_economics_cmd(service, start, end, as_of, by_team, by_tokens, fmt, store, config) -> None:
        """Cost per prediction, per funnel action and per improved action, per service × version × day.

        Empty cells mean undefined (no traffic, no conversions, negative lift), never 0."""
        from metrics.ledger import team_economics, token_economics, unit_economics

        if by_tokens:
            emit(token_economics(store, config, service, start, end, as_of), fmt)
        elif by_team:
            emit(team_economics(store, config, start, end, as_of), fmt)
        else:
            df = unit_economics(store, config, service, start, end, as_of)
            if fmt == "table":      # the terminal gets the headline columns; json/csv get all
                df = df.select("service", "model_version", "day", "currency", "cost", "predictions",
                               "cost_per_prediction", "funnel_actions", "improved_actions",
                               "cost_per_improved_action", "note")
            emit(df, fmt)

    @cli.command("marginal-cost")
    @click.option("--service", required=True)
    @click.option("--a", "a", default=None, help="Version A (default: the service's baseline_version).")
    @click.option("--b", "b", default=None, help="Version B (default: the other version with most traffic).")
    @click.option("--confidence", default=0.95, show_default=True, type=float)
    @from_option
    @to_option
    @as_of_option
    @format_option("table", "json")
    @store_options
    def marginal_cost_cmd(service, a, b, confidence, start, end, as_of, fmt, store, config) -> None:
        """Marginal infrastructure cost per basis point of KPI lift of B over A, with its interval."""
        from metrics.ledger import marginal_cost_per_bp

        res = marginal_cost_per_bp(store, config, service, a, b, start, end, as_of, confidence)
        if fmt == "json":
            emit(res, "json")
            return
        click.echo(f"{service}: {res['b']} vs {res['a']} ({res['kpi']} per {res['denominator']})")
        w = res["window"]
        click.echo(f"  window {w['start'] or '-'} .. {w['end'] or '-'} ({w['basis']})")
        click.echo(f"  lift {res['lift_bp']:.2f} bp (CI {res['lift_ci_bp'][0]:.2f} .. "
                   f"{res['lift_ci_bp'][1]:.2f}, {res['method']})")
        click.echo(f"  daily cost difference {res['delta_daily_cost']:.6g} {res['currency'] or ''}")
        click.echo(f"  marginal cost: {res['display']}")

    @cli.command("what-if")
    @click.option("--service", required=True)
    @click.option("--kpi-drop", "kpi_drop", default="0%", help="The model's lift falls by this much, e.g. 10%.")
    @click.option("--price-change", "price_change", default="0%", help="Vendor prices change, e.g. +20%.")
    @click.option("--traffic", default="0%", help="Traffic changes, e.g. +50%.")
    @from_option
    @to_option
    @as_of_option
    @format_option("table", "json")
    @store_options
    def what_if_cmd(service, kpi_drop, price_change, traffic, start, end, as_of, fmt, store, config) -> None:
        """Unit economics of an average day if the model underperforms, prices or traffic change."""
        from metrics.ledger import what_if

        res = what_if(store, config, service, _percent(kpi_drop), _percent(price_change),
                      _percent(traffic), start, end, as_of)
        if fmt == "json":
            emit(res, "json")
            return
        rows = [{"figure": k, "today": res["today"][k], "scenario": res["scenario"][k]}
                for k in res["today"]]
        click.echo(f"{service}: average day over {res['days']} day(s), {res['currency'] or ''}; "
                   f"cost split: {res['cost_split']}")
        emit(rows, "table")

    @cli.command("allocation")
    @from_option
    @to_option
    @as_of_option
    @click.option("--audit", "audit_only", is_flag=True,
                  help="Only list days whose buckets do not add up to the bill (exit 1 if any).")
    @format_option("table", "json", "csv")
    @store_options
    def allocation_cmd(start, end, as_of, audit_only, fmt, store, config) -> None:
        """Cost per service with idle GPU and shared cost as their own lines; nothing dropped."""
        import sys

        from metrics.analysis.allocation import allocate, audit

        if audit_only:
            bad = audit(store, config, as_of)
            emit(bad, fmt)
            if bad.height:
                sys.exit(1)
            return
        emit(allocate(store, config, start, end, as_of), fmt)
