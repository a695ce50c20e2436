"""User SQL (`onepane sql`): one read-only SELECT over the store's views, nothing else.

The guard has three layers, each enough for a different class of attempt:
1. DuckDB's own parser (`duckdb.extract_statements`) must find exactly one statement, of type
   SELECT (so no COPY, EXPORT, SET, ATTACH, CREATE, INSERT, PRAGMA, several `;`-separated ones).
2. The connection is opened read-only on the DuckDB file (no catalog change can persist).
3. After the views are bound, the connection may read only the store's lake folder:
   `allowed_directories = [lake]`, `enable_external_access = false`, then
   `lock_configuration = true` - so `read_text('/etc/passwd')`, `glob('~/*')` or a `read_csv` of
   any other file fail inside the engine, whatever the SQL looks like.
Every refusal or failure is a `QueryRefused` with a one-line message.
"""
from __future__ import annotations

import duckdb

from metrics.errors import QueryRefused
from metrics.store import Store, _sql_literal


def check_statement(sql: str) -> None:
    """Refuse anything but exactly one SELECT statement (DuckDB's parser decides)."""
    try:
        stmts = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise QueryRefused(f"SQL does not parse: {_one_line(e)}") from None
    if len(stmts) != 1:
        raise QueryRefused(f"one statement only, got {len(stmts)}; `onepane sql` runs a single SELECT")
    kind = stmts[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefused(f"only SELECT is allowed (read-only), got {kind.name}")


def sandboxed(con: duckdb.DuckDBPyConnection, store: Store) -> duckdb.DuckDBPyConnection:
    """Limit `con` to reading the store's own lake folder, and lock its settings."""
    con.execute(f"SET allowed_directories = [{_sql_literal(str(store.lake) + '/')}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_user_sql(store: Store, sql: str, as_of=None):
    """The result of one read-only SELECT as a polars frame, or QueryRefused."""
    check_statement(sql)
    con = sandboxed(store.connect(as_of), store)
    try:
        return store.query(sql, con=con)
    except duckdb.Error as e:
        raise QueryRefused(_one_line(e)) from None
    finally:
        con.close()


def _one_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return " ".join(lines[:2])[:400] if lines else type(e).__name__
