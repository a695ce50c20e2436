"""`[retention]` applied by `onepane compact`: whole partitions older than the table's retention
(by the data's own time) are dropped, newer ones kept, and the expiry is in the run log."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, cli_env

PAGE = str(Path(__file__).resolve().parents[1] / "app" / "pages" / "data_health.py")


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
    # nothing older than the end of the newest dropped day is left
    assert out[0]["expired_before"] == max(
        datetime(t.year, t.month, t.day, tzinfo=timezone.utc) + timedelta(days=1)
        for t in days if t not in expected_kept)
    assert apply_retention(store, {"telemetry": "400d"}, now=now) == []      # idempotent


def test_compact_applies_retention_from_config_and_as_of_states_it(run_cli, tmp_path, monkeypatch):
    """As-of aware: the expiry is a load in the run log; an answer as of before it still gives every
    row still on disk as the store knew it then, and states (stderr, Data health) what it lacks."""
    (tmp_path / "onepane.toml").write_text('[retention]\nevents = "30d"\n')
    ev = tmp_path / "e.jsonl"
    ev.write_text('{"ts": "2026-01-05T10:00:00Z", "kind": "deploy", "service": "s"}\n'
                  '{"ts": "2026-11-19T10:00:00Z", "kind": "deploy", "service": "s"}\n')
    clock = {"ONEPANE_NOW": "2026-11-20T12:00:00Z"}      # 30 days keep the second event only
    run_cli("ingest", "events", ev, env=clock, check=True)
    from metrics.housekeeping import as_of_notes, list_loads
    from metrics.store import Store

    store = Store(tmp_path / "onepane.duckdb")
    before = list_loads(store)["finished_at"].max()
    r = run_cli("compact", env=clock, check=True)
    assert "retention: raw_events dropped 1 partition(s), 1 rows" in r.stdout
    assert store.query("SELECT count(*) AS n FROM raw_events")["n"][0] == 1
    # as of before the expiry: the row still on disk answers as it did; the expired one is stated.
    # raw_events is partitioned by month: 2026-01 ended 2026-02-01, before the cutoff 2026-10-21 12:00
    out = run_cli("sql", "select count(*) as n from raw_events", "--format", "csv", "--as-of",
                  before.isoformat(), check=True)
    assert int(out.stdout.split()[1]) == 1
    assert out.stderr.startswith("note: raw_events rows before 2026-02-01 00:00Z (1 rows, retention "
                                 "30d) were expired at ") and "this answer lacks them" in out.stderr
    expiry = list_loads(store).filter(pl.col("collector") == "retention").row(0, named=True)
    assert expiry["status"] == "ok" and expiry["target_table"] == "raw_events"
    assert as_of_notes(store, expiry["finished_at"]) == [] and as_of_notes(store, None) == []

    # Data health lists the expiry, and warns on a page as of before it
    monkeypatch.setenv("ONEPANE_DB", str(tmp_path / "onepane.duckdb"))
    monkeypatch.setenv("ONEPANE_CONFIG", str(tmp_path / "onepane.toml"))
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params["as_of"] = before.isoformat()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("raw_events before 2026-02-01 00:00Z (1 rows" in w.value for w in at.warning)
    frames = [d.value for d in at.dataframe if "expired_before" in d.value.columns]
    assert frames and frames[0]["expired_rows"].tolist() == [1]

    bad = tmp_path / "bad.toml"
    bad.write_text('[retention]\nnope = "30d"\n')
    r = run_cli("compact", "--config", bad)
    assert r.returncode == 1 and "[retention] nope: no such table" in r.stderr


CRASH = """
import os, sys, types
from datetime import datetime, timezone
import metrics.housekeeping as hk
import metrics.lake as lake
from metrics.store import Store

def die(*a, **k):
    os._exit(9)

point = sys.argv[2]
if point == "at-record":          # dies writing the run-log record (any code that writes it)
    lake.write_record = die
elif point == "after-record":     # the record is published, nothing removed yet
    hk._free = die
elif point == "after-move":       # partitions moved aside, not yet deleted
    hk.shutil = types.SimpleNamespace(rmtree=die)
