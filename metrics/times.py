"""Parsing of the CLI's times and durations, one place for every command.

Times: ISO 8601 with `Z` or an offset (naive times are UTC), a date, or unix seconds.
Durations: `Ns|Nm|Nh|Nd|Nw` (m = minutes).
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

from metrics.errors import OnepaneError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | timedelta) -> timedelta:
    if isinstance(text, timedelta):
        return text
    m = _DURATION.match(str(text))
    if not m:
        raise OnepaneError(f"not a duration: {text!r} (use Ns, Nm, Nh, Nd or Nw, e.g. 15m or 7d)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse_time(text: str | int | float | datetime) -> datetime:
    """Return an aware UTC datetime."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=timezone.utc)
    if isinstance(text, (int, float)):
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    s = str(text).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return datetime.fromtimestamp(float(s), tz=timezone.utc)
    if s.lower() == "now":
        return utcnow()
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise OnepaneError(
            f"not a time: {text!r} (use ISO 8601 such as 2026-11-24T13:50:00Z, or unix seconds)"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    

def utcnow() -> datetime:
    """The clock every "now" of an analysis reads (default ends of windows, backfill limits, the
    app's time-travel default). `ONEPANE_NOW` (ISO 8601 or unix seconds) pins it for a whole
    process tree, e.g. a served app in a test or a reproducible report; functions that need "now"
    also take it as a `now=` argument. The run log's own timestamps (when a load started and
    committed) always use the real clock: they record when a write happened."""
    pinned = os.environ.get("ONEPANE_NOW")
    if pinned:
        return parse_time(pinned)
    return datetime.now(timezone.utc)
