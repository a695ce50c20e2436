"""The Weekly review page's data access: the pack (through metrics.api, like the CLI report) and
the decision form's write. Kept beside app/data.py, with the same cache keys (store path, data
version, primitives). Recording a decision is the app's only write, and it goes through the same
all-or-nothing Parquet Load as `onepane decision add`; the DuckDB file is never written."""
from __future__ import annotations

import logging
from datetime import datetime

import streamlit as st

from app import data
from metrics.times import utcnow

log = logging.getLogger(__name__)


@st.cache_data(ttl=data.TTL, show_spinner=False, max_entries=20)
def _report(db: str, data_version: float, week: str, services: tuple[str, ...],
            as_of: str | None) -> tuple[str, dict]:
    from metrics.api import Onepane
    from metrics.review import build_report

    op = Onepane(data.store(), data.settings(), as_of=as_of or utcnow())
    pack, html = build_report(op, week, list(services) or None, generated_at=utcnow())
    summary = {"week": pack["week"].label, "as_of": op.as_of.isoformat(),
               "agenda": len(pack["company"]["agenda"]), "decisions": len(pack["company"]["decisions"])}
    return html, summary


def report(week: str, services: tuple[str, ...] = (), as_of: str | None = None) -> tuple[str, dict]:
    """(self-contained HTML, summary) of the weekly pack; the same as `onepane report weekly`."""
    return _report(data.db_path(), data.version(), week, tuple(services), as_of)


def weeks(end: datetime | None, n: int = 12) -> list[str]:
    """The last `n` full ISO weeks before `end` (default: the clock), newest first."""
    from metrics.api import iso_week

    w = iso_week(end or utcnow()).previous()
    out = []
    for _ in range(n):
        out.append(w.label)
        w = w.previous()
    return out


def pdf(html: str) -> bytes:
    """The pack printed by headless chromium (a few seconds)."""
    import tempfile
    from pathlib import Path

    from metrics.review.pdf import html_to_pdf

    with tempfile.TemporaryDirectory(prefix="onepane-review-") as d:
        src = Path(d) / "review.html"
        src.write_text(html, encoding="utf-8")
        return html_to_pdf(src, Path(d) / "review.pdf").read_bytes()


def record_decision(**kwargs) -> str:
    """Record one decision (metrics.decisions.add_decision) and drop the cached packs."""
    from metrics.decisions import add_decision

    did = add_decision(data.store(), **kwargs)
    _report.clear()
    return did


def recent_decisions(service: str | None = None, since=None):
    from metrics.decisions import list_decisions

    return list_decisions(data.store(), service=service, since=since)


@st.cache_data(ttl=data.TTL, show_spinner=False, max_entries=50)
def _service_decisions(db: str, data_version: float, service: str, start: datetime, end: datetime,
                       as_of: str | None):
    import polars as pl

    from metrics.decisions import list_decisions

    df = list_decisions(data.store(), service=service, since=start, until=end, as_of=as_of)
    return df.select(
        pl.col("decided_at").alias("occurred_at"), pl.lit("decision").alias("kind"), "service",
        pl.lit(None, pl.Utf8).alias("model_version"),
        (pl.col("kind") + pl.lit(" by ") + pl.col("decided_by").fill_null("unknown") + pl.lit(": ")
         + pl.col("text")).alias("detail"),
        pl.lit("decision").alias("source"), pl.col("decision_id").alias("event_id"),
        (pl.lit("decision: ") + pl.when(pl.col("text").str.len_chars() > 40)
         .then(pl.col("text").str.slice(0, 39) + pl.lit("…")).otherwise(pl.col("text"))).alias("label"))


def service_decisions(service: str, start: datetime, end: datetime, as_of: str | None = None):
    """Decisions recorded on `service` with decided_at in [start, end), shaped like change events
    (occurred_at, kind="decision", service, detail "<kind> by <author>: <text>", label) so every
    chart of the Service page draws them as annotations."""
    return _service_decisions(data.db_path(), data.version(), service, start, end, as_of)
