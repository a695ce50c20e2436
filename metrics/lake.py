"""Publishing rows as immutable Parquet: one all-or-nothing `Load` per collector run.

A load writes its files to `<lake>/_staging/<load_id>/`, moves each into its table's partition
folder with `os.replace`, and finally commits by publishing one `_onepane_loads` record. The views
show a row only once its load is committed, so a crash or an error at any point leaves nothing
visible; `abort()` also removes the files. Re-running never double-counts: a load may name the loads
(and scopes) it supersedes, and `already_loaded` finds an identical earlier file by content hash.

Both decisions are taken again at the commit, under the table's commit lock (an exclusive `flock`,
which the kernel drops when its process dies, so a kill -9 never wedges it): of N processes
loading the same content at once, the first to commit publishes and the others find it and publish
nothing (`status == "duplicate"`); the supersede scopes are resolved against what is committed at
that moment, so an original and its restatement loaded at once leave exactly one visible.

Compaction merges a partition's files into one and swaps the folder in atomically
(renameat2 RENAME_EXCHANGE), keeping every row and its `_load_id`, so time travel still works.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb

from metrics import lake_dedup
from metrics.errors import OnepaneError
from metrics.redact import redact
from metrics.store import SPARSE_TABLES, Store, _sql_literal, check_ident

log = logging.getLogger(__name__)

COMPACT_AFTER_FILES = 16
LOADS_COMPACT_AFTER_FILES = 8   # the run log: every read of every raw table scans it, so keep it few files


_SCRATCH: tuple[int, duckdb.DuckDBPyConnection] | None = None
_SCRATCH_LOCK = threading.Lock()


def scratch() -> duckdb.DuckDBPyConnection:
    """A new connection (a cursor, ~1 ms) to an in-memory DuckDB shared by this process, in UTC,
    for a load's own queries (writing staged files, de-duplication, the run-log record). Opening
    a fresh in-memory DuckDB costs ~25 ms of CPU, and one load used to open three. Each cursor has
    its own temporary tables and settings; close it when done. A forked child opens its own."""
    global _SCRATCH
    with _SCRATCH_LOCK:
        if _SCRATCH is None or _SCRATCH[0] != os.getpid():
            _SCRATCH = (os.getpid(), duckdb.connect())
        con = _SCRATCH[1].cursor()
    con.execute("SET TimeZone = 'UTC'")
    return con


def new_load_id() -> str:
    """Time-ordered and unique: 20261125T163100123456-1a2b3c4d."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]


@contextlib.contextmanager
def commit_lock(store: Store, table: str):
    """Serialises the check-and-publish step of the loads of one table (see the module doc)."""
    folder = store.lake / table
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".commit.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def table_lock(store: Store, table: str, exclusive: bool):
    folder = store.lake / table
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _dedup_lock(store: Store, table: str):
    """Publishing into `_dedup_<table>` must not race its compaction either."""
    if table not in lake_dedup.RULES:
        return contextlib.nullcontext()
    return table_lock(store, lake_dedup.dedup_table(table), exclusive=False)


def _table_spec(store: Store, table: str, con: duckdb.DuckDBPyConnection | None = None
                ) -> tuple[list[tuple[str, str]], str, str]:
    """Columns, partition name and partition SQL expression of a raw table (on `con`, a
    connection to the store the caller has open, else on one opened here)."""
    own = con is None
    con = con or store._open(read_only=True)
    try:
        cols = [(r[0], r[1]) for r in con.execute(f"DESCRIBE _schema_{check_ident(table)}").fetchall()]
        spec = con.execute("SELECT partition_name, partition_expr FROM _onepane_tables "
                           "WHERE table_name = ?", [table]).fetchone()
    except duckdb.CatalogException:
        raise OnepaneError(f"unknown table {table!r}; run `onepane init`") from None
    finally:
        if own:
            con.close()
    return cols, (spec[0] if spec else "part"), (spec[1] if spec else "'all'")


