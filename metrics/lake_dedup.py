"""De-duplication at write, so the staged views need no window over the whole store.

`stg_telemetry` shows one sample per (metric, labels_hash, sampled_at) and `stg_requests` one row
per (service, request_id): of the visible rows the newest load wins (`_loaded_at`, then `_load_id`).
That used to be a `row_number()` over every row at every read. Now it is decided when a load
commits (under the table's commit lock, so loads are compared one at a time):

1. within the load: a key written twice keeps its last-written row (the OpenMetrics rule: the later
   line wins); the staged files are rewritten only when there is such a duplicate. A collector that
   already wrote every key once (`ingest openmetrics` de-duplicates while writing) sets
   `load.keys_unique = True` and this scan is skipped;
2. across loads: every key the load shares with a row already published in the table (any load,
   visible or not - a superseded row may come back when its superseder is itself superseded, and a
   load's visibility depends on the as-of time) gives one row in `_dedup_<table>`: the losing
   load (`_loser`) and the winning row's load and scope (`_load_id`, `_scope`).

The generated view over `_dedup_<table>` gates rows by the winning load exactly like a raw table
(visible at the as-of time, not superseded), so the staged view is the raw table anti-joined with
it: a row is hidden exactly when a visible row of a newer load has its key - what the window gave,
for every as-of time, restatement and removal. Rows that never meet again cost nothing; the
anti-join's build side holds only re-delivered keys, and the service and time filters of a query
stay on the Parquet scan of the raw table.

Telemetry keys include `sampled_at`, so only the day folders the load writes are compared; request
ids may come back on another day, so the whole request table's (service, request_id) columns are.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from metrics.store import _sql_literal

DEDUP_DIR = "_dedup"        # staging sub-folder of the rows for `_dedup_<table>`


@dataclass(frozen=True)
class Rule:
    key: tuple[str, ...]
    where: str = "true"                 # rows without a key are each their own row
    same_partition: bool = True         # equal keys always share a partition folder
    part: tuple[str, str] = ("day", "strftime(sampled_at, '%Y-%m-%d')")   # of `_dedup_<table>`


RULES = {
    "raw_telemetry": Rule(("metric", "labels_hash", "sampled_at")),
    "raw_requests": Rule(("service", "request_id"), where="request_id IS NOT NULL",
                         same_partition=False, part=("part", "'all'")),
}


def dedup_table(table: str) -> str:
    return f"_dedup_{table}"


def _list(files: list[Path]) -> str:
    return "[" + ", ".join(_sql_literal(str(f)) for f in files) + "]"


def _on(rule: Rule, a: str, b: str) -> str:
    return " AND ".join(f'{a}."{k}" IS NOT DISTINCT FROM {b}."{k}"' for k in rule.key)


def stage(load, part_name: str, part_expr: str) -> int:
    """Run both steps for a load about to commit; returns the rows written for `_dedup_<table>`
    (into `<staging>/_dedup/<partition>/`, published with the load's own files)."""
    rule = RULES.get(load.table)
    staged = sorted(f for f in load.staging.rglob("*.parquet")) if load.staging.exists() else []
    staged = [f for f in staged if DEDUP_DIR not in f.parts[len(load.staging.parts):]]
    if rule is None or not staged:
        return 0
    from metrics.lake import scratch

    con = scratch()
    try:
        staged = _within(con, load, rule, staged, part_name, part_expr)
        return _across(con, load, rule, staged)
    finally:
        con.close()


def _within(con, load, rule: Rule, staged: list[Path], part_name: str, part_expr: str) -> list[Path]:
    if load.keys_unique:                        # the collector wrote each key once (it says so)
        return staged
    keys = ", ".join(f'"{k}"' for k in rule.key)
    src = f"read_parquet({_list(staged)}, union_by_name = true, hive_partitioning = false)"
    if _distinct_hashes(con, f"SELECT hash({keys}) AS h FROM {src} WHERE {rule.where}", load.rows):
        return staged
    dup = con.execute(f"SELECT count(*) - count(DISTINCT ({keys})) FROM {src} WHERE {rule.where}").fetchone()[0]
    if not dup:
        return staged
    # the later write wins: files are numbered in write order (<load>-<n>-<i>), rows in file order
    order = {str(f): i for i, f in enumerate(sorted(staged, key=_write_order))}
    con.execute("CREATE TEMP TABLE _ord (filename VARCHAR, o INTEGER)")
    con.executemany("INSERT INTO _ord VALUES (?, ?)", list(order.items()))
    out = load.staging / "rewritten"
    con.execute(
        f"COPY (SELECT * EXCLUDE (filename, o, file_row_number), {part_expr} AS \"{part_name}\" FROM "
        f"(SELECT r.*, _ord.o FROM read_parquet({_list(staged)}, union_by_name = true, "
        f"hive_partitioning = false, filename = true, file_row_number = true) r JOIN _ord USING (filename)) "
        f"QUALIFY NOT ({rule.where}) OR row_number() OVER (PARTITION BY {keys} "
        f"ORDER BY o DESC, file_row_number DESC) = 1) TO {_sql_literal(str(out))} "
        f"(FORMAT parquet, PARTITION_BY (\"{part_name}\"), FILENAME_PATTERN '{load.load_id}-d-{{i}}', "
        "OVERWRITE_OR_IGNORE)")
    for f in staged:
        f.unlink()
    load.rows -= dup
    load.details = {**load.details, "duplicates_in_load": int(dup)}
    return sorted(out.rglob("*.parquet"))


def keys_distinct(con, table: str, files: list[Path], rows: int | None = None) -> bool:
    """True when no key of `table`'s rule occurs twice in `files` (proved by distinct hashes; a
    False may be a hash collision: the commit's exact check decides). For a collector that then
    sets `load.keys_unique`. `rows`: how many rows the files hold, if known (see `_distinct_hashes`)."""
    rule = RULES[table]
    keys = ", ".join(f'"{k}"' for k in rule.key)
    return _distinct_hashes(con, f"SELECT hash({keys}) AS h FROM read_parquet({_list(files)}, "
                                 f"union_by_name = true, hive_partitioning = false) WHERE {rule.where}", rows)


NUMPY_MOST = 2_000_000


def _distinct_hashes(con, sql: str, rows: int | None = None) -> bool:
    """True when the 64-bit hashes `sql` returns (column `h`) are all distinct, which proves the
    keys distinct; False sends the load to the exact count. Up to 2M hashes are fetched as one
    numpy array and sorted by numpy (1M: 0.06 s of CPU, where polars' first n_unique in a process
    costs 0.10 s), more counted by polars (10M: 0.33 s, numpy's sort 0.7 s), both far below
    DuckDB's count(DISTINCT), which builds a hash table of every key (10M: 2.5-3 s). When the
    caller says more than 2M rows are read (`rows`, an upper bound), the column is fetched as a
    polars frame instead of through numpy (10M: 0.67 against 0.82 s in all)."""
    if rows is not None and rows > NUMPY_MOST:
        h = con.sql(sql).pl()["h"]
        return len(h) < 2 or h.n_unique() == len(h)
    h = con.execute(sql).fetchnumpy()["h"]
    if len(h) < 2:
        return True
    if len(h) <= NUMPY_MOST:
        h.sort()
        return not (h[1:] == h[:-1]).any()
    import polars as pl

    return pl.Series(h).n_unique() == len(h)


def _write_order(f: Path) -> tuple[int, int, str]:
    parts = f.stem.split("-")           # <timestamp>-<hex8>-<n>-<i>
    try:
        return int(parts[2]), int(parts[3]), str(f)
    except (IndexError, ValueError):
        return 0, 0, str(f)


def _across(con, load, rule: Rule, staged: list[Path]) -> int:
    part_name, part_expr = rule.part
    folder = load.store.lake / load.table
    if rule.same_partition:
        dirs = {f.parent.name for f in staged}
        published = [f for d in sorted(dirs) for f in sorted((folder / d).glob("*.parquet"))]
    else:
        published = sorted(f for f in folder.glob("*/*.parquet"))
    if not published:
        return 0
    cols = ", ".join(f'"{k}"' for k in rule.key) + ", _scope, _load_id, _loaded_at"
    new = f"(SELECT {cols} FROM read_parquet({_list(staged)}, union_by_name = true, hive_partitioning = false) WHERE {rule.where})"
    old = f"(SELECT {cols} FROM read_parquet({_list(published)}, union_by_name = true, hive_partitioning = false) WHERE {rule.where})"
    keys = ", ".join(f'n."{k}" AS "{k}"' for k in rule.key)
    newer = "(n._loaded_at, n._load_id) > (o._loaded_at, o._load_id)"
    pairs = (f"SELECT {keys}, "
             f"CASE WHEN {newer} THEN o._load_id ELSE n._load_id END AS _loser, "
             f"CASE WHEN {newer} THEN n._scope ELSE o._scope END AS _scope, "
             f"CASE WHEN {newer} THEN n._load_id ELSE o._load_id END AS _load_id, "
             f"CASE WHEN {newer} THEN n._loaded_at ELSE o._loaded_at END AS _loaded_at "
             f"FROM {new} n JOIN {old} o ON {_on(rule, 'n', 'o')} AND o._load_id <> n._load_id")
    con.execute(f"CREATE TEMP TABLE _pairs AS {pairs}")
    n = con.execute("SELECT count(*) FROM _pairs").fetchone()[0]
    if not n:
        return 0
    out = load.staging / DEDUP_DIR
    out.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT *, {part_expr} AS \"{part_name}\" FROM _pairs) TO {_sql_literal(str(out))} "
                f"(FORMAT parquet, PARTITION_BY (\"{part_name}\"), "
                f"FILENAME_PATTERN '{load.load_id}-x-{{i}}', OVERWRITE_OR_IGNORE)")
    return n


