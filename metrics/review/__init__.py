"""The weekly review: the pack as data (pack.py), sentences (sentences.py), HTML (render.py),
PDF (pdf.py) and the digest (send.py). `build_report` is what the CLI, the app and tests call."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from metrics.api import Onepane
from metrics.times import utcnow


def build_report(op: Onepane, week=None, services: list[str] | None = None,
                 generated_at: datetime | None = None) -> tuple[dict, str]:
    """(pack, html) for one week; `generated_at` (default: the clock) is the HTML's only
    time-dependent byte, and nothing else reads the clock."""
    from metrics.review.pack import build_pack
    from metrics.review.render import render_html

    pack = build_pack(op, week, services)
    return pack, render_html(pack, generated_at or utcnow())


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write via a temp file and os.replace, so a reader never sees half a report."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, path)
    return path
