"""Taking a load back, retention, leftover files and backups - all through the lake's own
mechanism (metrics.lake): a removal or an expiry is itself a committed load record that
supersedes rows, so `--as-of` before it still shows them and the run log audits it.
"""
from __future__ import annotations

import getpass
import logging
from datetime import datetime

import polars as pl

from metrics import queries
from metrics.errors import OnepaneError
from metrics.lake import Load
from metrics.store import Store, check_ident

log = logging.getLogger(__name__)

REMOVER = "loads-rm"


def list_loads(store: Store, source: str | None = None, since: datetime | None = None,
               as_of=None) -> pl.DataFrame:
    """Every load record, newest first: load_id, finished_at, source, collector, target_table,
    status, rows, source_file, removed_at, error."""
    return queries.run(store, "load_list", {"source": source, "since": since}, as_of=as_of)


def remove_load(store: Store, load_id: str, reason: str | None = None,
                by: str | None = None) -> dict:
    """Take back every visible row of one load: a tombstone load that supersedes its
    (load, scope) pairs. Returns {removal_load, removed_load, table, rows, scopes}."""
    rec = store.query("SELECT target_table, source, collector, status FROM _onepane_loads "
                      "WHERE load_id = ?", [load_id])
    if not rec.height:
        raise OnepaneError(f"no load {load_id!r}; see `onepane loads list`")
    table, source, collector, status = rec.row(0)
    if collector == REMOVER:
        raise OnepaneError(f"{load_id} is itself a removal; removals are permanent audit records")
    if status != "ok":
        raise OnepaneError(f"load {load_id} is {status}: it has no visible rows to remove")
    done = store.query("SELECT load_id FROM _onepane_loads WHERE status = 'ok' AND collector = ? "
                       "AND json_extract_string(details, '$.removes') = ?", [REMOVER, load_id])
    if done.height:
        raise OnepaneError(f"load {load_id} was already removed by load {done['load_id'][0]}")
    scopes = store.query(f"SELECT _scope, count(*) AS n FROM {check_ident(table)} "
                         "WHERE _load_id = ? GROUP BY 1 ORDER BY 1", [load_id])
    rows = int(scopes["n"].sum() or 0)
    by = by or _user()
    with Load(store, table, collector=REMOVER, source=source) as tomb:
        tomb.supersede((load_id, s) for s in scopes["_scope"].to_list())
        tomb.details = {"removes": load_id, "reason": reason, "by": by, "removed_rows": rows,
                        "removed_source": source, "scopes": scopes["_scope"].to_list()}
    log.warning("removed load=%s table=%s rows=%d by=%s reason=%s removal=%s",
                load_id, table, rows, by, reason, tomb.load_id)
    return {"removal_load": tomb.load_id, "removed_load": load_id, "table": table, "rows": rows,
            "scopes": scopes["_scope"].to_list()}


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
