"""`onepane ingest billing PATH...`: load cloud and LLM vendor bills into the FOCUS dataset."""
from __future__ import annotations

import sys

import click

from app.common import emit, progress, store_options

BILLING_FORMATS = ["auto", "focus", "aws-cur", "azure", "gcp", "oci", "openai", "anthropic"]


def register(cli: click.Group, ingest: click.Group) -> None:
    @ingest.command("billing")
    @click.argument("paths", nargs=-1, required=True)
    @click.option("--format", "billing_format", type=click.Choice(BILLING_FORMATS), default="auto",
                  show_default=True, help="Export format; auto detects it from the headers.")
    @click.option("--delivery", type=click.Choice(["auto", "complete", "partial"]), default="auto",
                  show_default=True,
                  help="complete: a full-period delivery that replaces earlier rows of its "
                       "(provider, account, month); partial: date-ranged, de-duplicated by row.")
    @click.option("--source", default=None, help="Source name recorded in the run log.")
    @click.option("--output", "fmt", type=click.Choice(["table", "json"]), default="table",
                  show_default=True, help="Result format; with json, stdout holds only the JSON.")
    @store_options
    def ingest_billing_cmd(paths, billing_format, delivery, source, fmt, store, config) -> None:
        """Load billing exports (files, folders or globs) into the store, all-or-nothing per file.

        Re-ingesting a file changes nothing; a bad file is rejected whole with its file, line
        and column, and the command exits 1."""
        from collectors.billing.ingest import expand_paths, ingest_file
        from metrics.errors import OnepaneError

        files = expand_paths(paths)
        results, failed = [], []
        for f in files:          # every file is its own all-or-nothing load; go on after a failure
            try:
                results.append(ingest_file(store, f, billing_format, config, source, delivery,
                                           progress=progress))
            except OnepaneError as e:
                failed.append(str(e))
                click.echo(f"error: {e}", err=True)
        rows = [{"file": r["file"], "format": r["format"], "rows": r["rows"],
                 "status": "already loaded" if r["skipped"] else "loaded",
                 "warnings": "; ".join(w.get("message", w["kind"]) for w in r["warnings"]
                                        if w.get("kind") != "manifest")}
                for r in results]
        emit(rows, fmt)
        if failed:
            sys.exit(1)
