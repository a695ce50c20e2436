"""Request-log ingest shortcuts (issue 15): rows written one file per UTC day, and ISO time columns
read without the shape inference - both must give what the general path gives."""
from __future__ import annotations

from datetime import datetime, timezone

import polars as pl

import collectors.dates as dates
from collectors.dates import Bounds, parse_series
from collectors.requests import ingest_requests
from metrics.errors import InputError

NOW = datetime(2026, 10, 1, tzinfo=timezone.utc)


def test_iso_column_reads_as_the_inference_would(monkeypatch):
    values = ["2026-09-01 00:00:00+00", "2026-09-01T10:00:00Z", "2026-09-01T10:00:00.5", "2026-09-02",
              "2026-09-01 23:59:59.999999-02:00", None, "2026-09-03T01:02:03+05:30"]
    s = pl.Series("arrived_at", values)
    fast, reading = parse_series(s, "f.csv", "arrived_at", Bounds.at(NOW))
    monkeypatch.setattr(dates, "ISO_START", "^$never")          # force the inference
    slow, slow_reading = parse_series(s, "f.csv", "arrived_at", Bounds.at(NOW))
    assert reading.families == slow_reading.families == ["iso"]
    assert fast.to_list() == slow.to_list()
    assert fast[4] == datetime(2026, 9, 2, 1, 59, 59, 999999, tzinfo=timezone.utc)   # by hand


def test_iso_shaped_but_unreadable_value_is_refused_alike(monkeypatch):
    s = pl.Series("arrived_at", ["2026-09-01T10:00:00", "2026-09-01t10:00:00", "2026-13-01"])
    errors = []
    for rx in (dates.ISO_START, "^$never"):
        monkeypatch.setattr(dates, "ISO_START", rx)
        try:
            parse_series(s, "f.csv", "arrived_at", Bounds.at(NOW))
        except InputError as e:
            errors.append(str(e))
    assert len(errors) == 2 and errors[0] == errors[1] and "line 3" in errors[0]


def test_request_log_over_three_days_lands_in_three_day_partitions(store, tmp_path):
    path = tmp_path / "req.csv"
    rows = [("a", "2026-09-01T23:59:59.999Z"), ("b", "2026-09-02T00:00:00Z"), ("c", "2026-09-03T12:00:00Z"),
            ("d", "2026-09-02T08:00:00+09:00")]          # 2026-09-01 23:00 UTC
    path.write_text("request_id,arrived_at,status,latency_ms\n" + "".join(f"{r},{t},200,5\n" for r, t in rows))
    out = ingest_requests(store, path, service="svc")
    assert out["rows"] == 4
    got = store.query("SELECT request_id, arrived_at FROM raw_requests ORDER BY request_id")
    assert got["arrived_at"].to_list() == [datetime(2026, 9, 1, 23, 59, 59, 999000, tzinfo=timezone.utc),
                                           datetime(2026, 9, 2, tzinfo=timezone.utc),
                                           datetime(2026, 9, 3, 12, tzinfo=timezone.utc),
                                           datetime(2026, 9, 1, 23, tzinfo=timezone.utc)]
    folders = sorted(p.name for p in (store.lake / "raw_requests").iterdir() if p.is_dir())
    assert folders == ["day=2026-09-01", "day=2026-09-02", "day=2026-09-03"]
    per_day = store.query("SELECT strftime(arrived_at, '%Y-%m-%d') d, count(*) n FROM raw_requests "
                          "GROUP BY 1 ORDER BY 1")
    assert per_day["n"].to_list() == [2, 1, 1]