def backfill(store) -> int:
    """Once, when migration 0300 meets a lake written before it: list every key that two
    published loads share (rows of one load written twice stay as they are: the old view picked
    one of them at random too). Written as compacted files (`c...`), which compaction keeps."""
    from metrics.lake import new_load_id
    n = 0
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for table, rule in RULES.items():
            files = sorted((store.lake / table).glob("*/*.parquet"))
            if not files:
                continue
            cols = ", ".join(f'"{k}"' for k in rule.key) + ", _scope, _load_id, _loaded_at"
            rows = f"(SELECT {cols} FROM read_parquet({_list(files)}, union_by_name = true, hive_partitioning = false) WHERE {rule.where})"
            keys = ", ".join(f'n."{k}" AS "{k}"' for k in rule.key)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _pairs AS SELECT {keys}, o._load_id AS _loser, "
                        f"n._scope, n._load_id, n._loaded_at FROM {rows} n JOIN {rows} o "
                        f"ON {_on(rule, 'n', 'o')} AND (n._loaded_at, n._load_id) > (o._loaded_at, o._load_id)")
            got = con.execute("SELECT count(*) FROM _pairs").fetchone()[0]
            if not got:
                continue
            part_name, part_expr = rule.part
            out = store.lake / "_staging" / f"dedup-{new_load_id()}"
            con.execute(f"COPY (SELECT *, {part_expr} AS \"{part_name}\" FROM _pairs) TO {_sql_literal(str(out))} "
                        f"(FORMAT parquet, PARTITION_BY (\"{part_name}\"), "
                        f"FILENAME_PATTERN 'c{new_load_id()}-{{i}}', OVERWRITE_OR_IGNORE)")
            for f in sorted(out.rglob("*.parquet")):
                dest = store.lake / dedup_table(table) / f.parent.name
                dest.mkdir(parents=True, exist_ok=True)
                f.replace(dest / f.name)
            n += got
    finally:
        con.close()
    return n
