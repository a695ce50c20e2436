"""Partial answers from Prometheus: ranges a run could not fetch, kept for the next run.

Prometheus answers `"status": "success"` with `warnings` when part of the data could not be read:
a remote-read endpoint that is down (Prometheus' own fan-out turns its error into a warning), a
Thanos/Mimir store that timed out. The points of such an answer may be missing or - for
`last_over_time` windows - different from the complete answer, so the collector keeps none of them:
the range (one request's [start, end], both ends inclusive) is recorded in the load's watermark as
`gaps` and in the run log's details as `not_fetched`, and every later run asks for it again until it
comes back without warnings or falls out of `backfill_limit` (then it is logged as not back-filled).

PromQL's own notes about a query (`PromQL info: ...`, `PromQL warning: ...`, e.g. a `rate()` over a
metric not named like a counter) say nothing about missing data and would repeat on every run; they
are kept in the run log's details, and the points are stored.
"""
from __future__ import annotations

from datetime import datetime, timedelta

QUERY_NOTES = ("PromQL info:", "PromQL warning:")
MAX_WARNINGS = 5            # distinct warning texts kept in a load's details


def data_lost(warnings: list[str]) -> list[str]:
    """The warnings that mean the answer may lack points."""
    return [w for w in warnings if not w.startswith(QUERY_NOTES)]


def merge(ranges: list[tuple[datetime, datetime]], step_s: int) -> list[list[str]]:
    """Sorted, with overlapping or adjacent ranges (the next starts one step after) joined, as
    ISO strings for the watermark."""
    out: list[list[datetime]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + timedelta(seconds=step_s):
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [[a.isoformat(), b.isoformat()] for a, b in out]


def due(gaps: list[list[str]], floor: datetime) -> tuple[list[tuple[datetime, datetime]], list[list[str]]]:
    """Which recorded gaps to fetch again: those (or their parts) at or after `floor` (now minus
    backfill_limit); the rest is returned as given up."""
    fetch, dropped = [], []
    for a_iso, b_iso in gaps:
        a, b = datetime.fromisoformat(a_iso), datetime.fromisoformat(b_iso)
        if b < floor:
            dropped.append([a_iso, b_iso])
            continue
        if a < floor:
            dropped.append([a_iso, floor.isoformat()])
            a = floor
        fetch.append((a, b))
    return fetch, dropped
