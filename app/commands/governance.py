"""`onepane governance report|controls`: the AI inventory's control coverage as an evidence pack."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from app.common import TIME, as_of_option, emit, format_option, store_options, to_json
from metrics.errors import OnepaneError


def register(cli: click.Group, ingest: click.Group) -> None:
    @cli.group("governance")
    def governance_group() -> None:
        """AI inventory and NIST AI RMF control coverage computed from the store's data."""

    @governance_group.command("report")
    @click.option("--service", "services", multiple=True, help="Only this service (repeatable).")
    @click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
                  help="Write the evidence pack to FILE.html (self-contained) or FILE.json.")
    @click.option("--at", "at", type=TIME, default=None,
                  help="Judge the controls at this time (default: --as-of, else now).")
    @click.option("--strict", is_flag=True, help="Exit 1 when any service has a gap (for CI gates).")
    @as_of_option
    @format_option("table", "json")
    @store_options
    def report_cmd(services, out, at, as_of, fmt, strict, store, config) -> None:
        """Each control per service: status, evidence (numbers, dates, links) and gaps.

        Exits 0 even with gaps unless --strict; the JSON follows docs/governance-report.schema.json."""
        from metrics.governance import evaluate
        from metrics.governance.render import to_html

        report = evaluate(store, config, at=at, as_of=as_of, services=list(services) or None)
        if out:
            p = Path(out)
            if p.suffix.lower() not in (".html", ".htm", ".json"):
                raise OnepaneError(f"{out}: --out must end in .html or .json")
            text = to_json(report) + "\n" if p.suffix.lower() == ".json" else to_html(report)
            p.write_text(text, encoding="utf-8")
            click.echo(f"wrote {p} ({len(report['services'])} services, "
                       f"{sum(len(s['gaps']) for s in report['services'])} gaps)", err=fmt == "json")
        if fmt == "json":
            click.echo(to_json(report))
        elif not out:
            emit([{"service": s["service"], "tier": s["tier"] or "unclassified", "light": s["light"],
                   "control": i["id"], "status": i["status"], "detail": i["detail"]}
                  for s in report["services"] for i in s["controls"]], fmt)
        gaps = {s["service"]: s["gaps"] for s in report["services"] if s["gaps"]}
        if strict and gaps:
            click.echo("governance gaps: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in gaps.items()), err=True)
            sys.exit(1)

    @governance_group.command("controls")
    @format_option("table", "json")
    @store_options
    def controls_cmd(fmt, store, config) -> None:
        """List the control rules (validated as a whole) with their NIST AI RMF mapping."""
        from metrics.governance import load_controls

        emit([{"id": c.id, "function": c.function, "category": c.category, "tiers": ",".join(c.tiers),
               "severity": c.severity, "title": c.title}
              for c in load_controls(config.governance.controls)], fmt)
