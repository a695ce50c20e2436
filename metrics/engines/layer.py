"""The engine the metric and page queries run on, chosen by `[storage] engine` in onepane.toml.

`attach(store, settings)` gives a Store an `engine` when `engine = "clickhouse"`; then
`metrics.queries.run` (every page and metric query) sends the same DuckDB-dialect SQL there:

- no `[storage.clickhouse] url`: ClickHouse's engine in-process (chdb) over the store's lake;
- a url: a ClickHouse server over HTTP, reading the MergeTree tables `onepane engines load`
  fills (metrics/engines/ddl.py), with the same views created in `database`.

The session time zone is UTC on both (and on DuckDB: metrics/store.py). "Now" and the as-of time
are inlined in the views, so an engine object is renewed after `max_age` and kept per as-of time.
"""
from __future__ import annotations

import io
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from metrics.errors import ConfigError, OnepaneError
from metrics.store import Store
from metrics.times import utcnow


class HttpSession:
    """A ClickHouse server over its HTTP interface, with chdb's session calls (query -> Arrow)."""

    def __init__(self, url: str, user: str = "default", password: str | None = None,
                 database: str = "default", timeout: float = 300):
        self.url = url.rstrip("/") + "/"
        self.user, self.password, self.database, self.timeout = user, password, database, timeout
        self.session_id = uuid.uuid4().hex

    def _post(self, body: bytes, **params) -> bytes:
        q = {"session_id": self.session_id, "session_timezone": "UTC", "database": self.database,
             "default_format": "ArrowStream", **params}
        req = urllib.request.Request(self.url + "?" + urllib.parse.urlencode(q), data=body, method="POST")
        req.add_header("X-ClickHouse-User", self.user)
        if self.password:
            req.add_header("X-ClickHouse-Key", self.password)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise OnepaneError(f"clickhouse server: {e.read().decode(errors='replace').strip()[:300]}") from None
        except (urllib.error.URLError, OSError) as e:
            raise OnepaneError(f"clickhouse server {self.url} unreachable: {e}") from None

    def query(self, sql: str, fmt: str = "ArrowTable"):
        import pyarrow as pa
        import pyarrow.ipc

        out = self._post(sql.encode())
        return pyarrow.ipc.open_stream(io.BytesIO(out)).read_all() if out else pa.table({})

    # the loader's executor interface (metrics/engines/ddl.py)
    def execute(self, sql: str):
        return self.query(sql)

    def rows(self, sql: str) -> list[dict]:
        return self.query(sql).to_pylist()

    def use(self, database: str) -> None:
        """The database every following request runs in (the `database` URL parameter)."""
        self.database = database

    def insert_parquet(self, table: str, files: list[Path], columns: str) -> None:
        for f in files:
            self._post(f.read_bytes(), query=f"INSERT INTO {table} FORMAT Parquet",
                       input_format_parquet_allow_missing_columns=1)

    def insert_arrow(self, table: str, batch) -> None:
        """One pyarrow Table as `INSERT ... FORMAT ArrowStream` (what clickhouse-connect sends)."""
        import pyarrow as pa

        buf = pa.BufferOutputStream()
        with pa.ipc.new_stream(buf, batch.schema) as w:
            w.write_table(batch)
        self._post(buf.getvalue().to_pybytes(), query=f"INSERT INTO {table} FORMAT ArrowStream")

    def close(self) -> None:
        pass


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split(".")[:3] if x.isdigit())


def server_session(ch) -> HttpSession:
    """A session on the configured server, after checking its version against min_version."""
    password = None
    if ch.password_env:
        password = os.environ.get(ch.password_env)
        if password is None:
            raise ConfigError(f"environment variable {ch.password_env} is not set",
                              key="storage.clickhouse.password_env")
    s = HttpSession(ch.url, ch.user, password, ch.database)
    got = s.rows("SELECT version() AS v")[0]["v"]
    if _version(got) < _version(ch.min_version):
        raise OnepaneError(f"ClickHouse server {got} is older than storage.clickhouse.min_version "
                           f"{ch.min_version}; upgrade it or lower the setting")
    return s


class ClickHouseQueries:
    """What `metrics.queries.run` calls when the store's engine is ClickHouse."""

    def __init__(self, store: Store, ch, max_age: timedelta = timedelta(minutes=5)):
        self.store, self.ch, self.max_age = store, ch, max_age
        self._engines: dict = {}

    def _engine(self, as_of):
        from metrics.engines.clickhouse import ChdbEngine

        now = utcnow()
        key = str(as_of)
        got = self._engines.get(key)
        if got is not None and now - got.now <= self.max_age:
            return got
        if got is not None:
            got.close()
        if self.ch.url:
            # an as-of reader's views go in a database of their own (`<database>_asof_<id>`, dropped
            # when the engine closes): the views inline the as-of time, so readers at other times
            # (or at "now", whose views live in `database`) must not replace each other's views
            view_db = f"{self.ch.database}_asof_{uuid.uuid4().hex[:12]}" if as_of is not None else None
            engine = ChdbEngine(self.store, as_of=as_of, now=now, session=server_session(self.ch),
                                database=self.ch.database, view_database=view_db)
        else:
            engine = ChdbEngine(self.store, as_of=as_of, now=now)
        if len(self._engines) >= 4:                 # a few as-of times at once, then start over
            for e in self._engines.values():
                e.close()
            self._engines.clear()
        self._engines[key] = engine
        return engine

    def query(self, sql: str, params: dict | None = None, as_of: datetime | str | None = None) -> pl.DataFrame:
        return self._engine(as_of).query(sql, params)

    def close(self) -> None:
        for e in self._engines.values():
            e.close()
        self._engines.clear()


def attach(store: Store, settings) -> Store:
    """The store, answering metric and page queries on the engine `[storage]` names."""
    if settings.storage.engine == "clickhouse":
        store.engine = ClickHouseQueries(store, settings.storage.clickhouse)
    return store
