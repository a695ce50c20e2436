"""Data health's late-arrival rule: only rows arriving after their source was already being
collected count as late; a source's first backfill never does."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import polars as pl

from metrics import queries
from metrics.lake import Load


def _events(rows):
    return pl.DataFrame([{"occurred_at": t, "kind": "config", "service": "s", "detail": d,
                          "event_id": d, "source": "feed"} for t, d in rows])


def test_backfill_is_not_late_but_data_arriving_late_afterwards_is(store):
    old = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with Load(store, "raw_events", collector="events", source="feed") as first:   # the backfill
        first.write(_events([(old + timedelta(days=i), f"b{i}") for i in range(5)]), scope="a")
    started = first.started_at
    assert queries.freshness(store, "1s")["late_rows"].to_list() == [0]
    time.sleep(2.2)
    with Load(store, "raw_events", collector="events", source="feed") as second:
        second.write(_events([(started + timedelta(milliseconds=100), "late"),      # collected then, 2 s late
                              (old - timedelta(days=1), "older history"),           # still a backfill
                              (second.started_at - timedelta(milliseconds=10), "on time")]), scope="b")
    df = queries.freshness(store, "1s")
    assert df["rows"].to_list() == [8] and df["late_rows"].to_list() == [1]
    # another source's first delivery of old data is its own backfill: not late either
    with Load(store, "raw_events", collector="events", source="other-feed") as third:
        third.write(_events([(started + timedelta(milliseconds=100), "other")]), scope="c")
    assert queries.freshness(store, "1s")["late_rows"].to_list() == [1]
