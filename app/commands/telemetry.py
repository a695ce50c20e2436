"""Technical-health commands: ingest openmetrics/requests, collect prometheus, telemetry summary."""
from __future__ import annotations

import logging
import sys

import click

from app.common import TIME, emit, format_option, store_options

log = logging.getLogger(__name__)


def register(cli: click.Group, ingest: click.Group) -> None:
    ingest.add_command(ingest_openmetrics)
    ingest.add_command(ingest_requests)
    cli.add_command(telemetry)
    _add_url_to_collect(cli.commands["collect"])


def _add_url_to_collect(collect: click.Command) -> None:
    """`onepane collect prometheus --url URL [--from T] [--to T]`: an ad-hoc Prometheus source.

    Without --url, `collect` runs the configured sources as before (`collect prometheus` = every
    source of type prometheus)."""
    have = {p.name for p in collect.params}
    collect.params.append(click.Option(
        ["--url"], default=None,
        help="Prometheus base URL: pull the default queries from it (`onepane collect prometheus --url URL`)."))
    collect.params.append(click.Option(["--step"], default=None, help="With --url: query step (default 60s)."))
    if "service" not in have:
        collect.params.append(click.Option(["--service"], default=None, help="With --url: the service queried."))
    plain = collect.callback

    def callback(url=None, step=None, **kwargs):
        if url is None:
            if step:
                raise click.UsageError("--step needs --url")
            return plain(**kwargs)
        names = kwargs.get("names") or ()
        if names and set(names) != {"prometheus"}:
            raise click.UsageError("--url only works with `onepane collect prometheus`")
        from app.common import progress
        from collectors.prometheus import collect_url
        from collectors.runner import publish_services
        from metrics.config import load_settings
        from metrics.store import Store

        config = load_settings(kwargs.get("config_path"))
        store = Store(kwargs.get("db") or config.store.path).ensure()
        publish_services(store, config)
        with progress(desc="prometheus", unit="req") as bar:
            r = collect_url(store, config, url, service=kwargs.get("service"), step=step,
                            start=kwargs.get("start"), end=kwargs.get("end"), progress=bar)
        if r.ok:
            click.echo(f"{r.source} (prometheus): {r.rows} rows, ok")
        else:
            click.echo(f"{r.source} (prometheus): {r.rows} rows, FAILED: {r.error}", err=True)
            sys.exit(1)

    collect.callback = callback


@click.command("openmetrics")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--service", default=None, help="Service of series that carry no `service` label.")
@click.option("--model-version", default=None,
              help="Model version of model-server series without a model label (TGI); default 'default'.")
@click.option("--at", "at", type=TIME, default=None,
              help="Scrape time for samples without a timestamp (default: the file's modification time). "
                   "The same file at another time is another observation.")
@store_options
def ingest_openmetrics(files, service, model_version, at, store, config) -> None:
    """Load OpenMetrics / Prometheus text files into raw_telemetry. vLLM, Triton, TorchServe and TGI
    metric names become onepane's canonical series (collectors/server_metrics.py)."""
    from collectors.openmetrics import ingest_openmetrics as run

    for f in files:
        r = run(store, f, config, service=service, default_time=at.timestamp() if at else None,
                model_version=model_version)
        if r["skipped"]:
            click.echo(f"{f}: already loaded (load {r['load_id']}), nothing to do")
        else:
            click.echo(f"{f}: {r['rows']} samples loaded (load {r['load_id']}; "
                       f"{r['dcgm_blank_values']} DCGM blank values as NULL, "
                       f"{r['exemplars_dropped']} exemplars dropped, {r['non_finite_values']} NaN/Inf "
                       f"values as NULL, {r['duplicate_samples']} duplicate samples (later line wins))")


@click.command("requests")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--service", default=None, help="Service of rows without a service column.")
@store_options
def ingest_requests(files, service, store, config) -> None:
    """Load request logs (CSV or Parquet, one row per request) into raw_requests."""
    from collectors.requests import ingest_requests as run

    for f in files:
        r = run(store, f, config, service=service)
        if r["skipped"]:
            click.echo(f"{f}: already loaded (load {r['load_id']}), nothing to do")
        else:
            click.echo(f"{f}: {r['rows']} requests loaded (load {r['load_id']})")


@click.group()
def telemetry() -> None:
    """Technical health: requests, errors, latency, GPU time and its cost per model version."""


@telemetry.command("summary")
@click.option("--service", required=True, help="Service name.")
@click.option("--from", "start", type=TIME, default=None, help="Start (inclusive); default: all stored data.")
@click.option("--to", "end", type=TIME, default=None, help="End (exclusive); default: all stored data.")
@format_option("table", "json")
@store_options
def summary(service, start, end, fmt, store, config) -> None:
    """Per model version: requests, error rate, latency p50/p95, GPU-seconds (per request), energy
    per request, fallback rate and cost; for the service the idle (paid, unused) GPU time."""
    from metrics.telemetry import summary_rows, telemetry_summary

    s = telemetry_summary(store, config, service, start, end)
    if not s["versions"] and s["idle_gpu_seconds"] is None:
        click.echo(f"no telemetry for service {service!r} in this window", err=True)
    if fmt == "json":
        emit(s, "json")
    else:
        emit(summary_rows(s), "table")
