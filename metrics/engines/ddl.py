"""ClickHouse tables for the lake, and the loader that fills them (chdb in CI, or a server).

One MergeTree table `lake_<raw table>` per raw table holds every committed load's rows, exactly as
the lake's Parquet does (`_load_id`, `_scope` kept): the raw views over it gate by the run log the
same way DuckDB's do (metrics/engines/clickhouse.py), so restatements and `--as-of` mean the same.

- partitioned by month of the lake's own partition time (`_onepane_tables.partition_expr`);
- ordered by the keys the pages filter on (service first, then metric/series, then time);
- TTL on telemetry and request logs: the `[retention]` of onepane.toml (when set).

Loading is one mechanism for every table: each month found in the lake is read into a staging
table and swapped in with `ALTER TABLE ... REPLACE PARTITION`, atomically. A restated billing
month is simply that month again; running the loader twice leaves the same rows (never doubled).
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import sqlglot
from sqlglot import exp

from metrics.engines.clickhouse import ch_type
from metrics.engines.transpile import to_clickhouse
from metrics.errors import OnepaneError
from metrics.store import Store
from metrics.times import parse_duration

# the columns the pages and queries filter on, in ORDER BY order (service, then series, then time)
ORDER_KEYS = {
    "raw_focus": ("x_service", "charge_period_start"),
    "raw_telemetry": ("service", "metric", "labels_hash", "sampled_at"),
    "raw_requests": ("service", "model_version", "arrived_at"),
    "raw_model_health": ("service", "window_start"),
    "raw_kpis": ("service", "kpi", "observed_at"),
    "raw_events": ("service", "occurred_at"),
    "_onepane_loads": ("source", "finished_at"),
}
TTL_COLUMN = {"raw_telemetry": "sampled_at", "raw_requests": "arrived_at"}
_FOLDER = re.compile(r"^(month|day)=(\d{4})-(\d{2})(?:-\d{2})?$")


def partitions(store: Store) -> dict[str, tuple[str, str]]:
    """table -> (partition folder name, DuckDB expression of the folder's value)."""
    con = store.connect()
    try:
        rows = con.execute("SELECT table_name, partition_name, partition_expr FROM _onepane_tables").fetchall()
    finally:
        con.close()
    return {t: (n, e) for t, n, e in rows}


def _month_key(partition_expr: str) -> str:
    """The ClickHouse month (YYYYMM, 0 when NULL) of a lake partition expression `strftime(x, fmt)`."""
    tree = sqlglot.parse_one(partition_expr, read="duckdb")
    if not isinstance(tree, exp.TimeToStr):
        return "tuple()"
    inner = to_clickhouse(f"SELECT {tree.this.sql('duckdb')}")[len("SELECT "):]
    return f"ifNull(toYYYYMM({inner}), 0)"


def table_ddl(store: Store, table: str, database: str, spec: tuple[str, str],
              ttl: str | None = None, cluster: str | None = None) -> list[str]:
    cols = store.columns(table)
    names = {c for c, _ in cols}
    body = ",\n  ".join(f"`{c}` {ch_type(t)}" for c, t in cols)
    keys = [k for k in ORDER_KEYS.get(table, ()) if k in names] or ["_load_id"]
    on = f" ON CLUSTER `{cluster}`" if cluster else ""
    sql = (f"CREATE TABLE IF NOT EXISTS `{database}`.`lake_{table}`{on} (\n  {body}\n)\n"
           f"ENGINE = MergeTree\nPARTITION BY {_month_key(spec[1])}\nORDER BY ({', '.join(keys)})")
    if ttl and table in TTL_COLUMN:
        days = int(parse_duration(ttl).total_seconds() // 86400)
        if not 0 < days <= 20000:   # DateTime ends in 2106: a longer TTL would wrap into the past
            raise OnepaneError(f"retention {ttl!r} of {table}: between 1 day and 20000 days")
        col = TTL_COLUMN[table]   # a row without a time never expires
        sql += (f"\nTTL toDateTime(ifNull({col}, toDateTime64(0, 6, 'UTC'))) + INTERVAL {days} DAY "
                f"DELETE WHERE {col} IS NOT NULL")
    sql += "\nSETTINGS allow_nullable_key = 1"
    return [f"CREATE DATABASE IF NOT EXISTS `{database}`{on}", sql]


def ddl(store: Store, database: str = "onepane", retention: dict[str, str] | None = None,
        cluster: str | None = None) -> list[str]:
    """Every statement that creates the ClickHouse tables of this store's raw tables."""
    retention = {(k if k.startswith("raw_") else f"raw_{k}"): v for k, v in (retention or {}).items()}
    out: list[str] = []
    for table, spec in sorted(partitions(store).items()):
        for stmt in table_ddl(store, table, database, spec, retention.get(table), cluster):
            if stmt not in out:
                out.append(stmt)
    return out


def lake_months(store: Store, table: str) -> dict[str, list[Path]]:
    """Month partition id ('202610', or 'tuple()' for an unpartitioned table) -> its lake folders."""
    out: dict[str, list[Path]] = defaultdict(list)
    folder = store.lake / table
    if not folder.exists():
        return {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        m = _FOLDER.match(d.name)
        if not any(d.glob("*.parquet")):
            continue
        out[f"{m.group(2)}{m.group(3)}" if m else "tuple()"].append(d)
    return dict(out)


def load(executor, store: Store, database: str = "onepane", tables: list[str] | None = None,
         months: list[str] | None = None) -> dict[str, int]:
    """Fill (or refresh) the ClickHouse tables from the lake, one month at a time through a
    staging table and REPLACE PARTITION. Returns rows per table after the load.

    `executor.insert_parquet(table, files, columns)` moves the files' rows into a table: chdb
    reads them with file(); a server receives them as `INSERT ... FORMAT Parquet`."""
    specs = partitions(store)
    counts = {}
    for table in tables or sorted(specs):
        cols = ", ".join(f"`{c}` {ch_type(t)}" for c, t in store.columns(table))
        target, stage = f"`{database}`.`lake_{table}`", f"`{database}`.`_stage_{table}`"
        for month, folders in sorted(lake_months(store, table).items()):
            if months and month not in months and month != "tuple()":
                continue
            executor.execute(f"DROP TABLE IF EXISTS {stage}")
            executor.execute(f"CREATE TABLE {stage} AS {target}")
            try:
                files = [f for d in folders for f in sorted(d.glob("*.parquet"))]
                executor.insert_parquet(stage, files, cols)
                executor.execute(f"ALTER TABLE {target} REPLACE PARTITION {month} FROM {stage}")
            finally:
                executor.execute(f"DROP TABLE IF EXISTS {stage}")
        got = executor.rows(f"SELECT count() AS n FROM {target}")
        counts[table] = int(got[0]["n"])
    return counts


class ChdbExecutor:
    """The loader's statements on a chdb session (files read in-process with file())."""

    def __init__(self, session):
        self.session = session

    def execute(self, sql: str):
        try:
            return self.session.query(sql, "ArrowTable")
        except Exception as e:   # chdb raises its own error type
            raise OnepaneError(f"clickhouse: {str(e).strip().splitlines()[0][:300]}") from None

    def rows(self, sql: str) -> list[dict]:
        return self.execute(sql).to_pylist()

    def insert_parquet(self, table: str, files: list[Path], columns: str) -> None:
        for d in sorted({f.parent for f in files}):
            mine = [f.name for f in files if f.parent == d]
            glob = str(d / ("{" + ",".join(mine) + "}" if len(mine) > 1 else mine[0]))
            self.execute(f"INSERT INTO {table} SELECT * FROM file('{_esc(glob)}', Parquet, '{_esc(columns)}')")


class S3Lake:
    """The loader's statements on `executor` (a chdb session's or a server's), reading the Parquet
    from the lake's copy on object storage: `INSERT ... SELECT FROM s3(lake_url/...)` replaces
    file() or sending the local files. The files are the local lake's (the run log's source of
    truth) under the same relative paths, named one by one (no listing of the bucket).

    `[storage.clickhouse] lake_url`, with the key id and secret read from the environment
    variables `access_key_id_env` / `secret_access_key_env` (none: a public bucket, unsigned)."""

    def __init__(self, executor, lake: Path, lake_url: str, access_key_id: str | None = None,
                 secret_access_key: str | None = None):
        self.executor, self.lake, self.lake_url = executor, Path(lake), lake_url.rstrip("/")
        self._keys = (access_key_id, secret_access_key) if access_key_id else None

    @classmethod
    def from_settings(cls, executor, store: Store, ch) -> "S3Lake":
        """From `[storage.clickhouse]`; a named variable that is not set is a ConfigError."""
        import os

        from metrics.errors import ConfigError

        keys = []
        for key in ("access_key_id_env", "secret_access_key_env"):
            var = getattr(ch, key)
            if var is not None and not os.environ.get(var):
                raise ConfigError(f"environment variable {var} is not set", key=f"storage.clickhouse.{key}")
            keys.append(os.environ.get(var) if var else None)
        return cls(executor, store.lake, ch.lake_url, *keys)

    def execute(self, sql: str):
        return self.executor.execute(sql)

    def rows(self, sql: str) -> list[dict]:
        return self.executor.rows(sql)

    def source(self, files: list[Path], columns: str) -> str:
        """The s3() table function reading `files` (local lake paths) from the bucket."""
        from urllib.parse import quote

        (folder,) = {f.parent for f in files}
        rel = folder.relative_to(self.lake).as_posix()
        names = [quote(f.name) for f in files]
        url = f"{self.lake_url}/{quote(rel)}/" + ("{" + ",".join(names) + "}" if len(names) > 1 else names[0])
        creds = f"'{_esc(self._keys[0])}', '{_esc(self._keys[1])}', " if self._keys else ""
        return f"s3('{_esc(url)}', {creds}'Parquet', '{_esc(columns)}')"

    def insert_parquet(self, table: str, files: list[Path], columns: str) -> None:
        for d in sorted({f.parent for f in files}):
            self.execute(f"INSERT INTO {table} SELECT * FROM "
                         f"{self.source([f for f in files if f.parent == d], columns)}")


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "\\'")
