"""Change events (deploys, rollbacks, config changes, incidents, ...) from JSONL or CSV -> raw_events.

One event per line (JSONL) or row (CSV) with these fields; any other field is kept, as JSON, in
`attributes`:

    ts | occurred_at | time   any form of collectors.dates (ISO 8601, unix seconds/ms, M/D/YYYY,
                              D.M.YYYY, ...): one reading for the file, from all its values
    kind                      deploy | rollback | config | incident | price_change |
                              experiment_start | experiment_stop | data_backfill
    service, model_version, detail   (model_version and detail may be empty)
    event_id                  optional; otherwise a stable hash of time, kind, service, version
                              and detail, so re-ingesting or overlapping files never duplicate

A `deploy` whose detail is `rollback` is shown as a rollback by `stg_events` (the raw row keeps
what the source said). Events naming a service onepane.toml does not declare are kept (events may
concern shared infrastructure) and reported as warnings. `onepane event add` publishes one event
through the same path.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
from datetime import datetime
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from collectors.dates import Bounds, parse_series
from collectors.registry import collector
from collectors.textfiles import open_text
from collectors.runner import IngestResult, file_hash, source_files
from metrics.config import Settings
from metrics.errors import InputError
from metrics.lake import Load, already_loaded
from metrics.store import Store
from metrics.times import parse_time

log = logging.getLogger(__name__)

KINDS = ("deploy", "rollback", "config", "incident", "price_change", "experiment_start",
         "experiment_stop", "data_backfill")
TIME_NAMES = ("ts", "occurred_at", "time", "timestamp")
CORE = {"kind", "service", "model_version", "detail", "event_id", *TIME_NAMES}
SCHEMA = {"occurred_at": pl.Datetime("us", "UTC"), "kind": pl.Utf8, "service": pl.Utf8,
          "model_version": pl.Utf8, "detail": pl.Utf8, "source": pl.Utf8, "attributes": pl.Utf8,
          "event_id": pl.Utf8}


class EventSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(min_length=1)


@collector("events", settings=EventSettings, table="raw_events",
           help="Change events (deploy, rollback, config, incident, ...) from JSONL/CSV -> raw_events")
def collect_events(settings: EventSettings, ctx) -> None:

    for path in source_files(settings.paths, ctx.config):
        ingest_events(ctx.store, path, config=ctx.config, source=ctx.source, ctx=ctx)


def event_id(occurred_at: datetime, kind: str, service: str | None, model_version: str | None,
             detail: str | None) -> str:
    """Stable identity: the same event described twice gets the same id."""
    key = "|".join([occurred_at.isoformat(timespec="microseconds"), kind, service or "",
                    model_version or "", detail or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def make_event(rec: dict, *, file: str | None = None, line: int | None = None, t=None,
               source: str | None = None) -> dict:
    """Validate one event record (a dict of raw fields) into a raw_events row."""
    tname = next((n for n in TIME_NAMES if rec.get(n) not in (None, "")), None)
    if tname is None:
        raise InputError(f"no time (one of {', '.join(TIME_NAMES)})", file=file, line=line,
                         column="ts")
    try:
        t = t if t is not None else parse_time(rec[tname])
    except Exception:  # noqa: BLE001
        raise InputError(f"not a time: {rec[tname]!r} (unix seconds or ISO 8601)", file=file,
                         line=line, column=tname) from None
    kind = str(rec.get("kind") or "").strip().lower()
    if kind not in KINDS:
        raise InputError(f"unknown kind {rec.get('kind')!r}; use one of {', '.join(KINDS)}",
                         file=file, line=line, column="kind")

    def text(name: str) -> str | None:
        v = rec.get(name)
        return None if v is None or str(v).strip() == "" else str(v).strip()

    service, version, detail = text("service"), text("model_version"), text("detail")
    extra = {k: v for k, v in rec.items() if k not in CORE and v not in (None, "")}
    return {"occurred_at": t, "kind": kind, "service": service, "model_version": version,
            "detail": detail, "source": source,
            "attributes": json.dumps(extra, sort_keys=True, default=str) if extra else None,
            "event_id": text("event_id") or event_id(t, kind, service, version, detail)}


def _records(path: Path):
    """(line, dict) pairs from JSONL or CSV (gzip by magic bytes; UTF-8, or UTF-16/32 with a BOM)."""
    f = str(path)
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        with open_text(path, newline="") as fh:
            reader = csv.DictReader(fh)
            for rec in reader:
                if None in rec:
                    raise InputError(f"ragged row: more fields than the header's {len(reader.fieldnames)}",
                                     file=f, line=reader.line_num)
                if any(v is None for v in rec.values()):
                    raise InputError(f"ragged row: fewer fields than the header's {len(reader.fieldnames)}",
                                     file=f, line=reader.line_num)
                yield reader.line_num, {k.strip().lower(): v for k, v in rec.items()}
        return
    with open_text(path) as fh:
        for i, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as e:
                raise InputError(f"not JSON: {e.msg}", file=f, line=i, column=f"char {e.colno}") from None
            if not isinstance(rec, dict):
                raise InputError("each line must be a JSON object", file=f, line=i)
            yield i, rec


def _parse_times(records: list, file: str, bounds: Bounds) -> list:
    """Every record's time by one reading inferred from all of them (collectors.dates); a record
    without a time gets None (make_event then names it)."""
    names = [next((n for n in TIME_NAMES if rec.get(n) not in (None, "")), None) for _, rec in records]
    values = [None if n is None else str(rec[n]) for n, (_, rec) in zip(names, records)]
    if not records:
        return []
    col = next((n for n in names if n), TIME_NAMES[0])
    parsed, _ = parse_series(pl.Series("t", values, dtype=pl.Utf8), file, col, bounds,
                             lines=[ln for ln, _ in records])
    return parsed.to_list()


def parse_events(path: Path, config: Settings | None = None,
                 source: str | None = None, now=None) -> tuple[pl.DataFrame, list[str]]:
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    known = {s.name for s in (config.services if config else [])}
    rows: dict[str, dict] = {}
    unknown: dict[str, int] = {}
    try:
        records = list(_records(path))
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason}); save it as UTF-8 (or UTF-16 with a BOM)",
                         file=str(path)) from None
    except (csv.Error, OSError, EOFError) as e:
        raise InputError(f"cannot read: {str(e)[:200]}", file=str(path)) from None
    times = _parse_times(records, str(path), Bounds.from_config(config, now))
    for (line, rec), t in zip(records, times):
        ev = make_event(rec, file=str(path), line=line, t=t, source=source or path.name)
        if known and ev["service"] and ev["service"] not in known:
            unknown.setdefault(ev["service"], line)
        rows.setdefault(ev["event_id"], ev)            # the same event twice is one event
    warnings = [f"line {ln}: service {s!r} is not declared in onepane.toml (event kept)"
                for s, ln in unknown.items()]
    return pl.DataFrame(list(rows.values()), schema=SCHEMA), warnings


def ingest_events(store: Store, path, config: Settings | None = None,
                  source: str | None = None, *, ctx=None, now=None) -> IngestResult:
    """Load one events file all-or-nothing; identical content already loaded is skipped.
    `ctx` (a collectors.runner.RunContext) is given when a configured source runs it."""
    path = Path(path)
    res = IngestResult(str(path))
    if not path.exists():
        raise InputError("file not found", file=str(path))
    digest = file_hash(path)
    prior = already_loaded(store, "raw_events", digest)
    if prior:
        res.skipped, res.load_id = True, prior
        return res
    load = (ctx.load(source_file=str(path), content_hash=digest) if ctx is not None else
            Load(store, "raw_events", collector="events", source=source or "ingest",
                 source_file=str(path), content_hash=digest))
    with load:      # a bad file is recorded as a failed load in the run log
        frame, res.warnings = parse_events(path, config, source, now)
        for w in res.warnings:
            log.warning("events file=%s %s", path.name, w)
        res.rows = load.write(frame, scope=f"events/{path.name}")
        if res.warnings:
            load.details = {"warnings": res.warnings}
        res.load_id = load.load_id
    if load.status == "duplicate":             # the same content was committed meanwhile
        res.rows, res.skipped, res.load_id = 0, True, load.duplicate_of
    return res


def add_event(store: Store, *, kind: str, service: str | None, model_version: str | None = None,
              detail: str | None = None, at=None, attributes: dict | None = None,
              config: Settings | None = None) -> dict:
    """Publish one event (e.g. from a deploy script); returns the stored row."""
    rec = {"ts": at if at is not None else "now", "kind": kind, "service": service,
           "model_version": model_version, "detail": detail, **(attributes or {})}
    ev = make_event(rec, source="cli")
    known = {s.name for s in (config.services if config else [])}
    if known and service and service not in known:
        log.warning("event for undeclared service=%s (kept)", service)
    with Load(store, "raw_events", collector="event-add", source="cli") as load:
        load.write(pl.DataFrame([ev], schema=SCHEMA), scope=f"events/cli/{ev['event_id']}")
    return ev
