"""The weekly review pack.

    onepane report weekly [--week 2026-W48] [--service S ...] [--out review.html] [--pdf review.pdf]
                          [--as-of T] [--send]
"""
from __future__ import annotations

import time

import click

from app.common import TIME, store_options


def register(cli: click.Group, ingest: click.Group) -> None:
    @cli.group("report")
    def report_group() -> None:
        """Reports built from the store (the weekly review pack)."""

    @report_group.command("weekly")
    @click.option("--week", default=None, help="ISO week, e.g. 2026-W48 (default: the last full "
                  "week before --as-of).")
    @click.option("--service", "services", multiple=True, help="Only these services (repeatable).")
    @click.option("--out", "out", type=click.Path(dir_okay=False), default="review.html",
                  show_default=True, help="The self-contained HTML file.")
    @click.option("--pdf", "pdf", type=click.Path(dir_okay=False), default=None,
                  help="Also print it to this PDF (Debian's headless chromium).")
    @click.option("--as-of", "as_of", type=TIME, default=None,
                  help="Build from what the store knew at this time (default: now, stated in the "
                       "pack); the same --as-of gives the same pack.")
    @click.option("--send", is_flag=True, help="Also send the digest through the configured alert "
                  "channels, routed to each service's team; never twice to a channel, and without "
                  "--week a missed week is caught up once.")
    @click.option("--resend", is_flag=True, help="With --send: send even to channels that already had it.")
    @store_options
    def weekly(week, services, out, pdf, as_of, send, resend, store, config) -> None:
        """One self-contained HTML pack per week: unit economics, what moved, budgets, SLOs, model
        health, freshness, anomalies, decisions and the agenda, per service and for the company."""
        from metrics.api import Onepane
        from metrics.review import build_report, write_atomic
        from metrics.times import utcnow

        now = utcnow()                          # the one clock read: pins as_of and the stamp
        op = Onepane(store, config, as_of=as_of or now)
        if send:
            from metrics.errors import DeliveryError
            from metrics.review.catchup import send_weekly

            try:
                lines = send_weekly(op, config, store, week=week, services=list(services) or None,
                                    out=out, pdf=pdf, now=now, resend=resend)
            except DeliveryError as e:      # what went out is printed, then the one-line error
                for line in e.delivered:
                    click.echo(line)
                raise
            for line in lines:
                click.echo(line)
            return
        t0 = time.perf_counter()
        pack, html = build_report(op, week, list(services) or None, generated_at=now)
        write_atomic(out, html)
        click.echo(f"weekly review {pack['week'].label} (as of {op.as_of.isoformat()}) -> {out} "
                   f"in {time.perf_counter() - t0:.1f} s")
        if pdf:
            from metrics.review.pdf import html_to_pdf

            html_to_pdf(out, pdf)
            click.echo(f"pdf -> {pdf}")

    @cli.command("exporter")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", default=9464, show_default=True, type=int, help="Port of /metrics.")
    @click.option("--ttl", default=30.0, show_default=True, type=float,
                  help="Seconds a computed scrape is reused (a committed load refreshes it at once).")
    @click.option("--at", "at", type=TIME, default=None,
                  help="Evaluate as if at this time instead of the clock at each scrape (replays).")
    @click.option("--as-of", "as_of", type=TIME, default=None, help="Serve what the store knew at this time.")
    @store_options
    def exporter_cmd(host, port, ttl, at, as_of, store, config) -> None:
        """Serve onepane's derived gauges on http://HOST:PORT/metrics (Prometheus text format)."""
        from metrics.api import Onepane
        from metrics.exporter import Exporter, serve
        from metrics.times import utcnow

        op = Onepane(store, config, as_of=as_of)
        server = serve(Exporter(op, ttl=ttl, clock=(lambda: at) if at else utcnow), host, port)
        click.echo(f"serving http://{host}:{server.server_address[1]}/metrics", err=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
