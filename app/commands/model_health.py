"""Model-health commands: `onepane ingest evidently` and `onepane drift compare`.

`onepane collect drift [--service S] [--window 1d]` is the generic `collect` (app/cli.py) selecting
the sources of type drift. Evidently is imported only inside the command bodies that run reports.
"""
from __future__ import annotations

import click

from app.common import DURATION, TIME, emit, format_option, store_options


def register(cli: click.Group, ingest: click.Group) -> None:
    @ingest.command("evidently")
    @click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @click.option("--service", default=None, help="Service the reports belong to (else the snapshot's metadata).")
    @click.option("--model-version", default=None, help="Model version (else metadata model_version/model_id).")
    @click.option("--at", "at", type=TIME, default=None, help="Time of the report when the JSON has none.")
    @click.option("--window", default="1d", show_default=True, type=DURATION,
                  help="Window the report stands for, starting at its time floored to the window.")
    @click.option("--prediction-column", default=None, help="Column whose drift is prediction drift.")
    @store_options
    def ingest_evidently_cmd(files, service, model_version, at, window, prediction_column, store, config):
        """Load Evidently report JSON (0.7 Snapshot.dict()/save_json, 0.7 snapshot, legacy 0.4 JSON)."""
        from collectors.evidently import ingest_evidently

        for r in ingest_evidently(store, files, service=service, model_version=model_version, at=at,
                                  window=f"{int(window.total_seconds())}s",
                                  prediction_column=prediction_column, config=config):
            state = "already loaded, skipped" if r["skipped"] else f"{r['rows']} rows ({r['shape']})"
            click.echo(f"{r['file']}: {state}")

    @cli.group("drift")
    def drift_group() -> None:
        """Ad-hoc drift checks with Evidently."""

    @drift_group.command("compare")
    @click.option("--reference", required=True, help="Reference data: Parquet/CSV file, folder or glob.")
    @click.option("--current", required=True, help="Current data: Parquet/CSV file, folder or glob.")
    @click.option("--columns", default=None, help="Comma-separated columns (default: all shared columns).")
    @click.option("--sample-size", default=5000, show_default=True, help="Rows per side (seeded sample).")
    @click.option("--seed", default=0, show_default=True)
    @click.option("--method", default=None, help="Evidently stat test for every column (e.g. psi, ks).")
    @click.option("--threshold", type=float, default=None, help="Drift threshold for every column.")
    @click.option("--html", "html", type=click.Path(dir_okay=False), default=None, help="Also save the HTML report here.")
    @format_option("table", "json")
    def drift_compare(reference, current, columns, sample_size, seed, method, threshold, html, fmt):
        """Compare two Parquet/CSV files: per-column drift and the share of drifted columns."""
        from collectors.evidently import compare_files

        out = compare_files(reference, current, columns=columns.split(",") if columns else None,
                            sample_size=sample_size, seed=seed, method=method, threshold=threshold,
                            html=html)
        if fmt == "json":
            emit(out, "json")
        else:
            emit(out["columns"], "table")
            click.echo(f"drift share: {out['drift_share']}  (sample: {out['sample']})")