def constant_text(value: str) -> str:
    """SQL for a text column holding `value` in every row, as the Parquet writer writes it
    cheapest: a one-value ENUM is written from its dictionary (no hashing of every row's string,
    which a VARCHAR constant costs: ~0.05 s of CPU per column per 1M rows), and the file's column
    is the same UTF8 BYTE_ARRAY a VARCHAR gives, read back as VARCHAR."""
    return f"{_sql_literal(value)}::ENUM({_sql_literal(value)})"


class Load:
    """One all-or-nothing write into one raw table. Use as a context manager:

        with Load(store, "raw_focus", collector="focus", source="aws") as load:
            load.write(frame, scope="aws/123/2024-09")
    """

    def __init__(self, store: Store, table: str, *, collector: str, source: str | None = None,
                 source_file: str | None = None, content_hash: str | None = None,
                 con: duckdb.DuckDBPyConnection | None = None, checked: frozenset[str] | None = None):
        """`con`: a read-only connection to the store the caller has open (opening one costs
        ~30 ms of CPU), used here for the table's columns and closed by the caller. `checked`:
        `run_log_files(store)` listed before the caller's `already_loaded(content_hash)` found
        nothing; the commit then looks for the same content only in the run-log files added since
        (`loaded_since`), without opening the store."""
        self.store, self.table = store, table
        self.collector, self.source = collector, source or collector
        self.source_file, self.content_hash = source_file, content_hash
        self.checked = checked
        self.load_id = new_load_id()
        self.started_at = datetime.now(timezone.utc)
        self.columns, self.part_name, self.part_expr = _table_spec(store, table, con)
        self.staging = store.lake / "_staging" / self.load_id
        self.rows = 0
        self.scopes: set[str] = set()
        self.keys_unique = False          # a collector that wrote each key once says so (lake_dedup)
        self.supersedes: set[tuple[str, str]] = set()
        self._resolvers: list[Callable[[], Iterable[tuple[str, str]]]] = []
        self.duplicate_of: str | None = None    # set when identical content committed first
        self.watermark: Any = None
        self.details: dict[str, Any] = {}
        self._published: list[Path] = []
        self._n = 0
        self._mem: duckdb.DuckDBPyConnection | None = None
        self._owner = None                      # flock held on <staging>/.owner while writing
        self.done = False
        self.status: str | None = None          # ok | failed | duplicate once done

    # ---- writing ------------------------------------------------------------------------
    def _select(self, inner_cols: list[str], scope: str | None, fill_missing: bool = True,
                constants: dict[str, str] | None = None) -> str:
        """Every table column, cast to its type. `fill_missing=False` leaves out the columns the
        query lacks, for the tables whose views read with union_by_name over the typed
        `_schema.parquet` (metrics.store.SPARSE_TABLES), so they are NULL there anyway, and writing
        all-NULL columns costs time on wide tables. Any other table's view reads its files without
        union_by_name, which needs every column in every file: filled whatever the caller asks.
        `constants`: text columns holding one value in every row, written as `constant_text`
        (a one-value ENUM cast to VARCHAR per row would make a string per row: ~0.045 s of CPU per
        1M rows)."""
        fill_missing = fill_missing or self.table not in SPARSE_TABLES
        constants = constants or {}
        names = {c for c, _ in self.columns}
        extra = [c for c in [*inner_cols, *constants] if c not in names]
        if extra:
            raise OnepaneError(f"{self.table}: unknown column(s) {extra}; add a migration first")
        parts = []
        for col, typ in self.columns:
            if col in constants:
                parts.append(f'{constant_text(constants[col])} AS "{col}"')
            elif col == "_load_id":
                parts.append(f"{constant_text(self.load_id)} AS _load_id")
            elif col == "_loaded_at":
                parts.append(f"{_sql_literal(self.started_at.isoformat())}::TIMESTAMPTZ AS _loaded_at")
            elif col == "_scope" and "_scope" not in inner_cols:
                parts.append(f"{constant_text(scope or '')} AS _scope")
            elif col in inner_cols:
                parts.append(f'CAST(src."{col}" AS {typ}) AS "{col}"')
            elif fill_missing:
                parts.append(f'NULL::{typ} AS "{col}"')
        return ", ".join(parts)

    def write(self, frame: Any, scope: str | None = None) -> int:
        """Write a polars/pandas frame or pyarrow table. Columns are cast to the table's types."""
        if self._mem is None:
            self._mem = scratch()
        self._mem.register("_frame", frame)
        try:
            cols = [r[0] for r in self._mem.execute("DESCRIBE _frame").fetchall()]
            return self.write_query(self._mem, "SELECT * FROM _frame", cols, scope)
        finally:
            self._mem.unregister("_frame")

    def write_days(self, frame: Any, column: str, scope: str | None = None, most: int = 64) -> int:
        """Write a polars frame into a table partitioned by the UTC day of `column`
        (`strftime(column, '%Y-%m-%d')`): one unpartitioned write per day, cheaper than DuckDB
        partitioning the rows. Any other table, or more than `most` days: `write`."""
        if (self.part_expr != f"strftime({column}, '%Y-%m-%d')" or not frame.height
                or frame[column].null_count()):
            return self.write(frame, scope)
        days = frame[column].dt.date().unique().sort().to_list()
        if len(days) > most:
            return self.write(frame, scope)
        if self._mem is None:
            self._mem = scratch()
        self._mem.register("_frame", frame.to_arrow())
        try:
            cols = [r[0] for r in self._mem.execute("DESCRIBE _frame").fetchall()]
            return sum(self.write_query(
                self._mem, f'SELECT * FROM _frame WHERE "{column}" >= TIMESTAMPTZ \'{d}\' '
                           f'AND "{column}" < TIMESTAMPTZ \'{d}\' + INTERVAL 1 DAY', cols, scope,
                partition=d.isoformat()) for d in days)
        finally:
            self._mem.unregister("_frame")

    def write_query(self, con: duckdb.DuckDBPyConnection, sql: str, columns: list[str],
                    scope: str | None = None, partition: str | None = None,
                    fill_missing: bool = True, partition_sql: str | None = None,
                    ordered: bool = True, constants: dict[str, str] | None = None,
                    dictionary_limit: int | None = None, stats: list[dict] | None = None) -> int:
        """Write the result of `sql` run on `con` (its output columns named in `columns`).
        `partition`: the caller knows every row belongs to this one partition (the value the
        table's partition expression gives them), so the rows are written without partitioning.
        `fill_missing=False`: the table columns the query lacks are left out of the file (see
        `_select`). `partition_sql`: an expression over the output columns giving, for every row,
        what the table's partition expression gives (a cheaper spelling of it). `ordered=False`:
        the rows need not keep the query's order in the file (DuckDB writes each thread's rows as
        they come, ~12% less CPU for a big CSV); only for a caller that has checked, or will
        check, that no key of lake_dedup's rule is written twice (which row wins depends on the
        order), or does not care. `constants`: text columns with one value in every row (see
        `_select`), not among the query's columns. `dictionary_limit`: a column with more distinct
        values than this in a row group is written without a dictionary (DuckDB's default is far
        larger: it hashes e.g. every unique request id into a dictionary it then drops, ~0.05 CPU s
        per 1M rows). `stats`: a list that gets, for each file written, its columns' statistics as
        the Parquet writer computed them (DuckDB's RETURN_STATS: {'"column"': {'min', 'max',
        'null_count', 'has_nan', ...}}), for a caller that checks bounds on them instead of on
        every row."""
        if self._owner is None:
            self.staging.mkdir(parents=True, exist_ok=True)
            self._owner = open(self.staging / OWNER, "a+")
            fcntl.flock(self._owner, fcntl.LOCK_EX)        # released by the kernel if we die
        out = self.staging / str(self._n)
        self._n += 1
        select = self._select(columns, scope, fill_missing, constants)
        opts = ("" if ordered else ", PRESERVE_ORDER false") + (
            "" if dictionary_limit is None else f", DICTIONARY_SIZE_LIMIT {int(dictionary_limit)}") + (
            "" if stats is None else ", RETURN_STATS")
        if partition is not None:
            folder = out / f"{self.part_name}={partition}"
            folder.mkdir(parents=True)
            q = (f"COPY (SELECT {select} FROM ({sql}) src) TO "
                 f"{_sql_literal(str(folder / f'{self.load_id}-{self._n}-0.parquet'))} "
                 f"(FORMAT parquet{opts})")
        else:
            q = (f"COPY (SELECT *, {partition_sql or self.part_expr} AS \"{self.part_name}\" FROM "
                 f"(SELECT {select} FROM ({sql}) src)) TO {_sql_literal(str(out))} "
                 f"(FORMAT parquet{opts}, PARTITION_BY (\"{self.part_name}\"), "
                 f"FILENAME_PATTERN '{self.load_id}-{self._n}-{{i}}', OVERWRITE_OR_IGNORE)")
        if stats is None:
            n = con.execute(q).fetchone()[0]
        else:
            cur = con.execute(q)
            names = [d[0] for d in cur.description]
            files = [dict(zip(names, r)) for r in cur.fetchall()]      # one row per file written
            n = sum(f["count"] for f in files)
            stats += [f["column_statistics"] for f in files]
        self.rows += n
        if "_scope" in columns:
            self.scopes.update(r[0] for r in con.execute(
                f"SELECT DISTINCT _scope FROM ({sql})").fetchall())
        else:
            self.scopes.add(scope or "")
        return n

    def supersede(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Mark (load_id, scope) pairs as replaced by this load from its commit on."""
        self.supersedes.update((a, b) for a, b in pairs if a != self.load_id)

    def supersede_scopes(self, scopes: Iterable[str] | None = None) -> None:
        """Supersede every earlier row in the given scopes (default: the ones written so far).
        The rows are looked up at the commit, under the commit lock, so a load committing in
        between is superseded too."""
        scopes = sorted(set(scopes if scopes is not None else self.scopes))
        if scopes:
            self._resolvers.append(lambda: self._scope_pairs(scopes))

    def supersede_by(self, resolve: Callable[[], Iterable[tuple[str, str]]]) -> None:
        """Supersede the (load_id, scope) pairs `resolve()` returns when called at the commit."""
        self._resolvers.append(resolve)

    def _scope_pairs(self, scopes: list[str]) -> list[tuple[str, str]]:
        # the caller holds this table's shared lock, not the run log's: Store.rows retries when
        # the run log's compaction removes one of its files under the read
        rows = self.store.rows(f"SELECT DISTINCT _load_id, _scope FROM {check_ident(self.table)} "
                               "WHERE _scope IN (SELECT unnest(?::VARCHAR[]))", [scopes])
        return [(r["_load_id"], r["_scope"]) for r in rows]

    # ---- commit / abort -----------------------------------------------------------------
    def _record(self, status: str, error: str | None) -> None:
        rec = {
            "load_id": self.load_id, "collector": self.collector, "source": self.source,
            "target_table": self.table, "source_file": self.source_file,
            "content_hash": self.content_hash, "started_at": self.started_at,
            "finished_at": datetime.now(timezone.utc), "status": status, "rows": self.rows,
            "error": error,
            "watermark": None if self.watermark is None else json.dumps(self.watermark, default=str),
            "supersedes": [{"load_id": a, "scope": b} for a, b in sorted(self.supersedes)],
            "details": json.dumps(self.details, default=str) if self.details else None,
        }
        write_record(self.store, rec)

    def commit(self) -> None:
        if self.done:
            return
        touched: set[tuple[str, Path]] = set()
        hidden = 0
        with commit_lock(self.store, self.table):
            if self.content_hash:
                prior = (already_loaded(self.store, self.table, self.content_hash) if self.checked is None
                         else loaded_since(self.store, self.table, self.content_hash, self.checked))
                if prior:
                    self._discard(prior)
                    return
            with table_lock(self.store, self.table, exclusive=False), \
                    _dedup_lock(self.store, self.table):
                # under the shared lock: a compaction rewriting a partition of this table cannot
                # hide (or pull from under the read) the rows this load supersedes
                for resolve in self._resolvers:
                    self.supersede(resolve())
                hidden = lake_dedup.stage(self, self.part_name, self.part_expr)   # reads published files
                for f in sorted(self.staging.rglob("*.parquet")) if self.staging.exists() else []:
                    table = (lake_dedup.dedup_table(self.table)
                             if f.parent.parent.name == lake_dedup.DEDUP_DIR else self.table)
                    dest_dir = self.store.lake / table / f.parent.name
                    dest_dir.mkdir(parents=True, exist_ok=True)
                    dest = dest_dir / f.name
                    os.replace(f, dest)
                    self._published.append(dest)
                    touched.add((table, dest_dir))
                self._record("ok", None)
        self.done, self.status = True, "ok"
        shutil.rmtree(self.staging, ignore_errors=True)
        self._close()
        log.info("committed load=%s table=%s rows=%d superseded=%d hides=%d", self.load_id, self.table,
                 self.rows, len(self.supersedes), hidden)
        sweep_staging(self.store)
        for table, d in sorted(touched):
            if sum(1 for _ in d.glob("*.parquet")) > COMPACT_AFTER_FILES:
                try:
                    compact_partition(self.store, table, d)
                except OSError as e:           # compaction is an optimisation; never fail a load
                    log.warning("compaction skipped dir=%s error=%s", d, e)

    def _discard(self, prior: str) -> None:
        """Identical content was committed by another load first: publish nothing."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.rows, self.duplicate_of = 0, prior
        self.supersedes.clear()
        self.done, self.status = True, "duplicate"
        self._close()
        log.info("already loaded table=%s content=%s load=%s", self.table, self.content_hash, prior)

    def abort(self, error: str) -> None:
        if self.done:
            return
        for p in self._published:
            p.unlink(missing_ok=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.rows = 0
        self.supersedes.clear()
        self._record("failed", error)
        self.done, self.status = True, "failed"
        self._close()
        log.warning("aborted load=%s table=%s error=%s", self.load_id, self.table, error)

    def _close(self):
        if self._mem is not None:
            self._mem.close()
            self._mem = None
        if self._owner is not None:
            self._owner.close()
            self._owner = None

    def __enter__(self) -> "Load":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.commit()
        else:
            self.abort(str(exc) or exc_type.__name__)


def fs_clock(folder: Path) -> float:
    """Now, as the file system that holds `folder` stamps files: file ages are measured against it,
    never against the process clock (which a test may move, or which may disagree with a network
    file system's). A file is created (the kernel stamps it) and removed again."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".clock-", dir=folder)
    try:
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        os.unlink(name)


OWNER = ".owner"
STALE_AFTER_S = 3600        # a staging folder without a live owner lock: a load never runs this long
                            # before it takes its lock, so older ones are leftovers


def sweep_staging(store: Store, now: float | None = None) -> list[str]:
    """Remove staging folders of loads that died (kill -9, OOM, power loss): a folder whose
    `.owner` lock nobody holds (and older than a minute, so a load that just created it is safe),
    or one with no owner file at all older than STALE_AFTER_S (e.g. a killed compaction).
    A folder whose owner lock is held belongs to a running load and is never touched."""
    root = store.lake / "_staging"
    now = fs_clock(store.lake) if now is None else now
    removed: list[str] = []
    for d in sorted(root.iterdir()) if root.exists() else []:
        try:
            age = now - d.stat().st_mtime
            if not d.is_dir() or age < 60:
                continue
            owner = d / OWNER
            if owner.exists():
                with open(owner, "a+") as fh:
                    try:
                        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue                      # a running load
                    shutil.rmtree(d, ignore_errors=True)
            elif age > STALE_AFTER_S:
                shutil.rmtree(d, ignore_errors=True)
            else:
                continue
        except FileNotFoundError:                     # its load finished meanwhile
            continue
        removed.append(d.name)
    if removed:
        log.warning("removed staging of dead loads: %s", ", ".join(removed))
    return removed


def write_record(store: Store, rec: dict) -> None:
    """Publish one row of `_onepane_loads` (the commit point of a load) atomically.
    Free-text fields pass through `redact`: no URL credential ever lands in the run log."""
    rec = {**rec, **{k: redact(rec.get(k)) for k in ("source", "source_file", "error", "details")}}
    schema_file = store.lake / "_onepane_loads" / "_schema.parquet"
    folder = store.lake / "_onepane_loads" / ("month=" + rec["finished_at"].strftime("%Y-%m"))
    tmp = folder / f".{rec['load_id']}.tmp"
    # the shared lock from writing the temporary file to renaming it: a compaction of the month
    # (exclusive) exchanges the folder for one holding only its Parquet files, which would take
    # a temporary file written before the lock with it (the commit then failed on the rename)
    with table_lock(store, "_onepane_loads", exclusive=False):
        folder.mkdir(parents=True, exist_ok=True)
        con = scratch()
        try:
            con.execute(f"CREATE TEMP TABLE rec AS SELECT * FROM read_parquet({_sql_literal(str(schema_file))}) LIMIT 0")
            cols = [r[0] for r in con.execute("DESCRIBE rec").fetchall()]
            con.execute(f"INSERT INTO rec ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                        [rec.get(c) for c in cols])
            con.execute(f"COPY rec TO {_sql_literal(str(tmp))} (FORMAT parquet)")
        finally:
            con.close()
        os.replace(tmp, folder / f"{rec['load_id']}.parquet")
    if sum(1 for _ in folder.glob("*.parquet")) > LOADS_COMPACT_AFTER_FILES:
        compact_partition(store, "_onepane_loads", folder)


def already_loaded(store: Store, table: str, content_hash: str, collector: str | None = None,
                   con: duckdb.DuckDBPyConnection | None = None) -> str | None:
    """The id of a committed load of the same content into the same table, if any (`con`: a
    connection to the store to read on, else one is opened)."""
    # through Store.rows: a compaction of the run log may remove a file under the read (retried)
    rows = store.rows("SELECT load_id FROM _onepane_visible_loads WHERE target_table = ? "
                      "AND content_hash = ? ORDER BY finished_at DESC LIMIT 1", [table, content_hash],
                      con=con)
    return rows[0]["load_id"] if rows else None


def run_log_files(store: Store) -> frozenset[str]:
    """The run log's files now (see `loaded_since`)."""
    return frozenset(str(p) for p in (store.lake / "_onepane_loads").glob("month=*/*.parquet"))


def loaded_since(store: Store, table: str, content_hash: str, checked: frozenset[str]) -> str | None:
    """`already_loaded`, for a caller whose look-up found nothing after listing the run log's
    files (`checked`, from `run_log_files`): a record published since is in a file not listed
    then (`write_record` publishes each record as a new file; compaction merges files into a new
    one), so only those are read, on the scratch DuckDB (opening the store and reading the whole
    run log costs ~0.03 CPU s). A file compaction removes under the read: listed and read again."""
    for attempt in (0, 1, 2):
        new = sorted(run_log_files(store) - checked)
        if not new:
            return None
        con = scratch()
        try:
            row = con.execute(
                f"SELECT load_id FROM read_parquet([{', '.join(_sql_literal(f) for f in new)}], "
                "union_by_name = true, hive_partitioning = false) WHERE status = 'ok' "
                "AND target_table = ? AND content_hash = ? ORDER BY finished_at DESC LIMIT 1",
                [table, content_hash]).fetchone()
            return row[0] if row else None
        except duckdb.IOException:
            if attempt == 2:
                raise
        finally:
            con.close()
    return None


# ---- compaction --------------------------------------------------------------------------
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD = -100
    fn = getattr(libc, "renameat2", None)
    if fn is None or fn(AT_FDCWD, bytes(a), AT_FDCWD, bytes(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno() if fn is not None else 0
        raise OSError(err, f"renameat2 exchange failed for {a} <-> {b}")


def compact_partition(store: Store, table: str, folder: Path) -> int:
    """Merge the committed files of one partition folder into one file; returns files merged.

    Rows of failed loads are dropped; files of loads with no record yet (in flight) stay as they
    are, until they are an hour old: then they are the leftovers of a load that died between
    publishing its files and its record, and are dropped. A lone file older than that is checked
    once: dropped if it is such a leftover, else renamed as compacted so it is not checked again.
    """
    with table_lock(store, table, exclusive=True):
        files = sorted(folder.glob("*.parquet"))
        if not files or (len(files) == 1 and (files[0].name.startswith("c") or
                                              fs_clock(store.lake) - files[0].stat().st_mtime <= 3600)):
            return 0
        con = duckdb.connect()
        try:
            if table == "_onepane_loads":
                keep, drop = files, []
            else:
                status = _load_status(store, [_load_of(f) for f in files])
                fs_now = fs_clock(store.lake)
                keep = [f for f in files if f.name.startswith("c") or status.get(_load_of(f)) == "ok"]
                drop = [f for f in files if f not in keep and (
                    status.get(_load_of(f)) == "failed"
                    or (_load_of(f) not in status and fs_now - f.stat().st_mtime > 3600))]
            if len(keep) < 2 and not drop:
                if keep == files and not keep[0].name.startswith("c"):     # a lone committed file
                    os.replace(keep[0], keep[0].with_name("c" + keep[0].name))
                return 0
            work = store.lake / "_staging" / f"compact-{uuid.uuid4().hex[:8]}"
            new_dir = work / folder.name
            new_dir.mkdir(parents=True)
            pending = [f for f in files if f not in keep and f not in drop]
            if keep:
                # with the typed empty template first: the merged file has every column of the
                # table, in its order, also when the files merged were written before a migration
                # added one (the view can then read the table without union_by_name)
                schema = [store.lake / table / "_schema.parquet"]
                if table in SPARSE_TABLES or not schema[0].exists():
                    schema = []
                lst = "[" + ", ".join(_sql_literal(str(f)) for f in schema + keep) + "]"
                con.execute(f"COPY (SELECT * FROM read_parquet({lst}, union_by_name = true, "
                            f"hive_partitioning = false)) TO "
                            f"{_sql_literal(str(new_dir / ('c' + new_load_id() + '.parquet')))} "
                            "(FORMAT parquet)")
            for f in pending:
                shutil.copy2(f, new_dir / f.name)
            _exchange(new_dir, folder)
            shutil.rmtree(work, ignore_errors=True)
            log.info("compacted table=%s dir=%s files=%d dropped=%d", table, folder.name,
                     len(keep), len(drop))
            return len(keep)
        finally:
            con.close()


def _load_of(f: Path) -> str:
    # files are named <load_id>-<n>-<i>.parquet, load ids <timestamp>-<hex8>; compacted: c<load_id>
    parts = f.stem.split("-")
    return parts[0] + "-" + parts[1]


def _load_status(store: Store, load_ids: list[str]) -> dict[str, str]:
    df = store.query("SELECT load_id, status FROM _onepane_loads "
                     "WHERE load_id IN (SELECT unnest(?::VARCHAR[]))", [list(set(load_ids))])
    return dict(zip(df["load_id"].to_list(), df["status"].to_list()))
