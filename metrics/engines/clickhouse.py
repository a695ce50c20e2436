"""ClickHouse engine over a store's lake, in-process through chdb (or a server: see README).

The views are the store's own files, transpiled (metrics/engines/transpile.py): raw tables are
views over the lake's Parquet gated by the run log exactly as in DuckDB (metrics/store.py), then
every staged and public view in the same order. Session time zone is pinned to UTC. The as-of time
and "now" are inlined when the views are created, so one engine object answers for one as-of time.

Over the lake, the run log's visible loads and the (load, scope) pairs they supersede are read
once into two small in-memory tables, not at every reference to a raw view (a page query joins
several raw views, each of them reading the run log's files twice): they are read again before a
query whenever the run log's files have changed (a new load, a removed one, a compaction).
"""
from __future__ import annotations

import os
import re
import threading
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlglot import exp

from metrics.engines.transpile import NotPortable, literal, to_clickhouse
from metrics.errors import OnepaneError
from metrics.store import SQL_DIR, Store, _view_files
from metrics.times import parse_time, utcnow

_VIEW_HEAD = re.compile(r"(?is)CREATE\s+OR\s+REPLACE\s+(?:TEMP\s+)?VIEW\s+(\w+)\s+AS\s+")


def ch_type(duckdb_type: str) -> str:
    """A DuckDB column type as ClickHouse's (every scalar Nullable, times microsecond UTC)."""
    t = duckdb_type.upper()
    if t.startswith("TIMESTAMP"):
        return "Nullable(DateTime64(6, 'UTC'))"
    if t == "DATE":
        return "Nullable(Date32)"
    return exp.DataType.build(duckdb_type, dialect="duckdb").sql("clickhouse")


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ChdbEngine:
    """One chdb session holding the store's views for one as-of time."""

    def __init__(self, store: Store, as_of: datetime | str | None = None, now: datetime | None = None,
                 session=None, database: str | None = None, view_database: str | None = None):
        """`session`: an open chdb session (default: a new in-memory one). `database`: read the
        raw rows from the MergeTree tables `database.lake_<table>` (metrics/engines/ddl.py)
        instead of the lake's Parquet files. `view_database`: create the views in this database
        of their own (created here, dropped by close()) rather than the session's current one, so
        engines at other as-of times on the same server never replace each other's views."""
        if session is None:
            try:
                from chdb import session as chdb_session
            except ImportError:
                raise OnepaneError("the ClickHouse engine needs chdb: pip install 'onepane[clickhouse]'") from None
            session = chdb_session.Session()
            self._owns_session = True
        else:
            self._owns_session = False
        self._home = getattr(session, "database", None)
        self.store = store
        self.database = database
        self.as_of = parse_time(as_of) if as_of is not None else None
        self.now = now or utcnow()
        self.session = session
        self.views: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.view_database = view_database
        self._use = None
        self._run_log_state = None           # the run-log files the snapshot tables were read from
        self._run_log_lock = threading.Lock()
        if view_database:
            if not re.fullmatch(r"\w+", view_database):
                raise OnepaneError(f"view database {view_database!r}: letters, digits and _ only")
            self._exec(f"CREATE DATABASE IF NOT EXISTS `{view_database}`")
            if hasattr(session, "use"):
                session.use(view_database)          # a server session: the database of every request
            else:
                self._use = f"USE `{view_database}`"  # a chdb session is shared: switch before each statement
        self._exec("SET session_timezone = 'UTC'")
        self._exec("SET use_variant_as_common_type = 0")   # mixed types find a supertype, as in DuckDB
        # a CTE a query reads twice is computed once, as DuckDB does (transpile._materialize_shared_ctes);
        # a server older than the setting inlines every CTE, as before
        try:
            self._exec("SET enable_materialized_cte = 1", retry=False)
            self.materialize = True
        except OnepaneError:
            self.materialize = False
        self._create_views()

    def _exec(self, sql: str, retry: bool = True):
        try:
            if self._use:
                self.session.query(self._use, "ArrowTable")
            return self.session.query(sql, "ArrowTable")
        except Exception as e:   # chdb raises its own error type
            # chdb 4.x: the statement after a failed one can fail reading the result's Arrow
            # metadata (the previous error's buffer); it runs when simply sent again
            if retry and "metadata too long" in str(e):
                return self._exec(sql, retry=False)
            raise OnepaneError(f"clickhouse: {str(e).strip().splitlines()[0][:300]}") from None

    def _values(self) -> dict:
        return {"onepane_as_of": self.as_of, "onepane_now": self.now, "__now__": self.now}

    def _parquet(self, table: str) -> str:
        """The table's Parquet files with the typed structure of its schema template, so nothing
        is inferred per query and a file that lacks an all-NULL column reads it as NULL."""
        if self.database:
            return f"`{self.database}`.`lake_{table}`"
        glob = str(self.store.lake / table / "**" / "*.parquet")
        cols = ", ".join(f"`{name}` {ch_type(t)}" for name, t in self.store.columns(table))
        return f"file({_q(glob)}, Parquet, {_q(cols)})"

    def _run_log_files(self) -> tuple:
        """(path, size, mtime) of every run-log file: what a new load or a compaction changes."""
        out = []
        for root, _, files in os.walk(self.store.lake / "_onepane_loads"):
            for f in files:
                if f.endswith(".parquet"):
                    try:
                        st = os.stat(os.path.join(root, f))
                    except FileNotFoundError:      # removed by a compaction while listed
                        continue
                    out.append((os.path.join(root, f), st.st_size, st.st_mtime_ns))
        return tuple(sorted(out))

    def _refresh_run_log(self) -> None:
        """Lake only: (re)read the run log into the snapshot tables when its files have changed."""
        if self.database:
            return
        with self._run_log_lock:
            state = self._run_log_files()
            if state == self._run_log_state:
                return
            for attempt in (0, 1):
                try:
                    for name in ("_onepane_visible_loads", "_onepane_superseded"):
                        self._exec(f"CREATE OR REPLACE TABLE {name} ENGINE = Memory AS {self.views[name]}")
                    break
                except OnepaneError:
                    if attempt:                    # a file vanished under a compaction: list again
                        raise
                    state = self._run_log_files()
            self._run_log_state = state

    def _create_views(self) -> None:
        as_of = literal(self.as_of).sql(dialect="clickhouse") if self.as_of else None
        visible = "status = 'ok'" + (f" AND finished_at <= {as_of}" if as_of else "")
        self._view("_onepane_loads", f"SELECT * FROM {self._parquet('_onepane_loads')}")
        superseded = ("SELECT DISTINCT tupleElement(s, 'load_id') AS load_id, tupleElement(s, 'scope') AS scope "
                      "FROM _onepane_visible_loads ARRAY JOIN supersedes AS s")
        if self.database:
            self._view("_onepane_visible_loads", f"SELECT * FROM _onepane_loads WHERE {visible}")
            self._view("_onepane_superseded", superseded)
        else:                                      # snapshot tables, read by _refresh_run_log
            self.views["_onepane_visible_loads"] = f"SELECT * FROM _onepane_loads WHERE {visible}"
            self.views["_onepane_superseded"] = superseded
            self._refresh_run_log()
        for table in self.store.raw_tables():
            if table == "_onepane_loads":
                continue
            self._view(table, f"SELECT r.* FROM {self._parquet(table)} AS r "
                              "WHERE r._load_id IN (SELECT load_id FROM _onepane_visible_loads) "
                              "AND (r._load_id, r._scope) NOT IN (SELECT load_id, scope FROM _onepane_superseded)")
        pending = _view_files()
        while pending:
            failed = []
            for p in pending:
                text = p.read_text(encoding="utf-8").replace("{lake}", str(self.store.lake))
                m = _VIEW_HEAD.search(text)
                if not m:
                    continue
                name = m.group(1)
                try:
                    body = to_clickhouse(text[m.end():].rstrip().rstrip(";"), self._values())
                except NotPortable as e:
                    self.skipped[name] = str(e)
                    continue
                try:
                    self._view(name, body)
                except OnepaneError as e:
                    failed.append((p, name, str(e)))
            if len(failed) == len(pending):
                for _, name, err in failed:
                    self.skipped[name] = err
                break
            pending = [p for p, _, _ in failed]

    def _view(self, name: str, body: str) -> None:
        self._exec(f"CREATE OR REPLACE VIEW {name} AS {body}")
        self.views[name] = body

    def query(self, sql: str, params: dict | None = None) -> pl.DataFrame:
        """Run one DuckDB-dialect query (with $params) on ClickHouse; a polars frame back."""
        values = {**self._values(), **(params or {})}
        self._refresh_run_log()
        try:
            table = self._exec(to_clickhouse(sql, values, materialize=self.materialize))
        except OnepaneError as e:
            # ClickHouse cannot decorrelate a correlated subquery over a materialized CTE: such a
            # query runs with its CTEs inlined (the SQL here uses ANTI JOIN where it is hot)
            if not (self.materialize and "DelayedMaterializingCTEs" in str(e)):
                raise
            table = self._exec(to_clickhouse(sql, values))
        try:
            return pl.from_arrow(table)
        except Exception as e:   # noqa: BLE001 - e.g. a Variant column has no polars type
            odd = [f"{f.name}: {f.type}" for f in table.schema if "union" in str(f.type).lower()]
            raise OnepaneError(f"clickhouse result has no single type per column ({'; '.join(odd) or e})") from None

    def close(self) -> None:
        """Drop the view database (if any); close the session if this engine opened it."""
        try:
            if self.view_database:
                if hasattr(self.session, "use"):
                    self.session.use(self._home)
                    self._use = None
                else:
                    self._use = "USE default"
                self._exec(f"DROP DATABASE IF EXISTS `{self.view_database}`")
                self._use = None
        finally:
            if self._owns_session:
                self.session.close()
