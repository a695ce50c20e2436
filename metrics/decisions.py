"""Decisions the weekly review records: stored like events, read by the pack and by governance.

A decision is one row of `raw_decisions` published by its own all-or-nothing `Load` (so it is
visible only once committed, and `--as-of` shows what had been decided by then); `stg_decisions`
keeps the latest delivery of each `decision_id`. The id is a hash of (time, service, kind, text,
author), so recording the same decision twice (a re-run script) stores it once.

    onepane decision add --service S --text "..." [--by NAME] [--kind K] [--at T] [--expires T]
    onepane decision list [--service S] [--since T] [--format table|json|csv]
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from metrics.errors import InputError
from metrics.lake import Load
from metrics.store import Store
from metrics.times import parse_time, utcnow

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)

KINDS = ("experiment", "accept-risk", "retire", "rollback", "approve", "review")

COLUMNS = ("decided_at", "service", "kind", "text", "decided_by", "expires_at", "decision_id",
           "attributes", "team", "_load_id")


def decision_id(decided_at: datetime, service: str, kind: str, text: str, by: str | None) -> str:
    """Stable identity: the same decision (time, service, kind, text, author) gets the same id."""
    key = "|".join([decided_at.isoformat(timespec="microseconds"), service, kind, text, by or ""])
    return "d-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _time(value, column: str) -> datetime:
    try:
        return parse_time(value)
    except Exception:  # noqa: BLE001 - any unparsable value is the caller's input error
        raise InputError(f"not a time: {value!r} (ISO 8601 or unix seconds)", column=column) from None


def make_decision(*, service: str, text: str, kind: str, by: str | None = None, at=None,
                  expires=None, attributes: dict | None = None, now: datetime | None = None) -> dict:
    """Validate one decision into a raw_decisions row (no write)."""
    service = (service or "").strip()
    text = (text or "").strip()
    kind = (kind or "").strip().lower()
    if not service:
        raise InputError("a decision needs a service", column="service")
    if not text:
        raise InputError("a decision needs a text saying what was decided", column="text")
    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", column="kind")
    decided_at = _time(at, "decided_at") if at is not None else (now or utcnow())
    expires_at = _time(expires, "expires_at") if expires is not None else None
    if expires_at is not None and kind != "accept-risk":
        raise InputError(f"--expires applies to accept-risk decisions only, not {kind!r}",
                         column="expires_at")
    if expires_at is not None and expires_at <= decided_at:
        raise InputError(f"expires {expires_at.isoformat()} is not after the decision "
                         f"({decided_at.isoformat()})", column="expires_at")
    by = (by or "").strip() or None
    return {"decided_at": decided_at, "service": service, "kind": kind, "text": text,
            "decided_by": by, "expires_at": expires_at,
            "decision_id": decision_id(decided_at, service, kind, text, by),
            "attributes": json.dumps(attributes, sort_keys=True, default=str) if attributes else None}


def add_decision(store: Store, *, service: str, text: str, kind: str, by: str | None = None,
                 at=None, expires=None, attributes: dict | None = None,
                 now: datetime | None = None) -> str:
    """Record one decision (all-or-nothing, one Load) and return its decision_id.

    `at` is when it was decided (default `now`, which defaults to the clock); `expires` is for
    accept-risk decisions only. Raises `InputError` naming the bad field.
    """
    import polars as pl      # here, not at import: the CLI reads KINDS without loading polars

    row = make_decision(service=service, text=text, kind=kind, by=by, at=at, expires=expires,
                        attributes=attributes, now=now)
    schema = {"decided_at": pl.Datetime("us", "UTC"), "service": pl.Utf8, "kind": pl.Utf8,
              "text": pl.Utf8, "decided_by": pl.Utf8, "expires_at": pl.Datetime("us", "UTC"),
              "decision_id": pl.Utf8, "attributes": pl.Utf8}
    with Load(store, "raw_decisions", collector="decision-add", source="review") as load:
        load.write(pl.DataFrame([row], schema=schema), scope=f"decisions/{row['decision_id']}")
    log.info("decision recorded id=%s service=%s kind=%s", row["decision_id"], row["service"],
             row["kind"])
    return row["decision_id"]


def list_decisions(store: Store, *, service: str | None = None, since=None, until=None,
                   kind: str | None = None, as_of=None) -> pl.DataFrame:
    """Decisions with decided_at in [since, until), oldest first, as the store knew them at `as_of`.

    Columns: decided_at, service, kind, text, decided_by, expires_at, decision_id, attributes,
    team (from the configured services), _load_id.
    """
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", column="kind")
    since_t = _time(since, "since") if since is not None else None
    until_t = _time(until, "until") if until is not None else None
    sql = (f"SELECT {', '.join(COLUMNS)} FROM stg_decisions "
           "WHERE ($service IS NULL OR service = $service) AND ($kind IS NULL OR kind = $kind) "
           "AND ($since IS NULL OR decided_at >= $since) AND ($until IS NULL OR decided_at < $until) "
           "ORDER BY decided_at, decision_id")
    return store.query(sql, {"service": service, "kind": kind, "since": since_t, "until": until_t},
                       as_of=as_of)
