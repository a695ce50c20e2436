"""The app's governance data: the evidence pack (metrics.governance.evaluate), cached like every
other analysis in app/data.py (keyed by store, data version and config), taking primitives only."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from app import data


def judged_at(end: date) -> datetime:
    """The instant the controls are judged at: the end of the window shown (its first day not shown)."""
    return datetime.combine(end, time(0), tzinfo=timezone.utc)


def report(end: date, as_of: str | None = None, services: tuple[str, ...] = ()):
    """The governance report dict, or data.Unavailable with the reason. Services of the sidebar
    filter that onepane.toml does not declare (seen only in data) are left out."""
    if services:
        known = tuple(s for s in services if data.settings().service(s))
        if not known:
            return data.Unavailable(f"none of {', '.join(services)} is declared in onepane.toml")
        services = known
    return data._call("metrics.governance.evaluate", at=judged_at(end), as_of=as_of,
                      services=list(services) or None)


def inventoried() -> bool:
    """True when onepane.toml gives at least one service a [services.governance] entry."""
    return any(s.governance for s in data.settings().services)
