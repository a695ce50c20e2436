"""The store: one DuckDB file holding schema and views, plus a lake folder of Parquet files.

Only `onepane init` (`Store.migrate`) writes the DuckDB file. Everything written at run time is
published as immutable Parquet under the lake folder (see metrics.lake), and the views in the DuckDB
file read it. So readers never see lock errors and writers never wait for readers.

    onepane.duckdb          schema templates (_schema_raw_*), views, _onepane_migrations, _onepane_meta
    onepane.lake/<table>/   _schema.parquet and ~schema.parquet (empty, typed) + <partition>/<load_id>-*.parquet

Views embed the lake's absolute path, so plain DuckDB opened from any working directory can query
`focus`; if the store is moved, the next `onepane` command re-creates the views.

Time travel: every raw row carries the `_load_id` that wrote it. A row is visible when its load is
committed (`_onepane_loads`, status ok) at or before the session variable `onepane_as_of` (unset =
now) and not superseded by a later load by then. `Store.connect(as_of=T)` sets the variable.

Reading: a CLI command opens a short-lived read-only connection per query. The app
(`Store(path, shared=True)`) keeps one read-only DuckDB instance per store per process and runs
each query on its own cursor, stepping aside whenever `Store.migrate` announces itself (see
"one shared reader per process" below), so a browser tab never blocks `onepane init`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import uuid
import warnings
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import duckdb

from metrics.errors import OnepaneError, StoreBusy
from metrics.times import parse_time, utcnow

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VIEW_LAYERS = ("staged", "public")          # applied in this order after the generated raw views
AS_OF_VAR = "onepane_as_of"
NOW_VAR = "onepane_now"          # metrics.times.utcnow() at connect: the views' "now" (pinnable)

_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked",
                 "different configuration")     # this process holds the file read-only (or read-write)
_VANISHED_MARKERS = ("No such file", "No files found", "Cannot open file", "could not open file",
                     "IO Error")


def lake_path_for(db_path: str | os.PathLike) -> Path:
    """The Parquet folder that belongs to one DuckDB file: `x.duckdb` -> `x.lake/`."""
    p = Path(db_path).absolute()
    return p.with_name(p.stem + ".lake") if p.suffix else p.with_name(p.name + ".lake")


def _migrations() -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8"))
            for p in sorted(MIGRATIONS_DIR.glob("*.sql"))]


def _view_files() -> list[Path]:
    out: list[Path] = []
    for layer in VIEW_LAYERS:
        out += sorted((SQL_DIR / layer).glob("*.sql"))
    return out


def _sql_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# Tables some writer publishes with only the columns a file has (collectors/billing/ingest.py
# writes FOCUS files without their all-NULL columns): their views always read with union_by_name.
SPARSE_TABLES = frozenset({"raw_focus"})


SCHEMA_LAST = "~schema.parquet"   # the same typed, empty template, named to sort after every partition


def _parquet_source(table: str, lake: Path, union_by_name: bool) -> str:
    """The `read_parquet` of one table's files. `union_by_name` opens every file's footer when the
    query is bound (to unify their columns), so a query over one day of a 100-day table would pay
    for 100 files, and every reference to the table again. Without it DuckDB binds with the first
    file's columns and the scan opens the others as it reaches them; that needs every file to hold
    every column: true of a table whose files were all checked at `Store.migrate`
    (`Store._uniform`) and whose writers fill every column (`Load` does; SPARSE_TABLES are never
    read this way). The glob leaves out `_schema.parquet` and ends with `~schema.parquet`, so the
    first file is a data file (the planner estimates the table's rows from it: an empty first file
    makes it build hash tables on the raw rows) and an empty table still has its typed template."""
    if union_by_name:
        glob = _sql_literal(str(lake / table / "**" / "*.parquet"))
        return f"read_parquet({glob}, union_by_name = true, hive_partitioning = false)"
    glob = _sql_literal(str(lake / table / "**" / "[!_]*.parquet"))
    return f"read_parquet({glob}, hive_partitioning = false)"


def raw_view_sql(table: str, lake: Path, union_by_name: bool = True,
                 days: tuple[str, str] | None = None) -> str:
    """The generated view over one raw table's Parquet files, gated by committed loads.
    The run log is read once per reference (a materialised CTE): visible loads, and the
    (load, scope) pairs they supersede, come from that one scan.

    `days` (first, last: 'YYYY-MM-DD'): a TEMP view shadowing the table's view on one connection
    instead, with the same rows of the day partitions first .. last only (the folder name is the
    table's partition value, the UTC day of its time column). DuckDB prunes the other days' files
    by their folder name before opening any (hive partition filter), so a read of one hour costs
    the same in a store of one day or of a hundred; row-group statistics cannot do that (each
    file's footer is opened to read them). With `union_by_name` the table's typed template is
    read too (no rows; the `day` filter drops it before a scan), so a column a migration added has
    its place, NULL, before any data file holds it, as in the generic view."""
    if days is None:
        head, source, where = f"CREATE OR REPLACE VIEW {table} AS", _parquet_source(table, lake, union_by_name), ""
        cols = "r.*"
    else:
        glob = _sql_literal(str(lake / table / "day=*" / "[!_]*.parquet"))
        head = f"CREATE OR REPLACE TEMP VIEW {table} AS"
        source = f"read_parquet({glob}, hive_partitioning = true, hive_types = {{'day': VARCHAR}})"
        if union_by_name:
            template = _sql_literal(str(lake / table / "_schema.parquet"))
            source = (f"(SELECT * FROM read_parquet({template}, hive_partitioning = false) UNION ALL BY NAME\n"
                      f" SELECT * FROM read_parquet({glob}, union_by_name = true, hive_partitioning = true, "
                      "hive_types = {'day': VARCHAR}))")
        where = f"\nWHERE r.day >= {_sql_literal(days[0])} AND r.day <= {_sql_literal(days[1])}"
        cols = "r.* EXCLUDE (day)"
    return f"""{head}
WITH v AS MATERIALIZED (SELECT load_id, supersedes FROM _onepane_visible_loads)
SELECT {cols} FROM {source} r
SEMI JOIN v ON r._load_id = v.load_id
ANTI JOIN (SELECT x.s.load_id AS load_id, x.s.scope AS scope
           FROM (SELECT unnest(supersedes) AS s FROM v) x) s
    ON r._load_id = s.load_id AND r._scope = s.scope{where}"""


def bookkeeping_sql(lake: Path, union_by_name: bool = True) -> str:
    return f"""
CREATE OR REPLACE VIEW _onepane_loads AS
SELECT * FROM {_parquet_source("_onepane_loads", lake, union_by_name)};
CREATE OR REPLACE VIEW _onepane_visible_loads AS
SELECT * FROM _onepane_loads
WHERE status = 'ok'
  AND finished_at <= coalesce(getvariable('{AS_OF_VAR}')::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ);
"""


class Store:
    """A DuckDB file plus its lake folder. Cheap to construct; `ensure()` migrates when needed."""

    def __init__(self, db_path: str | os.PathLike = "onepane.duckdb", shared: bool = False):
        self.db_path = Path(db_path).absolute()
        self.lake = lake_path_for(self.db_path)
        self.engine = None      # metrics.engines.layer.attach: page/metric queries run on ClickHouse
        self.shared = shared    # connect() hands out cursors of this process's shared reader (the app)

    # ---- schema -------------------------------------------------------------------------
    def _fingerprint(self) -> str:
        h = hashlib.sha256(str(self.lake).encode())
        for name, text in _migrations():
            h.update(name.encode() + text.encode())
        for p in _view_files():
            h.update(p.name.encode() + p.read_bytes())
        for ubn in (True, False):      # the generated views: a change to them re-creates them too
            h.update((raw_view_sql("t", self.lake, ubn) + bookkeeping_sql(self.lake, ubn)).encode())
        return h.hexdigest()[:16]

    def needs_migration(self) -> bool:
        if not self.db_path.exists():
            return True
        try:
            con = self._open(read_only=True)
        except StoreBusy:
            return False   # somebody is migrating right now; they will finish the job
        try:
            got = con.execute("SELECT value FROM _onepane_meta WHERE key = 'fingerprint'").fetchone()
        except duckdb.Error:
            return True
        finally:
            con.close()
        return not got or got[0] != self._fingerprint()

    def ensure(self) -> "Store":
        """Create and migrate a missing or outdated store; a no-op when it is current."""
        if self.needs_migration():
            self.migrate()
        return self

    def migrate(self) -> list[str]:
        """Apply pending migrations, write the typed empty Parquet files, re-create all views.
        Idempotent: a second run applies nothing and leaves one schema."""
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.lake.mkdir(parents=True, exist_ok=True)
        with announce_writer(self.db_path):
            return self._migrate()

    def _migrate(self) -> list[str]:
        con = self._open(read_only=False)
        applied: list[str] = []
        try:
            con.execute("""CREATE TABLE IF NOT EXISTS _onepane_migrations (
                name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())""")
            con.execute("""CREATE TABLE IF NOT EXISTS _onepane_meta (
                key VARCHAR PRIMARY KEY, value VARCHAR)""")
            self._claim_lake(con)
            done = {r[0] for r in con.execute("SELECT name FROM _onepane_migrations").fetchall()}
            for name, text in _migrations():
                if name in done:
                    continue
                con.execute("BEGIN")
                try:
                    con.execute(text)
                    con.execute("INSERT INTO _onepane_migrations (name) VALUES (?)", [name])
                    con.execute("COMMIT")
                except duckdb.Error as e:
                    con.execute("ROLLBACK")
                    raise OnepaneError(f"migration {name} failed: {e}") from e
                applied.append(name)
            self._write_schema_files(con)
            if "0300_dedup_telemetry.sql" in applied and done:     # an older lake: list its duplicates once
                from metrics import lake_dedup
                lake_dedup.backfill(self)
            self._create_views(con)
            con.execute("INSERT OR REPLACE INTO _onepane_meta VALUES ('fingerprint', ?), "
                        "('lake', ?)", [self._fingerprint(), str(self.lake)])
            con.execute("CHECKPOINT")
        finally:
            con.close()
        if applied:
            log.info("migrated db=%s applied=%s", self.db_path, ",".join(applied))
        return applied

    def _claim_lake(self, con: duckdb.DuckDBPyConnection) -> None:
        """Two stores never share a lake: the lake records the id of the store that owns it
        (e.g. `x.duckdb` and `x.db` would both derive `x.lake`; the second is refused)."""
        marker = self.lake / "_onepane_store_id"
        row = con.execute("SELECT value FROM _onepane_meta WHERE key = 'store_id'").fetchone()
        mine = row[0] if row else None
        theirs = marker.read_text(encoding="utf-8").strip() if marker.exists() else None
        if theirs and theirs != mine:
            raise OnepaneError(f"{self.lake} holds the data of another store, not of {self.db_path}; "
                               "pick another --db name (or remove that folder if its store is gone)")
        if not mine:
            mine = uuid.uuid4().hex
            con.execute("INSERT INTO _onepane_meta VALUES ('store_id', ?)", [mine])
        if not theirs:
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(mine + "\n", encoding="utf-8")
            os.replace(tmp, marker)

    def raw_tables(self, con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
        own = con is None
        con = con or self._open(read_only=True)
        try:
            rows = con.execute("SELECT table_name FROM duckdb_tables() "
                               "WHERE table_name LIKE '\\_schema\\_%' ESCAPE '\\' "
                               "ORDER BY table_name").fetchall()
        finally:
            if own:
                con.close()
        return [r[0][len("_schema_"):] for r in rows]

    def _write_schema_files(self, con: duckdb.DuckDBPyConnection) -> None:
        for table in self.raw_tables(con):
            folder = self.lake / table
            folder.mkdir(parents=True, exist_ok=True)
            for name in ("_schema.parquet", SCHEMA_LAST):
                tmp = folder / f".{name}.tmp"
                con.execute(f"COPY (SELECT * FROM _schema_{table}) TO {_sql_literal(str(tmp))} "
                            "(FORMAT parquet)")
                os.replace(tmp, folder / name)

    def _uniform(self, con: duckdb.DuckDBPyConnection, table: str) -> bool:
        """True when every Parquet file of `table` has exactly the schema of its `_schema.parquet`
        (same columns, order and types; a column may be REQUIRED in one file, OPTIONAL in another),
        so its view can read without union_by_name. A lake
        written before a migration that added a column is not: that table keeps union_by_name
        (old files read with NULLs there) until compaction has rewritten its partitions at full
        width and the next migration checks again."""
        folder = self.lake / table
        if table in SPARSE_TABLES or not (folder / SCHEMA_LAST).exists():
            return False
        glob = _sql_literal(str(folder / "**" / "*.parquet"))
        try:
            rows = con.execute(
                "SELECT file_name, name, type, type_length, num_children, converted_type, "
                f"scale, precision, field_id, logical_type FROM parquet_schema({glob})").fetchall()
        except duckdb.Error as e:        # a file vanished under a compaction, or is unreadable
            log.info("union_by_name kept table=%s (%s)", table, e)
            return False
        files: dict[str, list] = {}
        for r in rows:
            files.setdefault(r[0], []).append(r[1:])
        want = files.get(str(folder / "_schema.parquet"))
        odd = [f for f, s in files.items() if s != want]
        if odd:
            log.info("union_by_name kept table=%s files_of_another_schema=%d first=%s", table, len(odd), odd[0])
        return want is not None and not odd

    def _create_views(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(bookkeeping_sql(self.lake, union_by_name=not self._uniform(con, "_onepane_loads")))
        by_name = []
        for table in self.raw_tables(con):
            if table != "_onepane_loads":
                ubn = not self._uniform(con, table)
                con.execute(raw_view_sql(table, self.lake, union_by_name=ubn))
                by_name += [table] * ubn
        # how each raw view reads, for views built at query time (scope_days) without listing views
        con.execute("INSERT OR REPLACE INTO _onepane_meta VALUES ('union_by_name', ?)", [",".join(by_name)])
        # Views may read each other: create in passes until none is left (file order is a hint).
        pending = _view_files()
        while pending:
            failed: list[tuple[Path, Exception]] = []
            for p in pending:
                sql = p.read_text(encoding="utf-8").replace("{lake}", str(self.lake))
                try:
                    con.execute(sql)
                except duckdb.CatalogException as e:
                    failed.append((p, e))
                except duckdb.Error as e:
                    raise OnepaneError(f"view {p.relative_to(SQL_DIR)} failed: {e}") from e
            if len(failed) == len(pending):
                p, e = failed[0]
                raise OnepaneError(f"view {p.relative_to(SQL_DIR)} failed: {e}")
            pending = [p for p, _ in failed]

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, DuckDB type) of a raw table, from its schema template."""
        con = self._open(read_only=True)
        try:
            return [(r[0], r[1]) for r in con.execute(
                f"DESCRIBE _schema_{table}").fetchall()]
        except duckdb.CatalogException:
            raise OnepaneError(f"unknown table {table!r}; known: {', '.join(self.raw_tables())}") from None
        finally:
            con.close()

    # ---- reading ------------------------------------------------------------------------
    def _open(self, read_only: bool, attempts: int = 25) -> duckdb.DuckDBPyConnection:
        last: Exception | None = None
        for attempt in range(attempts):     # 25: ~8 s in all
            try:
                return _session(duckdb.connect(str(self.db_path), read_only=read_only))
            except (duckdb.IOException, duckdb.ConnectionException) as e:
                if not any(m in str(e) for m in _LOCK_MARKERS):
                    raise
                last = e
                if attempt + 1 < attempts:
                    time.sleep(0.025 * (attempt + 1))
        raise StoreBusy(f"{self.db_path} is held by another process (a migration?); "
                        f"retry when it finishes ({last})")

    def connect(self, as_of: datetime | str | None = None) -> duckdb.DuckDBPyConnection:
        """A read-only connection; with `as_of` every view shows what was known at that time.
        On a `shared` store it is a cursor of this process's shared reader (`shared_cursor`) unless
        a writer is announced; either way the caller closes it, and may set session variables and
        TEMP views on it, never global settings (they would hold for every cursor)."""
        con = (shared_cursor(self) if self.shared else None) or self._open(read_only=True)
        set_as_of(con, as_of)
        return con

    def query(self, sql: str, params: list | dict | None = None, as_of=None,
              con: duckdb.DuckDBPyConnection | None = None):
        """Run a read query and return a polars frame; retries once if compaction removed a file."""
        return self._read(lambda c: frame(c, sql, params), as_of, con)

    def rows(self, sql: str, params: list | dict | None = None, as_of=None,
             con: duckdb.DuckDBPyConnection | None = None) -> list[dict]:
        """Like query(), for a handful of rows: a plain fetch as dicts (no data-frame conversion)."""
        def fetch(c):
            cur = c.execute(sql, params or None)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]
        return self._read(fetch, as_of, con)

    def _read(self, fetch, as_of, con: duckdb.DuckDBPyConnection | None):
        own = con is None
        con = con or self.connect(as_of)
        try:
            for attempt in (0, 1):
                try:
                    return fetch(con)
                except duckdb.IOException as e:
                    if attempt or not any(m in str(e) for m in _VANISHED_MARKERS):
                        raise
                    log.debug("retrying query after a file vanished: %s", e)
        finally:
            if own:
                con.close()


# DuckDB's relation API (`con.sql(q).pl()`) binds a query twice, once to describe the relation and
# once to run it, and binding the store's views reads the run log and Parquet footers (~0.012 CPU s
# of a 0.15 s Service page query). `frame` runs the statement once and takes its rows as Arrow; the
# copy DuckDB warns of is of a small result (queries aggregate in SQL).
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning,
                        module=r"metrics\.store")


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None):
    """The rows of one read statement as a polars frame."""
    import polars as pl

    con.execute(sql, params or None)
    return pl.from_arrow(con.to_arrow_table())


