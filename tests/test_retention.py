"""`[retention]` applied by `onepane compact`: whole partitions older than the table's retention
(by the data's own time) are dropped, newer ones kept, and the expiry is in the run log."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl


def test_retention_drops_old_partitions_and_records_it(store):
    from metrics.housekeeping import apply_retention
    from metrics.lake import Load

    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    days = [now - timedelta(days=d) for d in (500, 450, 401, 399, 10, 0)]
    for i, t in enumerate(days):
        with Load(store, "raw_telemetry", collector="t", source="t") as load:
            load.write(pl.DataFrame({"sampled_at": [t] * 3, "metric": ["m"] * 3,
                                     "labels": ["{}"] * 3, "labels_hash": [f"h{k}" for k in range(3)],
                                     "value": [1.0, 2.0, 3.0]}), scope=f"s{i}")
    cutoff = now - timedelta(days=400)                       # 2025-10-16 12:00
    # by hand: a day partition is dropped when it ended (next midnight) at or before the cutoff
    expected_kept = [t for t in days if datetime(t.year, t.month, t.day, tzinfo=timezone.utc)
                     + timedelta(days=1) > cutoff]
    out = apply_retention(store, {"telemetry": "400d"}, now=now)
    assert out[0]["rows"] == 3 * (len(days) - len(expected_kept)) and len(out[0]["partitions"]) == 3
    kept = store.query("SELECT count(*) AS n, min(sampled_at) AS t FROM raw_telemetry").row(0)
    assert kept[0] == 3 * len(expected_kept) and kept[1] == min(expected_kept)
    rec = store.query("SELECT collector, details FROM _onepane_loads WHERE collector = 'retention'")
    assert rec.height == 1 and '"retention": "400d"' in rec["details"][0]
    assert apply_retention(store, {"telemetry": "400d"}, now=now) == []      # idempotent


def test_compact_applies_retention_from_config(run_cli, tmp_path):
    (tmp_path / "onepane.toml").write_text('[retention]\nevents = "30d"\n')
    ev = tmp_path / "e.jsonl"
    ev.write_text('{"ts": "2026-01-05T10:00:00Z", "kind": "deploy", "service": "s"}\n'
                  '{"ts": "2026-11-19T10:00:00Z", "kind": "deploy", "service": "s"}\n')
    clock = {"ONEPANE_NOW": "2026-11-20T12:00:00Z"}      # 30 days keep the second event only
    run_cli("ingest", "events", ev, env=clock, check=True)
    r = run_cli("compact", env=clock, check=True)
    assert "retention: raw_events dropped 1 partition(s), 1 rows" in r.stdout
    left = run_cli("sql", "select count(*) as n from raw_events", "--format", "csv", check=True)
    assert left.stdout.split()[1] == "1"
    bad = tmp_path / "bad.toml"
    bad.write_text('[retention]\nnope = "30d"\n')
    r = run_cli("compact", "--config", bad)
    assert r.returncode == 1 and "[retention] nope: no such table" in r.stderr
