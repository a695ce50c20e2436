"""Decisions the weekly review records.

    onepane decision add --service S --text "..." [--by NAME] [--kind K] [--at T] [--expires T]
    onepane decision list [--service S] [--since T] [--until T] [--kind K] [--as-of T] [--format table|json|csv]
"""
from __future__ import annotations

import os

import click

from app.common import TIME, as_of_option, emit, format_option, store_options

KIND_HELP = "experiment | accept-risk | retire | rollback | approve | review"


def register(cli: click.Group, ingest: click.Group) -> None:
    from metrics.decisions import KINDS

    @cli.group("decision")
    def decision_group() -> None:
        """Record and list the weekly review's decisions."""

    @decision_group.command("add")
    @click.option("--service", required=True, help="The service the decision is about.")
    @click.option("--text", required=True, help="What was decided, in one sentence.")
    @click.option("--by", "by", default=None, help="Who decided (default: $USER).")
    @click.option("--kind", type=click.Choice(KINDS), default="review", show_default=True,
                  help=KIND_HELP)
    @click.option("--at", "at", type=TIME, default=None, help="When it was decided (default now).")
    @click.option("--expires", "expires", type=TIME, default=None,
                  help="accept-risk only: when the accepted risk must be reviewed again.")
    @store_options
    def decision_add(service, text, by, kind, at, expires, store, config) -> None:
        """Record one decision (stored like an event: all-or-nothing, visible to --as-of)."""
        from metrics.decisions import add_decision

        known = {s.name for s in config.services}
        if known and service not in known:
            click.echo(f"warning: service {service!r} is not declared in onepane.toml (kept)", err=True)
        did = add_decision(store, service=service, text=text, kind=kind,
                           by=by if by is not None else os.environ.get("USER"), at=at, expires=expires)
        click.echo(f"decision {did} {kind} {service}")

    @decision_group.command("list")
    @click.option("--service", default=None, help="Only this service.")
    @click.option("--since", type=TIME, default=None, help="Decided at or after (inclusive).")
    @click.option("--until", type=TIME, default=None, help="Decided before (exclusive).")
    @click.option("--kind", type=click.Choice(KINDS), default=None, help=KIND_HELP)
    @as_of_option
    @format_option("table", "json", "csv")
    @store_options
    def decision_list(service, since, until, kind, as_of, fmt, store, config) -> None:
        """Decisions, oldest first."""
        from metrics.decisions import list_decisions

        df = list_decisions(store, service=service, since=since, until=until, kind=kind, as_of=as_of)
        df = df.drop("_load_id")
        if fmt == "table":
            df = df.select("decided_at", "service", "kind", "decided_by", "text", "expires_at",
                           "decision_id")
        emit(df, fmt)