hk.apply_retention(Store(sys.argv[1]), {"telemetry": "400d"},
                   now=datetime(2026, 11, 20, 12, tzinfo=timezone.utc))
"""


@pytest.mark.parametrize("point", ["at-record", "after-record", "after-move"])
def test_a_crash_inside_an_expiry_never_leaves_it_unrecorded_nor_recorded_twice(store, point):
    """A real process running the expiry is killed (os._exit) at each step: whatever is gone from
    disk is covered by a committed expiry record, and the next run completes the work with exactly
    one record in all."""
    from metrics.housekeeping import apply_retention
    from metrics.lake import Load

    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    days = [now - timedelta(days=d) for d in (500, 450, 401, 399, 10)]    # 3 days end before the cutoff
    for i, t in enumerate(days):
        with Load(store, "raw_telemetry", collector="t", source="t") as load:
            load.write(pl.DataFrame({"sampled_at": [t] * 2, "metric": ["m"] * 2, "labels": ["{}"] * 2,
                                     "labels_hash": ["a", "b"], "value": [1.0, 2.0]}), scope=f"s{i}")
    lake = store.lake / "raw_telemetry"
    old_dirs = [lake / f"day={t:%Y-%m-%d}" for t in days[:3]]
    assert all(d.is_dir() for d in old_dirs)

    def records():
        return store.query("SELECT load_id, details FROM _onepane_loads WHERE collector = 'retention'")

    p = subprocess.run([sys.executable, "-c", CRASH, str(store.db_path), point], cwd=ROOT, env=cli_env(),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 9, p.stderr
    on_disk = [d for d in old_dirs if any(d.glob("*.parquet"))]
    if point == "at-record":
        assert records().height == 0 and on_disk == old_dirs     # not recorded: nothing removed
        assert store.query("SELECT count(*) AS n FROM raw_telemetry")["n"][0] == 10
    else:
        assert records().height == 1                              # recorded before anything went
        listed = json.loads(records()["details"][0])["files"]
        assert len(listed) == 3 and all(f.split("/")[0] in {d.name for d in old_dirs} for f in listed)
        assert on_disk == (old_dirs if point == "after-record" else [])

    out = apply_retention(store, {"telemetry": "400d"}, now=now)            # the next compact
    assert len(out) == (1 if point == "at-record" else 0)
    rec = records()
    assert rec.height == 1 and json.loads(rec["details"][0])["rows"] == 6
    assert not any(d.exists() for d in old_dirs)
    assert not list((store.lake / "_staging").glob("expired-*"))
    kept = store.query("SELECT count(*) AS n, min(sampled_at) AS t FROM raw_telemetry").row(0)
    assert kept == (4, days[3])
    assert apply_retention(store, {"telemetry": "400d"}, now=now) == [] and records().height == 1


def test_finishing_an_expiry_keeps_files_loaded_later_into_its_partition(store):
    """After a crash between record and removal, a load lands in an expired day: finishing the
    expiry removes only the files its record lists; the newcomer is expired by a record of its own."""
    from metrics.housekeeping import apply_retention
    from metrics.lake import Load

    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    old = now - timedelta(days=500)

    def load(value):
        with Load(store, "raw_telemetry", collector="t", source="t") as ld:
            ld.write(pl.DataFrame({"sampled_at": [old], "metric": ["m"], "labels": ["{}"],
                                   "labels_hash": [str(value)], "value": [value]}), scope=str(value))
    load(1.0)
    p = subprocess.run([sys.executable, "-c", CRASH, str(store.db_path), "after-record"], cwd=ROOT,
                       env=cli_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 9, p.stderr
    load(2.0)
    assert store.query("SELECT sum(value) AS v FROM raw_telemetry")["v"][0] == 3.0
    out = apply_retention(store, {"telemetry": "400d"}, now=now)
    assert [r["rows"] for r in out] == [1]                   # the newcomer, in a second record
    rec = store.query("SELECT details FROM _onepane_loads WHERE collector = 'retention' ORDER BY load_id")
    assert [json.loads(d)["rows"] for d in rec["details"]] == [1, 1]
    assert store.query("SELECT count(*) AS n FROM raw_telemetry")["n"][0] == 0
