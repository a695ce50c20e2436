"""Taking a load back, retention, leftover files and backups - all through the lake's own
mechanism (metrics.lake): a removal or an expiry is itself a committed load record that
supersedes rows, so `--as-of` before it still shows them and the run log audits it.
"""
from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from metrics import queries
from metrics.errors import OnepaneError
from metrics import lake
from metrics.lake import Load, table_lock
from metrics.store import Store, check_ident, lake_path_for
from metrics.times import parse_duration, utcnow

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


# ---- backup / restore -------------------------------------------------------------------------
_SKIP = {"_staging", "_locks"}


def backup(store: Store, dest: Path) -> dict:
    """A consistent copy of the store into folder `dest` while collectors keep writing.

    Every table's lock is held shared (compaction waits; loads go on), the run log is copied
    first, then the data files: a load committed before the run-log copy has all its files in
    place (files move before the record is written), and a load committing later has files but
    no record in the copy, so it is invisible there, as if it had not run yet."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise OnepaneError(f"{dest} is not empty; back up into a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    db_to = dest / store.db_path.name
    lake_to = lake_path_for(db_to)
    tables = sorted(p.name for p in store.lake.iterdir() if p.is_dir() and p.name not in _SKIP)
    with contextlib.ExitStack() as stack:
        for t in tables:
            stack.enter_context(table_lock(store, t, exclusive=False))
        con = store._open(read_only=True)            # no migration is writing the file
        try:
            shutil.copy2(store.db_path, db_to)
        finally:
            con.close()
        files = _copy_tree(store.lake / "_onepane_loads", lake_to / "_onepane_loads")
        for p in sorted(store.lake.iterdir()):
            if p.name in _SKIP or p.name == "_onepane_loads":
                continue
            if p.is_dir():
                files += _copy_tree(p, lake_to / p.name)
            else:
                shutil.copy2(p, lake_to / p.name)
                files += 1
    loads = Store(db_to).ensure().query("SELECT count(*) AS n FROM _onepane_visible_loads")["n"][0]
    log.info("backup dest=%s files=%d loads=%d", dest, files, loads)
    return {"db": str(db_to), "lake": str(lake_to), "files": files, "loads": int(loads)}


def restore(src: Path, db: Path, force: bool = False) -> dict:
    """Copy a backup folder (made by `backup`) to the store file `db` and its lake."""
    src, db = Path(src), Path(db).absolute()
    found = sorted(src.glob("*.duckdb"))
    if len(found) != 1 or not lake_path_for(found[0]).is_dir():
        raise OnepaneError(f"{src} is not a onepane backup (one <name>.duckdb and <name>.lake)")
    lake = lake_path_for(db)
    if (db.exists() or lake.exists()) and not force:
        raise OnepaneError(f"{db} or {lake} exists; restore into a new path or pass --force")
    if lake.exists():
        shutil.rmtree(lake)
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(db.name + ".restoring")
    shutil.copy2(found[0], tmp)
    os.replace(tmp, db)
    shutil.copytree(lake_path_for(found[0]), lake)
    loads = Store(db).ensure().query("SELECT count(*) AS n FROM _onepane_visible_loads")["n"][0]
    return {"db": str(db), "lake": str(lake), "loads": int(loads)}


def _copy_tree(src: Path, dst: Path) -> int:
    n = 0
    for p in sorted(src.rglob("*")):
        if p.is_file() and not p.name.endswith((".lock", ".tmp")):
            to = dst / p.relative_to(src)
            to.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copy2(p, to)
                n += 1
            except FileNotFoundError:       # an uncommitted file moved on; its load is not in the copy
                pass
    return n


# ---- retention ---------------------------------------------------------------------------------
_PART_LEN = {"day": 10, "month": 7}           # day=2026-01-31, month=2026-01


def _part_end(name: str, value: str) -> datetime | None:
    """The exclusive end of a day/month partition, or None for other partitionings."""
    try:
        if name == "day" and len(value) == _PART_LEN["day"]:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc) + timedelta(days=1)
        if name == "month" and len(value) == _PART_LEN["month"]:
            y, m = map(int, value.split("-"))
            return datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=timezone.utc)
    except ValueError:
        return None
    return None


def apply_retention(store: Store, retention: dict[str, str], now: datetime | None = None) -> list[dict]:
    """Drop whole partitions older than each table's retention (by the data's own time), under
    the table's exclusive lock, and record each expiry in the run log (collector `retention`,
    details: cutoff, partitions, files, rows). Returns one summary per table that lost data.

    Recorded before anything is removed: the run-log record is the commit point, written first
    (under the lock, so nothing lands in those partitions meanwhile) and listing the files it
    expires; only then are the partitions moved to `_staging/expired-<load id>` and freed. A crash
    before the record removes nothing; a crash after it leaves a recorded expiry whose files are
    still there, and the next `apply_retention` finishes it (`_finish_expiries`) without a second
    record. So no expiry is ever unrecorded, nor recorded twice.

    As-of: an expiry is a load record like any other (`onepane loads list` shows it), but it frees
    the disk, so as of a time before it the expired rows are gone too - while every row still on
    disk answers as-of exactly as before. The record keeps `expired_before` (the end of the newest
    dropped partition: the table holds nothing older), and `as_of_notes` states it beside every
    as-of answer from before the expiry, so that answer is explained, not silently short."""
    now = now or utcnow()
    known = set(store.raw_tables())
    out = []
    for key, age in sorted(retention.items()):
        table = key if key.startswith("raw_") else f"raw_{key}"
        if table not in known or table.startswith("_"):
            raise OnepaneError(f"[retention] {key}: no such table; known: "
                               f"{', '.join(sorted(t[4:] for t in known if t.startswith('raw_')))}")
        cutoff = now - parse_duration(age)
        spec = store.query("SELECT partition_name FROM _onepane_tables WHERE table_name = ?", [table])
        pname = spec["partition_name"][0] if spec.height else "part"
        with table_lock(store, table, exclusive=True):
            _finish_expiries(store, table)
            expired = [d for d in sorted((store.lake / table).glob(f"{pname}=*"))
                       if d.is_dir() and (end := _part_end(pname, d.name.split("=", 1)[1])) is not None
                       and end <= cutoff]
            if not expired:
                continue
            files = sorted(f.relative_to(store.lake / table).as_posix()
                           for d in expired for f in d.glob("*.parquet"))
            rows = _count_rows([str(store.lake / table / f) for f in files])
            parts = [d.name for d in expired]
            before = max(_part_end(pname, d.name.split("=", 1)[1]) for d in expired)
            load_id = lake.new_load_id()
            at = datetime.now(timezone.utc)
            lake.write_record(store, {                  # the commit point: before any removal
                "load_id": load_id, "collector": RETENTION, "source": "onepane compact",
                "target_table": table, "started_at": at, "finished_at": at, "status": "ok",
                "rows": 0, "supersedes": [],
                "details": json.dumps({"cutoff": cutoff.isoformat(), "retention": age,
                                       "partitions": parts, "files": files, "rows": int(rows),
                                       "expired_before": before.isoformat()})})
            _free(store, load_id, expired)
        log.warning("retention table=%s cutoff=%s partitions=%d rows=%d", table, cutoff, len(parts), rows)
        out.append({"table": table, "cutoff": cutoff, "partitions": parts, "rows": int(rows),
                    "expired_before": before, "load_id": load_id})
    return out


RETENTION = "retention"


def _free(store: Store, load_id: str, dirs: list[Path]) -> None:
    """Remove the partitions of a recorded expiry: each moved aside atomically, then deleted."""
    trash = store.lake / "_staging" / f"expired-{load_id}"
    trash.mkdir(parents=True, exist_ok=True)
    for d in dirs:
        os.replace(d, trash / d.name)
    shutil.rmtree(trash, ignore_errors=True)


def _finish_expiries(store: Store, table: str) -> list[str]:
    """Complete the expiries of `table` that were recorded but not (fully) carried out, i.e. the
    process died between the record and the removal: remove the files the record lists that are
    still there (files loaded later into the same partition are not the record's; a later expiry
    records them) and its trash folder. Call under the table's exclusive lock. Returns the ids."""
    recs = store.query("SELECT load_id, details FROM _onepane_loads WHERE status = 'ok' "
                       "AND collector = ? AND target_table = ? ORDER BY load_id", [RETENTION, table])
    finished = []
    for load_id, details in recs.iter_rows():
        files = json.loads(details or "{}").get("files") or []   # older records: removed before written
        left = [store.lake / table / f for f in files if (store.lake / table / f).exists()]
        trash = store.lake / "_staging" / f"expired-{load_id}"
        if not left and not trash.exists():
            continue
        for f in left:
            f.unlink(missing_ok=True)
        for d in {f.parent for f in left}:
            with contextlib.suppress(OSError):      # not empty: files that are not the record's
                d.rmdir()
        shutil.rmtree(trash, ignore_errors=True)
        log.warning("retention finished the interrupted expiry load=%s table=%s files=%d",
                    load_id, table, len(left))
        finished.append(load_id)
    return finished


def as_of_notes(store: Store, as_of) -> list[str]:
    """One sentence per retention expiry committed after `as_of`: what the store knew then but no
    longer holds (the CLI prints them beside every `--as-of` answer; Data health shows them)."""
    if as_of is None:
        return []
    df = queries.retention_expiries(store, as_of=as_of).filter(pl.col("after_as_of"))
    return [f"{r['target_table']} rows before {r['expired_before']:%Y-%m-%d %H:%M}Z ({r['expired_rows']} "
            f"rows, retention {r['retention']}) were expired at {r['expired_at']:%Y-%m-%d %H:%M:%S}Z, after "
            "this as-of time: the store knew them then, and this answer lacks them"
            for r in df.iter_rows(named=True)]


def _count_rows(files: list[str]) -> int:
    if not files:
        return 0
    import duckdb

    con = duckdb.connect()
    try:
        return int(con.execute("SELECT count(*) FROM read_parquet(?::VARCHAR[])", [files]).fetchone()[0])
    finally:
        con.close()