def _session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A connection's (or cursor's) session settings: UTC, no progress bar."""
    con.execute("SET TimeZone = 'UTC'")
    try:                         # never print progress into a server's log
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:         # in Jupyter DuckDB refuses the setting without ipywidgets
        pass
    return con


# ---- one shared reader per process ---------------------------------------------------------
# Opening a DuckDB instance and binding the store's views on it costs ~0.04-0.05 CPU s, a third of
# a Service page query; a server keeps one read-only instance per store (the *shared reader*) and
# runs every query on its own cursor (a separate DuckDB connection to that instance: its own
# session variables, so its own as-of, and TEMP views; safe across threads). DuckDB lets no process
# open the file read-write while another holds it, so the shared reader steps aside for writers:
#   - A writer (`Store.migrate`, the only read-write open) announces itself first with a file
#     `<db>.writers/<pid>.<id>`, removed when it is done (`announce_writer`). A marker whose process
#     is dead is stale and ignored (the next writer removes it).
#   - Before each query a reader lists that folder (absent: microseconds); while a live writer is
#     announced it drops the shared reader and uses short-lived connections (which wait out the
#     migration, as every CLI command does). A watcher thread looks every WATCH_S too, so an idle
#     server steps aside as well. Dropping closes nothing under a running query: the instance
#     closes when its last cursor does.
#   - It re-opens when the DuckDB file is not the one it opened (inode, size, mtime_ns), e.g.
#     after a migration, so new views are seen.
#   - A migration in the reader's own process drops that process's reader itself (DuckDB refuses
#     a read-write open of a file that the same process holds read-only).
WATCH_S = 0.1


def writers_dir(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".writers")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # another user's live process
        return True
    return True


def _announced(db_path: Path) -> list[tuple[Path, bool]]:
    """(marker, its writer is alive) for every writer announced for `db_path`."""
    folder = writers_dir(db_path)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [(folder / n, _pid_alive(int(n.split(".")[0]))) for n in names if n.split(".")[0].isdigit()]


def writer_announced(db_path: Path) -> bool:
    """True while a live process has announced that it opens `db_path` read-write."""
    return any(alive for _, alive in _announced(db_path))


class announce_writer:
    """`with announce_writer(db_path):` around a read-write open: shared readers in every process
    step aside until the block ends (this process's own at once)."""

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self.marker = writers_dir(db_path) / f"{os.getpid()}.{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> "announce_writer":
        for marker, alive in _announced(self.db_path):
            if not alive:
                marker.unlink(missing_ok=True)
        for _ in range(10):          # another writer may remove the (empty) folder meanwhile
            self.marker.parent.mkdir(exist_ok=True)
            try:
                self.marker.touch()
                break
            except FileNotFoundError:
                continue
        drop_shared(self.db_path)
        return self

    def __exit__(self, *exc) -> None:
        self.marker.unlink(missing_ok=True)
        try:
            self.marker.parent.rmdir()
        except OSError:              # another writer's marker is still there
            pass


def _file_sig(db_path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(db_path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class _Shared:
    """One read-only instance of a store in this process, and the thread watching for writers."""

    def __init__(self, store: "Store", sig: tuple[int, int, int]):
        self.sig = sig
        self.con: duckdb.DuckDBPyConnection | None = store._open(read_only=True, attempts=1)
        self.stop = threading.Event()
        threading.Thread(target=self._watch, args=(store.db_path,), daemon=True,
                         name=f"onepane-reader-watch {store.db_path.name}").start()

    def _watch(self, db_path: Path) -> None:
        # time.sleep, not Event.wait(timeout): a timed wait on a lock never wakes under libfaketime
        # with the clock moved (CI's `faketime +400d`: the deadline is computed on the faked clock)
        while not self.stop.is_set():
            time.sleep(WATCH_S)
            if self.stop.is_set():
                return
            if writer_announced(db_path):
                drop_shared(db_path, self)


_SHARED: dict[Path, _Shared] = {}
_SHARED_LOCK = threading.Lock()
_INHERITED: list[_Shared] = []     # readers a forked child got from its parent: never touched, never freed


def _forked() -> None:
    """In a forked child the parent's instances are not ours (DuckDB's threads did not come along)."""
    global _SHARED_LOCK
    _SHARED_LOCK = threading.Lock()
    _INHERITED.extend(_SHARED.values())
    _SHARED.clear()


os.register_at_fork(after_in_child=_forked)


def drop_shared(db_path: Path, which: _Shared | None = None) -> None:
    """Forget this process's shared reader of `db_path` (only `which`, when given). Queries running
    on its cursors finish; the instance closes (and lets go of the file) when the last cursor does."""
    with _SHARED_LOCK:
        sh = _SHARED.get(db_path)
        if sh is not None and (which is None or sh is which):
            _retire(db_path)


def _retire(db_path: Path) -> None:
    """Under _SHARED_LOCK: forget the shared reader of `db_path` and stop its watcher."""
    sh = _SHARED.pop(db_path)
    sh.stop.set()
    sh.con = None


def shared_cursor(store: "Store") -> duckdb.DuckDBPyConnection | None:
    """A new cursor of this process's shared reader of `store` (opened, or re-opened after the file
    changed, as needed), or None while a writer is announced or the file cannot be opened now (the
    caller then opens a short-lived connection)."""
    db = store.db_path
    if writer_announced(db):
        drop_shared(db)
        return None
    sig = _file_sig(db)
    if sig is None:
        return None
    with _SHARED_LOCK:
        sh = _SHARED.get(db)
        if sh is not None and sh.sig != sig:                 # migrated (or replaced) since we opened it
            _retire(db)
            sh = None
        if sh is None:
            try:
                sh = _SHARED[db] = _Shared(store, sig)
            except StoreBusy:                                # a writer that did not announce itself
                return None
        return _session(sh.con.cursor())


def _utc_day(t: datetime) -> str:
    """The UTC day of `t` as a day folder names it ('YYYY-MM-DD')."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d")


def scope_days(store: "Store", con: duckdb.DuckDBPyConnection, tables: tuple[str, ...],
               start: datetime, end: datetime) -> list[str]:
    """Shadow the raw views of `tables` on `con` with views of the day partitions of [start, end)
    only (raw_view_sql with `days`); returns the tables shadowed, for `unscope`. A table is left alone unless
    it is partitioned by the UTC day (`strftime(col, '%Y-%m-%d')`) and has a data file in a day
    folder, and some day folder lies outside the window (else the store's view reads no more). The
    caller's query must not read rows outside [start, end) of that table."""
    first, last = _utc_day(start), _utc_day(end - timedelta(microseconds=1))

    def prunes(table: str) -> bool:
        days = [p.name[4:] for p in (store.lake / table).glob("day=*")]
        return (any(not first <= d <= last for d in days)
                and next((store.lake / table).glob("day=*/[!_]*.parquet"), None) is not None)
    tables = [t for t in tables if prunes(t)]
    if not tables:
        return []
    # whether the store's view reads the table with union_by_name: recorded by `Store.migrate`
    # (listing the views instead costs ~10 ms on a fresh connection); unknown: ask the view
    rows = con.execute("SELECT t.table_name, t.partition_expr, m.value FROM _onepane_tables t "
                       "LEFT JOIN _onepane_meta m ON m.key = 'union_by_name' "
                       "WHERE t.partition_name = 'day' AND list_contains(?, t.table_name)", [tables]).fetchall()
    done = []
    for t, expr, by_name in rows:
        if not re.fullmatch(r"strftime\(\w+, '%Y-%m-%d'\)", expr):
            continue
        if by_name is None:
            view = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ? AND database_name <> 'temp'",
                               [t]).fetchone()
            ubn = view is None or "union_by_name = true" in view[0]
        else:
            ubn = t in by_name.split(",")
        con.execute(raw_view_sql(t, store.lake, ubn, days=(first, last)))
        done.append(t)
    return done


def pin_loads(con: duckdb.DuckDBPyConnection) -> None:
    """Read the run log once for the statements that follow on `con`: a TEMP table shadows
    `_onepane_visible_loads` with the loads visible now (as of the connection's as-of). Every raw
    view gates its rows by that view, once per reference (six Parquet reads of the run log in the
    Service page's query, binding each); with the table they scan a few rows in memory. The
    statements then see one set of loads: a load committed meanwhile is not seen until the
    connection (a page query's own cursor) is closed."""
    con.execute("CREATE OR REPLACE TEMP TABLE _onepane_visible_loads AS SELECT * FROM main._onepane_visible_loads")


def may_hold_days_through(store: "Store", table: str, t: datetime) -> bool:
    """Whether `table`'s lake folder may hold rows of the UTC day of `t` or earlier:
    False only when its folders are all day folders (`day=<d>`, the day of its partition time, see
    scope_days) of later days and its files no data (schema templates, locks). A directory
    listing, no query: a read that would look for rows before a window can skip that look when
    the lake begins after it."""
    day = _utc_day(t)
    try:
        entries = list((store.lake / table).iterdir())
    except OSError:
        return True
    for p in entries:
        if p.is_dir():
            if not (p.name.startswith("day=") and p.name[4:] > day):
                return True
        elif p.name.endswith(".parquet") and p.name not in ("_schema.parquet", SCHEMA_LAST):
            return True
    return False


def unscope(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    for t in tables:
        con.execute(f"DROP VIEW IF EXISTS temp.{t}")


def set_as_of(con: duckdb.DuckDBPyConnection, as_of: datetime | str | None) -> None:
    con.execute(f"SET VARIABLE {NOW_VAR} = ?::TIMESTAMPTZ", [utcnow()])
    if as_of is None:
        con.execute(f"SET VARIABLE {AS_OF_VAR} = NULL")
    else:
        t = parse_time(as_of)
        con.execute(f"SET VARIABLE {AS_OF_VAR} = ?::TIMESTAMPTZ", [t])


_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise OnepaneError(f"not a valid table or column name: {name!r}")
    return name
