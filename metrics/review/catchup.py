"""`onepane report weekly --send` as a scheduled job: never twice, a missed week caught up once.

Every delivery attempt of a digest is a row of `raw_digest_log` (week, route, channel, sent|failed),
written by its own all-or-nothing Load right after the attempt. A run:

1. takes the digest's run lock (a second run while one is going is refused: StoreBusy);
2. picks the weeks: with `--week`, that week; else every week after the newest week in the log up
   to the last full week before now (at most CATCH_UP_WEEKS; the first run ever sends just the last
   full week), plus an older week of the window whose delivery to some channel failed;
3. sends each week, oldest first, to the channels that have not had it (for a retried week: only
   the channels that failed), so no channel gets a week twice; `--resend` ignores the log.

The newest week's pack goes to `--out` (`--pdf`); an older week's to `<out stem>-<week><suffix>`.
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import polars as pl

from metrics.api import Onepane, Week, iso_week
from metrics.config import Settings
from metrics.errors import DeliveryError
from metrics.lake import Load
from metrics.locks import run_lock
from metrics.review.send import channel_keys, routes, send_digest
from metrics.store import Store

log = logging.getLogger(__name__)

CATCH_UP_WEEKS = 4          # a longer outage sends the last 4 weeks, not a flood

SCHEMA = {"week": pl.Utf8, "route": pl.Utf8, "channel": pl.Utf8, "status": pl.Utf8,
          "attempted_at": pl.Datetime("us", "UTC"), "detail": pl.Utf8}


def log_state(store: Store) -> dict[tuple[str, str, str], str]:
    """The latest status (sent | failed) of each (week, route, channel) the digest was tried on."""
    df = store.query("SELECT week, route, channel, status FROM raw_digest_log QUALIFY row_number() OVER "
                     "(PARTITION BY week, route, channel ORDER BY attempted_at DESC, _loaded_at DESC) = 1")
    return {(w, r, c): s for w, r, c, s in df.iter_rows()}


def record(store: Store, week: str, route: str, channel: str, status: str, at: datetime,
           detail: str | None = None) -> None:
    row = {"week": week, "route": route, "channel": channel, "status": status, "attempted_at": at,
           "detail": detail}
    with Load(store, "raw_digest_log", collector="digest", source="onepane report weekly --send") as load:
        load.write(pl.DataFrame([row], schema=SCHEMA), scope=f"digest/{week}")


def plan(state: dict[tuple[str, str, str], str], last_full: Week, explicit: Week | None = None) -> list[Week]:
    """The weeks this run sends, oldest first (see the module's docstring)."""
    if explicit is not None:
        return [explicit]
    if not state:
        return [last_full]
    newest = max(w for w, _, _ in state)
    failed = {w for (w, _, _), s in state.items() if s == "failed"}
    out, w = [], last_full
    for _ in range(CATCH_UP_WEEKS):
        if w.label > newest or w.label in failed:
            out.append(w)
        w = w.previous()
    return out[::-1]


def pending(state: dict, week: Week, keys: list[tuple[str, str]], newest_before: str | None,
            resend: bool = False) -> set[tuple[str, str]]:
    """The (route, channel) pairs that still need `week`: not yet sent; for a week at or before
    the newest week of the log (a retry), only the pairs whose last attempt failed."""
    if resend:
        return set(keys)
    if newest_before is not None and week.label <= newest_before:
        return {k for k in keys if state.get((week.label, *k)) == "failed"}
    return {k for k in keys if state.get((week.label, *k)) != "sent"}


def out_path(out: str | Path, week: Week, newest: bool) -> Path:
    out = Path(out)
    return out if newest else out.with_name(f"{out.stem}-{week.label}{out.suffix}")


def send_weekly(op: Onepane, config: Settings, store: Store, *, week: str | None, services: list[str] | None,
                out: str | Path, pdf: str | Path | None, now: datetime, resend: bool = False) -> list[str]:
    """Build and send the digest(s) this run owes; returns the lines to print. Raises StoreBusy
    when another run holds the lock; DeliveryError (after every week and channel was tried, each
    attempt recorded) naming each refused week, route and channel, with the lines that went out."""
    from metrics.review import build_report, write_atomic

    lines, failures = [], []
    with run_lock(store, "digest"):
        state = log_state(store)
        # a named week goes to every channel that has not had it; a catch-up retries old weeks only where they failed
        newest_before = None if week else max((w for w, _, _ in state), default=None)
        weeks = plan(state, op.week(), iso_week(week) if week else None)
        for i, w in enumerate(weeks):
            pack, html = build_report(op, w.label, services, generated_at=now)
            keys = [k for r in routes(config, pack) for k in channel_keys(r)]
            todo = pending(state, w, keys, newest_before, resend)
            path = write_atomic(out_path(out, w, i == len(weeks) - 1), html)
            lines.append(f"weekly review {w.label} -> {path}")
            if pdf and i == len(weeks) - 1:
                from metrics.review.pdf import html_to_pdf

                html_to_pdf(path, pdf)
                lines.append(f"pdf -> {pdf}")
            if not todo:
                lines.append(f"weekly review {w.label} was already sent on every channel")
                continue
            try:
                lines += send_digest(pack, path, config, store, only=todo,
                                     record=lambda r, c, s, d, w=w: record(store, w.label, r, c, s, now, d))
            except DeliveryError as e:
                lines += e.delivered
                failures += [(f"{w.label} {r}", c, d) for r, c, d in e.failures]
        if not weeks:
            lines.append("nothing to send: the last full week was already sent")
    if failures:
        raise DeliveryError(failures, lines)
    return lines
