"""`onepane what-changed`, `onepane check` and `onepane cost-anomalies`: analysis commands."""
from __future__ import annotations

import sys
from datetime import timedelta, timezone

import click

from app.common import DURATION, TIME, emit, format_option, store_options
from metrics.times import utcnow


def register(cli: click.Group, ingest: click.Group) -> None:
    cli.add_command(what_changed_cmd)
    cli.add_command(check_cmd)
    cli.add_command(cost_anomalies_cmd)


@click.command("what-changed")
@click.option("--service", default=None, help="Service to explain (default: every service, ranked together).")
@click.option("--at", "at", type=TIME, default="now", show_default=True,
              help="End of the window to explain (ISO 8601 or unix seconds).")
@click.option("--window", type=DURATION, default="1h", show_default=True,
              help="Compare [at − window, at) with the window before it.")
@click.option("--baseline", type=click.Choice(["1d", "1w"]), default=None,
              help="Also show each signal's value the same time a day or week earlier.")
@click.option("--as-of", "as_of", type=TIME, default=None, help="Use what the store knew at this time.")
@format_option("table", "json")
@store_options
def what_changed_cmd(service, at, window, baseline, as_of, fmt, store, config) -> None:
    """Rank what changed before --at across events, technical, model, business, cost and data
    layers (causes before symptoms), for --service or, without it, across every service."""
    from metrics.analysis.what_changed import what_changed
    from metrics.times import parse_duration

    items = what_changed(store, service, at, window,
                         parse_duration(baseline) if baseline else None, config, as_of=as_of)
    if fmt == "json":
        emit(items, "json")
    else:
        cols = ("rank", "layer", "kind", "subject", "score", "summary")
        if service is None:
            cols = ("rank", "service") + cols[1:]
        emit([{k: it[k] for k in cols} for it in items], "table")


@click.command("check")
@click.option("--at", "at", type=TIME, default=None, help="Evaluate as if now were this time.")
@click.option("--no-notify", is_flag=True, help="Evaluate and print only; send nothing, keep no state.")
@format_option("table", "json")
@store_options
def check_cmd(at, no_notify, fmt, store, config) -> None:
    """Evaluate every alert rule (SLO burn rates, budgets, cost deltas and anomalies, data freshness),
    notify Slack/webhook/email about new and resolved alerts, and exit 1 when something fires."""
    from metrics.alerts import run_check

    result = run_check(store, config, at=at or utcnow(), notify=not no_notify)
    if fmt == "json":
        emit({"firing": result.firing, "resolved": result.resolved, "sent": result.sent}, "json")
    else:
        if result.firing:
            emit([{k: a[k] for k in ("rule", "severity", "subject", "summary")} for a in result.firing],
                 "table")
        else:
            click.echo("nothing fires")
        for a in result.resolved:
            click.echo(f"resolved: {a['rule']} {a['subject']}")
    if result.firing:
        sys.exit(1)


@click.command("cost-anomalies")
@click.option("--from", "start", type=TIME, default=None, help="First day (default: 30 days before --to).")
@click.option("--to", "end", type=TIME, default=None,
              help="End, exclusive (default: 00:00 UTC of the day after --at).")
@click.option("--at", "at", type=TIME, default=None, help="Treat this instant as now (default: the clock).")
@click.option("--sensitivity", type=float, default=4.0, show_default=True,
              help="Robust z threshold: lower finds more.")
@format_option("table", "json")
@store_options
def cost_anomalies_cmd(start, end, at, sensitivity, fmt, store, config) -> None:
    """Daily cost anomalies per service, team and SKU with root cause and severity in money."""
    from metrics.analysis.anomalies import cost_anomalies

    now = at or utcnow()
    end = end or (now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
                  + timedelta(days=1))
    start = start or end - timedelta(days=30)
    rows = cost_anomalies(store, start, end, sensitivity=sensitivity)
    if fmt == "json":
        emit(rows, "json")
    else:
        emit([{"day": r["day"], "level": r["level"], "key": r["key"], "cost": r["cost"],
               "expected": r["expected"], "severity": r["severity"], "currency": r["currency"],
               "root_cause": (f"{r['root_cause']['dimension']}={r['root_cause']['value']}"
                              if r["root_cause"] else "")} for r in rows], "table")
