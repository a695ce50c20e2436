"""Committed loads of telemetry and request logs into the ClickHouse tables as Arrow batches.

The batch path beside the monthly Parquet loader (metrics/engines/ddl.py `load`): after a
collector has committed a load to the lake, `push_load` sends just that load's rows to
`lake_<table>` in Arrow record batches, then its run-log row. ClickHouse's raw views are gated by
the run log as DuckDB's are (metrics/engines/clickhouse.py), so the load shows whole or not at all.
Re-runs never double: a load already in ClickHouse's run log is skipped, and a push that stopped
half-way (rows sent, run-log row not) first deletes that load's rows and sends them again.

Sinks, all through `insert_arrow(sink, table, batch)`:
- a chdb session: chdb reads the batch in-process through its `Python()` table function;
- a server over HTTP (metrics/engines/layer.HttpSession): `INSERT ... FORMAT ArrowStream`;
- a clickhouse-connect client (anything with `insert_arrow`): `client.insert_arrow(table, batch)`.
"""
from __future__ import annotations

import duckdb

from metrics.errors import OnepaneError
from metrics.store import Store, _sql_literal

BATCH_ROWS = 100_000


def _columns(sink, table: str) -> list[str]:
    db, name = table.replace("`", "").split(".")
    rows = _rows(sink, f"SELECT name FROM system.columns WHERE database = {_sql_literal(db)} "
                       f"AND table = {_sql_literal(name)} ORDER BY position")
    return [r["name"] for r in rows]


def _rows(sink, sql: str) -> list[dict]:
    if hasattr(sink, "rows"):
        return sink.rows(sql)
    if hasattr(sink, "query_arrow"):                    # clickhouse-connect
        return sink.query_arrow(sql).to_pylist()
    return sink.query(sql, "ArrowTable").to_pylist()   # a chdb session


def _execute(sink, sql: str) -> None:
    if hasattr(sink, "execute"):
        sink.execute(sql)
    elif hasattr(sink, "command"):                      # clickhouse-connect
        sink.command(sql)
    else:
        try:
            sink.query(sql, "ArrowTable")
        except Exception as e:   # chdb raises its own error type
            raise OnepaneError(f"clickhouse: {str(e).strip().splitlines()[0][:300]}") from None


def insert_arrow(sink, table: str, batch) -> None:
    """Insert one pyarrow Table into `db`.`table` (columns matched by name)."""
    if hasattr(sink, "insert_arrow"):                   # HttpSession or clickhouse-connect
        if hasattr(sink, "command"):
            db, name = table.replace("`", "").split(".")
            sink.insert_arrow(name, batch, database=db)
        else:
            sink.insert_arrow(table, batch)
        return
    cols = ", ".join(f"`{c}`" for c in batch.column_names)
    try:
        # chdb's Python() table function reads the local variable `batch` in-process
        sink.query(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM Python(batch)", "ArrowTable")
    except Exception as e:   # chdb raises its own error type
        raise OnepaneError(f"clickhouse: {str(e).strip().splitlines()[0][:300]}") from None


def push_load(sink, store: Store, load_id: str, database: str = "onepane",
              batch_rows: int = BATCH_ROWS) -> int:
    """Send one committed load's rows, then its run-log row, to the ClickHouse tables. Returns the
    rows sent (0 when ClickHouse already has the load)."""
    loads = f"`{database}`.`lake__onepane_loads`"
    if _rows(sink, f"SELECT count() AS n FROM {loads} WHERE load_id = {_sql_literal(load_id)}")[0]["n"]:
        return 0
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        glob = _sql_literal(str(store.lake / "_onepane_loads" / "**" / "*.parquet"))
        log = con.sql(f"SELECT * FROM read_parquet({glob}, union_by_name = true, hive_partitioning = false) "
                      "WHERE load_id = $id AND status = 'ok'", params={"id": load_id}).to_arrow_table()
        if log.num_rows != 1:
            raise OnepaneError(f"load {load_id} is not a committed load of this store")
        table = log.column("target_table")[0].as_py()
        target = f"`{database}`.`lake_{table}`"
        wanted = _columns(sink, target)
        _execute(sink, f"ALTER TABLE {target} DELETE WHERE _load_id = {_sql_literal(load_id)} "
                       "SETTINGS mutations_sync = 2")            # what a stopped push left
        glob = _sql_literal(str(store.lake / table / "**" / "*.parquet"))
        have = {c for c, _ in store.columns(table)}
        cols = ", ".join(f'"{c}"' for c in wanted if c in have)
        reader = con.sql(f"SELECT {cols} FROM read_parquet({glob}, union_by_name = true, "
                         "hive_partitioning = false) WHERE _load_id = $id", params={"id": load_id}).to_arrow_reader(batch_rows)
        import pyarrow as pa

        sent = 0
        for rb in reader:
            insert_arrow(sink, target, pa.Table.from_batches([rb]))
            sent += rb.num_rows
        log_cols = [c for c in _columns(sink, loads) if c in log.column_names]
        insert_arrow(sink, loads, log.select(log_cols))           # last: the load becomes visible
        return sent
    finally:
        con.close()
