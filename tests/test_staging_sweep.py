"""Staging files of killed loads are removed by the next load or `onepane compact`, never while
their load still runs (its `.owner` flock proves it is alive; a kill -9 releases it)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import ROOT, cli_env

WRITER = """
import sys, time
import polars as pl
from metrics.lake import Load
from metrics.store import Store
load = Load(Store(sys.argv[1]), "raw_events", collector="t", source="t")
load.write(pl.DataFrame({"event_id": ["e%d" % i for i in range(1000)], "kind": ["deploy"] * 1000}),
           scope="s")
print(load.staging, flush=True)
time.sleep(600)
"""


def _start(db):
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], cwd=ROOT, env=cli_env(),
                         stdout=subprocess.PIPE, text=True)
    return p, p.stdout.readline().strip()


def _age(path, seconds=120):
    t = os.stat(path).st_mtime - seconds      # relative to the file system's clock, as the sweep is
    os.utime(path, (t, t))


def test_compact_and_the_next_load_remove_only_dead_staging(store, run_cli):
    from pathlib import Path

    import polars as pl

    from metrics.lake import Load

    alive, alive_dir = _start(store.db_path)
    dead, dead_dir = _start(store.db_path)
    try:
        assert Path(alive_dir).is_dir() and Path(dead_dir).is_dir()
        assert any(Path(dead_dir).rglob("*.parquet"))
        os.kill(dead.pid, signal.SIGKILL)
        dead.wait(10)
        for d in (alive_dir, dead_dir):
            _age(d)
        r = run_cli("compact", "--db", store.db_path, check=True)
        assert "removed 1 staging folder(s)" in r.stdout
        assert not Path(dead_dir).exists() and Path(alive_dir).is_dir()   # the live one stays
        # the live load still commits its rows
        assert store.query("SELECT count(*) AS n FROM raw_events")["n"][0] == 0
    finally:
        os.kill(alive.pid, signal.SIGKILL)
        alive.wait(10)
    _age(alive_dir)
    with Load(store, "raw_events", collector="t", source="next") as load:   # the next load sweeps
        load.write(pl.DataFrame({"event_id": ["x"], "kind": ["deploy"]}), scope="n")
    assert not Path(alive_dir).exists()
    assert not any((store.lake / "_staging").iterdir())
    assert store.query("SELECT count(*) AS n FROM raw_events")["n"][0] == 1


CRASH = """
import os, sys
from datetime import datetime, timezone
import polars as pl
import metrics.lake as lake
from metrics.store import Store
lake.write_record = lambda store, rec: os._exit(9)     # dies after moving its files, before its record
load = lake.Load(Store(sys.argv[1]), "raw_events", collector="t", source="crash")
load.write(pl.DataFrame({"event_id": [sys.argv[2]], "kind": ["deploy"],
                         "occurred_at": [datetime(2026, int(sys.argv[3]), 5, tzinfo=timezone.utc)]}), scope="s")
print(load.load_id, flush=True)
load.commit()
"""


def test_files_of_a_crash_between_publish_steps_are_dropped_by_compact_once_old(store, run_cli):
    """A load killed after its files moved into the partition but before its run-log record: the
    files are invisible, and `onepane compact` drops them once they are older than any running load
    could be (an hour by the file system's clock), never a younger one."""
    from datetime import datetime, timezone

    import polars as pl

    from metrics.lake import Load

    with Load(store, "raw_events", collector="t", source="ok") as load:
        load.write(pl.DataFrame({"event_id": ["ok"], "kind": ["deploy"],
                                 "occurred_at": [datetime(2026, 1, 6, tzinfo=timezone.utc)]}), scope="s")
    with Load(store, "raw_events", collector="t", source="ok") as load:      # alone in its partition
        load.write(pl.DataFrame({"event_id": ["ok-alone"], "kind": ["deploy"],
                                 "occurred_at": [datetime(2026, 3, 6, tzinfo=timezone.utc)]}), scope="s")
    ids = []
    for name, month in (("orphan-old", 1), ("orphan-new", 1), ("orphan-alone", 2)):
        p = subprocess.run([sys.executable, "-c", CRASH, str(store.db_path), name, str(month)], cwd=ROOT,
                           env=cli_env(), capture_output=True, text=True, timeout=120)
        assert p.returncode == 9, p.stderr
        ids.append(p.stdout.strip())
    lake = store.lake / "raw_events"

    def files(load_id):
        return [f for f in lake.glob("month=*/*.parquet") if load_id in f.name]
    assert all(len(files(i)) == 1 for i in ids)                 # published, but no record
    visible = sorted(store.query("SELECT list(event_id) AS e FROM raw_events")["e"][0].to_list())
    assert visible == ["ok", "ok-alone"]
    alone = next(lake.glob("month=2026-03/*.parquet"))
    for f in (files(ids[0])[0], files(ids[2])[0], alone):
        _age(f, seconds=2 * 3600)
    run_cli("compact", "--db", store.db_path, check=True)
    assert not files(ids[0]) and not files(ids[2])              # the old orphans are gone, also a lone one
    assert files(ids[1])                                        # a young one may be a load in flight
    assert [f.name for f in lake.glob("month=2026-03/*.parquet")] == ["c" + alone.name]   # checked once
    visible = sorted(store.query("SELECT list(event_id) AS e FROM raw_events")["e"][0].to_list())
    assert visible == ["ok", "ok-alone"]
