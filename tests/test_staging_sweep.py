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
