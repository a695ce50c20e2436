"""The app's shared reader (metrics/store.py, "one shared reader per process"): one read-only DuckDB
instance per store per process, a cursor per query, and it never keeps `onepane init` out.

Real processes and real files: a reader process drives `Store(db, shared=True)` as the app does
(tests/shared_reader_worker.py); `onepane init` and plain DuckDB run in other processes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from datetime import datetime
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from metrics import store as store_module
from metrics.lake import Load
from metrics.store import Store, writers_dir

from tests.conftest import ROOT, cli_env


def _cost(amounts: list[str]) -> pl.DataFrame:
    n = len(amounts)
    return pl.DataFrame({"billed_cost": amounts, "billing_currency": ["USD"] * n,
                         "billing_period_start": [datetime(2026, 9, 1)] * n,
                         "charge_period_start": [datetime(2026, 9, 2)] * n})


class Reader:
    """A process holding the store the way the app does; `ask(sql)` runs one query in it."""

    def __init__(self, db):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.shared_reader_worker", str(db)],
                                     cwd=ROOT, env=cli_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def send(self, cmd: str, arg: str = "") -> dict:
        self.proc.stdin.write(json.dumps([cmd, arg]) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def ask(self, sql: str) -> dict:
        return self.send("query", sql)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def reader_of():
    made: list[Reader] = []

    def make(db) -> Reader:
        made.append(Reader(db))
        return made[-1]
    yield make
    for r in made:
        r.close()


def _holds_file(db) -> bool:
    """Whether some process holds `db` open: a plain read-write open from a new process fails."""
    out = subprocess.run([sys.executable, "-c", "import duckdb, sys\n"
                          "try:\n    duckdb.connect(sys.argv[1]).close(); print('free')\n"
                          "except duckdb.Error as e:\n    print('held' if 'lock' in str(e) else repr(e))",
                          str(db)], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() in ("free", "held"), out.stdout + out.stderr
    return out.stdout.strip() == "held"


def _older_store(tmp_path) -> Store:
    """A store with costs 10 + 2.5 whose `focus` view is missing and whose schema fingerprint is an
    older one: what an upgrade's `onepane init` finds (it re-creates the view)."""
    s = Store(tmp_path / "s.duckdb").ensure()
    with Load(s, "raw_focus", collector="t") as load:
        load.write(_cost(["10", "2.5"]), scope="a")
    con = duckdb.connect(str(s.db_path))
    con.execute("DROP VIEW focus")
    con.execute("UPDATE _onepane_meta SET value = 'older' WHERE key = 'fingerprint'")
    con.close()
    return s


@pytest.mark.parametrize("busy", [False, True], ids=["idle_reader", "busy_reader"])
def test_init_completes_while_a_reader_holds_the_store_and_the_reader_sees_new_views(tmp_path, run_cli,
                                                                                       reader_of, busy):
    s = _older_store(tmp_path)
    reader = reader_of(s.db_path)
    assert reader.ask("SELECT count(*) AS n FROM _onepane_loads")["rows"] == [{"n": 1}]
    assert "focus" in reader.ask("SELECT sum(BilledCost) AS t FROM focus")["error"]   # the old schema
    assert _holds_file(s.db_path), "the reader keeps its instance between queries"
    if busy:                       # a page being rendered all along: queries every 50 ms
        reader.send("busy", "SELECT count(*) AS n FROM stg_cost")
    init = run_cli("init", "--db", s.db_path, timeout=120)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "ready" in init.stdout
    if busy:
        done = reader.send("stop")
        assert done["queries"] > 0 and done["errors"] == []
    got = reader.ask("SELECT sum(BilledCost) AS t FROM focus")
    assert got.get("error") is None and Decimal(got["rows"][0]["t"]) == Decimal("12.5")
    assert not writers_dir(s.db_path).exists(), "init removed its announcement"


def test_a_replaced_store_file_is_reopened(tmp_path, reader_of):
    """A store file replaced under the reader (as `onepane restore --force` does: copy + rename)."""
    s = Store(tmp_path / "s.duckdb").ensure()
    reader = reader_of(s.db_path)
    assert reader.ask("SELECT count(*) AS n FROM _onepane_loads")["rows"] == [{"n": 0}]
    copy = tmp_path / "copy.duckdb"
    shutil.copy2(s.db_path, copy)
    con = duckdb.connect(str(copy))
    con.execute("CREATE TABLE restored AS SELECT 42 AS answer")
    con.close()
    os.replace(copy, s.db_path)
    assert reader.ask("SELECT answer FROM restored")["rows"] == [{"answer": 42}]


def test_migrate_in_the_readers_own_process(tmp_path):
    s = Store(tmp_path / "s.duckdb").ensure()
    with Load(s, "raw_focus", collector="t") as load:
        load.write(_cost(["3"]), scope="a")
    app = Store(s.db_path, shared=True)
    assert app.rows("SELECT sum(BilledCost) AS t FROM focus") == [{"t": Decimal("3")}]
    assert Store(s.db_path).migrate() == []           # DuckDB would refuse it while the reader held the file
    assert app.rows("SELECT sum(BilledCost) AS t FROM focus") == [{"t": Decimal("3")}]


def test_threads_with_different_as_of_each_get_their_own_answer(tmp_path):
    s = Store(tmp_path / "s.duckdb").ensure()
    amounts = [["1"], ["2", "2"], ["4", "4", "4"]]
    for i, a in enumerate(amounts):
        with Load(s, "raw_focus", collector="t") as load:
            load.write(_cost(a), scope=f"s{i}")
    finished = s.query("SELECT finished_at FROM _onepane_loads ORDER BY finished_at")["finished_at"].to_list()
    expected = {None: (6, Decimal("17"))}
    for k, t in enumerate(finished):       # as of load k's commit: loads 0..k
        rows = [x for a in amounts[:k + 1] for x in a]
        expected[t.isoformat()] = (len(rows), sum(Decimal(x) for x in rows))
    app = Store(s.db_path, shared=True)
    as_ofs = list(expected) * 2                       # 8 threads, two per as-of
    start = threading.Barrier(len(as_ofs))
    wrong: list = []

    def work(as_of):
        start.wait()
        for _ in range(15):
            try:
                got = app.rows("SELECT count(*) AS n, sum(BilledCost) AS t FROM focus", as_of=as_of)[0]
            except Exception as e:     # noqa: BLE001 - an error in a thread is a wrong answer too
                got = {"error": repr(e)}
            if (got.get("n"), got.get("t")) != expected[as_of]:
                wrong.append((as_of, got))

    threads = [threading.Thread(target=work, args=(a,)) for a in as_ofs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert s.db_path in store_module._SHARED, "the queries ran on the shared reader"


@pytest.mark.parametrize("writer_alive", [False, True], ids=["stale_marker", "live_marker"])
def test_only_a_live_writers_marker_sends_readers_to_short_lived_connections(tmp_path, reader_of, writer_alive):
    s = Store(tmp_path / "s.duckdb").ensure()
    writer = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    if not writer_alive:
        writer.communicate()                          # exited: its marker is stale
    writers_dir(s.db_path).mkdir()
    (writers_dir(s.db_path) / f"{writer.pid}.0").touch()
    try:
        reader = reader_of(s.db_path)
        assert reader.ask("SELECT count(*) AS n FROM _onepane_loads")["rows"] == [{"n": 0}]
        assert _holds_file(s.db_path) is not writer_alive
    finally:
        if writer_alive:
            writer.communicate()
