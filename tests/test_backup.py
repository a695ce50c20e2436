"""`onepane backup DEST` while a writer keeps committing loads: the copy is consistent (every
load visible in it has all its rows), and `onepane restore` brings it back as a working store."""
from __future__ import annotations

import subprocess
import sys
import time

from tests.conftest import ROOT, cli_env

ROWS = 500
WRITER = f"""
import sys, time
import polars as pl
from metrics.lake import Load
from metrics.store import Store
store = Store(sys.argv[1])
i = 0
while True:
    with Load(store, "raw_events", collector="w", source="w") as load:
        load.write(pl.DataFrame({{"event_id": ["%d-%d" % (i, k) for k in range({ROWS})],
                                 "kind": ["deploy"] * {ROWS}}}), scope="s%d" % i)
    i += 1
    print(i, flush=True)
    time.sleep(0.05)
"""


def test_backup_while_writing_is_consistent_and_restores(store, run_cli, tmp_path):
    from metrics.store import Store

    w = subprocess.Popen([sys.executable, "-c", WRITER, str(store.db_path)], cwd=ROOT, env=cli_env(),
                         stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(3):                        # a few loads before the backup starts
            w.stdout.readline()
        before = int(store.query("SELECT count(*) AS n FROM _onepane_visible_loads")["n"][0])
        r = run_cli("backup", tmp_path / "bk", "--db", store.db_path, check=True)
        assert "backed up" in r.stdout
        line = w.stdout.readline()                # the writer kept going meanwhile
        assert line.strip()
    finally:
        w.kill()
        w.wait(10)
    copy = Store(tmp_path / "bk" / store.db_path.name)
    per_load = copy.query("SELECT _load_id, count(*) AS n FROM raw_events GROUP BY 1")
    visible = copy.query("SELECT load_id FROM _onepane_visible_loads WHERE collector = 'w'")
    assert visible.height >= before
    assert sorted(per_load["_load_id"].to_list()) == sorted(visible["load_id"].to_list())
    assert set(per_load["n"].to_list()) == {ROWS}                      # no load half-copied
    # restore into a new place, and it answers the same
    r = run_cli("restore", tmp_path / "bk", "--db", tmp_path / "restored" / "r.duckdb", check=True)
    back = Store(tmp_path / "restored" / "r.duckdb")
    assert back.query("SELECT count(*) AS n FROM raw_events")["n"][0] == ROWS * visible.height
    again = run_cli("restore", tmp_path / "bk", "--db", tmp_path / "restored" / "r.duckdb")
    assert again.returncode == 1 and "--force" in again.stderr
