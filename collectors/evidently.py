"""Model health per window -> raw_model_health: drift (Evidently 0.7), quality, calibration,
fairness and data-quality signals; plus `ingest_evidently` for reports teams already have.

A `[[source]]` of type `drift` compares each window of `current` (prediction logs: a file, folder or
glob of Parquet/CSV batches) with `reference` (the same, or a DuckDB SQL query over the store):

    [[source]]
    name = "churn-drift"
    type = "drift"
    service = "churn"
    reference = "data/reference.parquet"        # or "SELECT ... FROM ..." over the store
    current = "data/predictions/*.parquet"
    timestamp_column = "ts"
    window = "1d"
    prediction_column = "pred"
    prediction_proba_column = "score"
    target_column = "label"                     # may be NULL until labels land
    sensitive = ["sex"]

Each window's rows are one supersession scope. A run recomputes only windows whose input changed
(a fingerprint of its content and settings, not of where the inputs are, kept in the load watermark), so when late labels land, the window is recomputed and its
new rows supersede the old ones, while `as_of` still shows what was known before. Large windows are
sampled (seeded, stratified by label) for the Evidently report; `sample_size` is recorded on each row.
Evidently itself is imported only when a report runs (see collectors.model_health.drift).
"""
from __future__ import annotations

import glob
import hashlib
import json
import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, field_validator

from collectors.model_health import ERROR, row
from collectors.registry import collector
from metrics.errors import InputError, OnepaneError
from metrics.times import parse_duration, parse_time

log = logging.getLogger(__name__)

REPORTS_DIR = "_reports"          # HTML reports live in <lake>/_reports/...; report_path is relative
DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".tsv")


class DriftSettings(BaseModel):
    """Settings of a `[[source]]` with `type = "drift"`."""
    model_config = ConfigDict(extra="forbid")
    service: str
    model_version: str | None = None
    model_version_column: str = "model_version"   # used when present in the data
    reference: str                                # file, folder, glob, or a SQL query over the store
    current: str | list[str]                      # file(s), folder(s) or glob(s) of batches
    timestamp_column: str = "timestamp"
    window: str = "1d"
    prediction_column: str | None = None
    target_column: str | None = None
    prediction_proba_column: str | None = None
    task: Literal["classification", "regression"] = "classification"
    pos_label: str | int | bool | None = None
    sensitive: list[str] = Field(default_factory=list)
    columns: list[str] | None = None              # features to check (default: all others)
    labels: str | None = None                     # late labels: file/glob with id_column + target
    id_column: str | None = None
    sample_size: int = 5000
    seed: int = 0
    min_rows: int = 30
    drift_share: float = 0.5
    method: str | None = None                     # Evidently stat test for every column
    threshold: float | None = None
    calibration_bins: int = 10
    max_window_rows: int = 200_000               # larger windows: quality on a seeded sample
    html: bool = True

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        try:
            seconds = parse_duration(v).total_seconds()
        except OnepaneError as e:
            raise ValueError(str(e)) from None
        if seconds <= 0:
            raise ValueError("window must be positive")
        return v


# ---- reading inputs -------------------------------------------------------------------------------
def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_query(spec: str) -> bool:
    return bool(re.match(r"^\s*(select|with|from)\b", spec, re.IGNORECASE))


def resolve_files(spec: str | list[str], base: Path | None = None) -> list[str]:
    """Files named by a path, a folder (its Parquet/CSV files, recursively) or a glob."""
    specs = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for s in specs:
        p = Path(s)
        if not p.is_absolute() and base is not None:
            p = base / p
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.name.endswith(DATA_SUFFIXES))
        elif any(ch in str(p) for ch in "*?["):
            found = sorted(f for f in glob.glob(str(p), recursive=True) if Path(f).is_file())
        else:
            found = [str(p)] if p.is_file() else []
        if not found:
            raise InputError("no Parquet/CSV files found (a file, folder or glob is expected)", file=s)
        out += found
    return out


def reader_sql(files: list[str]) -> str:
    """One SELECT over Parquet and/or CSV files, columns matched by name."""
    parquet = [f for f in files if f.endswith(".parquet")]
    text = [f for f in files if not f.endswith(".parquet")]
    parts = []
    if parquet:
        # pandas writes its index as __index_level_N__: not data, so left out
        parts.append("SELECT COLUMNS(lambda c: NOT regexp_matches(c, '^__index_level_[0-9]+__$')) FROM "
                     f"read_parquet([{', '.join(map(_sql_str, parquet))}], union_by_name = true)")
    if text:
        parts.append(f"SELECT * FROM read_csv([{', '.join(map(_sql_str, text))}], union_by_name = true, header = true)")
    return " UNION ALL BY NAME ".join(parts)


def create_view(con: duckdb.DuckDBPyConnection, name: str, files: list[str], where: str) -> None:
    """A temp view over files; an unreadable file is an InputError naming it."""
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {reader_sql(files)}")
        con.execute(f"DESCRIBE {name}").fetchall()
    except duckdb.Error as e:
        raise InputError(f"cannot read: {str(e).splitlines()[0]}", file=where) from None


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {view}").fetchall()}


def _ts_expr(col: str, typ: str) -> str:
    q = _ident(col)
    if any(t in typ for t in ("INT", "DOUBLE", "FLOAT", "DECIMAL")):
        return f"to_timestamp({q}::DOUBLE)"
    return f"CAST({q} AS TIMESTAMPTZ)"


def _read_reference(store, spec: str, base: Path | None, con: duckdb.DuckDBPyConnection,
                    limit: int, seed: int):
    """The reference as pandas: a SQL query over the store, or files (reservoir-sampled in DuckDB
    when they hold more than `limit` rows)."""
    if is_query(spec):
        try:
            return store.query(spec).to_pandas()
        except duckdb.Error as e:
            raise InputError(f"reference query failed: {e}", file="reference") from None
    files = resolve_files(spec, base)
    create_view(con, "ref_raw", files, spec)
    n = con.execute("SELECT count(*) FROM ref_raw").fetchone()[0]
    sample = f" USING SAMPLE reservoir({int(limit)} ROWS) REPEATABLE ({int(seed)})" if n > limit else ""
    return con.execute(f"SELECT * FROM ref_raw{sample}").df()


# ---- one window ----------------------------------------------------------------------------------
def window_rows(frame, reference, s: DriftSettings, features: list[str], where: str,
                counts: tuple[int, dict[str, int], Any]) -> tuple[list[dict], Any]:
    """All result rows of one window (and the Evidently snapshot, for its HTML report).
    `frame` holds the window's rows (a seeded sample of `max_window_rows` when larger); `counts`
    are (rows, nulls per feature, latest event time) over the whole window."""
    from collectors.model_health import quality
    from collectors.model_health.drift import run_drift
    from collectors.model_health.sampling import sample

    rows = quality.data_quality(*counts)
    snapshot = None
    output = s.prediction_column or s.prediction_proba_column      # whose drift is prediction drift
    pred = output if output and output in reference.columns else None
    if output and pred is None:
        rows.append(row("prediction_drift", None, feature=output,
                        details={"reason": "reference has no prediction column"}))
    if len(frame) < s.min_rows:
        reason = {"reason": f"{len(frame)} rows in window, fewer than min_rows={s.min_rows}"}
        rows += [row("drift_score", None, feature=c, sample_size=len(frame), details=reason) for c in features]
        rows.append(row("drift_share", None, threshold=s.drift_share, sample_size=len(frame), details=reason))
        if pred:
            rows.append(row("prediction_drift", None, feature=pred, sample_size=len(frame), details=reason))
    else:
        strat = s.target_column if s.target_column in frame.columns else None
        cur = sample(frame, s.sample_size, s.seed, strat)
        ref = sample(reference, s.sample_size, s.seed, strat if strat in reference.columns else None)
        try:
            result = run_drift(ref, cur, features, pred, drift_share=s.drift_share, method=s.method,
                               threshold=s.threshold, where=where)
            rows += result.rows
            snapshot = result.snapshot
        except OnepaneError:
            raise
        except Exception as e:  # noqa: BLE001 - one bad window is recorded, the others go on
            log.warning("drift report failed service=%s error=%s", s.service, e)
            rows.append(row("drift_share", None, status=ERROR, threshold=s.drift_share,
                            details={"error": f"{type(e).__name__}: {e}"}))
    if s.target_column and s.target_column in frame.columns and (s.prediction_column or (
            s.task == "classification" and s.prediction_proba_column)):
        if s.task == "classification":
            rows += quality.classification(frame, s.target_column, s.prediction_column,
                                           s.prediction_proba_column, s.pos_label)
        else:
            rows += quality.regression(frame, s.target_column, s.prediction_column)
    if s.task == "classification" and s.target_column and s.prediction_proba_column:
        rows += quality.calibration(frame, s.target_column, s.prediction_proba_column, s.pos_label,
                                    s.calibration_bins)
    if s.sensitive and s.task == "classification":
        rows += quality.fairness(frame, s.sensitive, s.prediction_column,
                                 s.target_column if s.target_column in frame.columns else None,
                                 s.prediction_proba_column, s.pos_label)
    return rows, snapshot


# ---- the collector --------------------------------------------------------------------------------
ROW_SCHEMA = {"window_start": "datetime", "window_end": "datetime", "service": str,
              "model_version": str, "metric": str, "feature": str, "value": float,
              "threshold": float, "status": str, "method": str, "sample_size": int,
              "report_path": str, "details": str, "source": str}


def to_frame(rows: list[dict]):
    import polars as pl

    types = {"datetime": pl.Datetime("us", "UTC"), str: pl.Utf8, float: pl.Float64, int: pl.Int64}
    schema = {k: types[v] for k, v in ROW_SCHEMA.items()}
    clean = [{k: (json.dumps(r.get(k), default=str, sort_keys=True) if k == "details" and r.get(k) is not None
                  else r.get(k)) for k in ROW_SCHEMA} for r in rows]
    return pl.DataFrame(clean, schema=schema, orient="row") if clean else pl.DataFrame(schema=schema)


def _base_dir(config) -> Path | None:
    return Path(config.path).parent if config is not None and getattr(config, "path", None) else None


@collector("drift", settings=DriftSettings, table="raw_model_health",
           help="Drift (Evidently), quality, calibration, fairness and data quality per window "
                "-> raw_model_health")
def collect_drift(s: DriftSettings, ctx) -> None:
    only = ctx.options.get("service")
    if only and only != s.service:
        log.info("skipped source=%s service=%s (--service %s)", ctx.source, s.service, only)
        return
    window = parse_duration(ctx.options.get("window") or s.window)
    compute(ctx.store, s, source=ctx.source, window=window, start=ctx.start, end=ctx.end,
            previous=ctx.watermark({}), open_load=ctx.load, base=_base_dir(ctx.config),
            full_refresh=bool(ctx.options.get("full_refresh")))


def _prepare_current(con, s: DriftSettings, base: Path | None) -> tuple[str, list[str]]:
    """Create view `cur` (timestamp as TIMESTAMPTZ, late labels joined); return (where, features)."""
    where = s.current if isinstance(s.current, str) else ", ".join(s.current)
    files = resolve_files(s.current, base)
    create_view(con, "cur_raw", files, where)
    cols = _columns(con, "cur_raw")
    needed = [s.timestamp_column, s.prediction_column, s.prediction_proba_column, *s.sensitive,
              *(s.columns or [])]
    if not s.labels:
        needed.append(s.target_column)
    for c in filter(None, needed):
        if c not in cols:
            raise InputError(f"column not found (have: {', '.join(cols)})", file=where, column=c)
    ts = _ts_expr(s.timestamp_column, cols[s.timestamp_column])
    select = f"SELECT * REPLACE ({ts} AS {_ident(s.timestamp_column)}) FROM cur_raw"
    if s.labels:
        if not s.id_column or not s.target_column:
            raise InputError("`labels` needs `id_column` and `target_column`", file=where)
        try:
            lab_files = resolve_files(s.labels, base)
        except InputError:                  # labels not landed yet: windows stay unlabelled
            log.info("no label files yet labels=%s", s.labels)
            lab_files = []
        if lab_files:
            create_view(con, "lab", lab_files, s.labels)
        else:
            con.execute(f"CREATE TEMP VIEW lab AS SELECT NULL::VARCHAR AS {_ident(s.id_column)}, "
                        f"NULL::VARCHAR AS {_ident(s.target_column)} WHERE false")
        lcols = _columns(con, "lab")
        for c in (s.id_column, s.target_column):
            if c not in lcols:
                raise InputError("column not found in labels", file=s.labels, column=c)
        if s.id_column not in cols:
            raise InputError("column not found", file=where, column=s.id_column)
        tgt, idc = _ident(s.target_column), _ident(s.id_column)
        clash = con.execute(f"SELECT {idc}::VARCHAR FROM lab WHERE {tgt} IS NOT NULL GROUP BY 1 "
                            f"HAVING count(DISTINCT {tgt}) > 1 LIMIT 1").fetchone()
        if clash:
            raise InputError(f"id {clash[0]!r} has conflicting labels", file=s.labels, column=s.id_column)
        lab = (f"(SELECT {idc}::VARCHAR AS __id, any_value({tgt}) AS __label FROM lab "
               f"WHERE {tgt} IS NOT NULL GROUP BY 1)")
        join = f"FROM ({select}) c LEFT JOIN {lab} l ON c.{idc}::VARCHAR = l.__id"
        if s.target_column in cols:     # a landed label wins over one in the log
            body = (f"SELECT c.* REPLACE (coalesce(l.__label::{cols[s.target_column]}, c.{tgt}) "
                    f"AS {tgt}) {join}")
        else:
            body = f"SELECT c.*, l.__label AS {tgt} {join}"
        con.execute(f"CREATE TEMP VIEW cur AS {body}")
    else:
        con.execute(f"CREATE TEMP VIEW cur AS {select}")
    skip = {s.timestamp_column, s.prediction_column, s.target_column, s.prediction_proba_column,
            s.id_column, s.model_version_column}
    features = list(s.columns) if s.columns else [c for c in _columns(con, "cur") if c not in skip]
    return where, features


def compute(store, s: DriftSettings, *, source: str, window: timedelta, start=None, end=None,
            previous: dict | None = None, open_load=None, base: Path | None = None,
            full_refresh: bool = False) -> dict:
    """Compute every window whose inputs changed since the previous run and publish its rows.
    Returns {"windows": n computed, "rows": n rows, "skipped": n unchanged}."""
    from collectors.model_health.drift import save_report
    from metrics.lake import Load

    previous = previous or {}
    seen: dict[str, str] = dict(previous.get("windows") or {})
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        where, features = _prepare_current(con, s, base)
        reference = _read_reference(store, s.reference, base, con, 20 * s.sample_size, s.seed)
        ref_where = "reference query" if is_query(s.reference) else s.reference
        missing = [c for c in features if c not in reference.columns]
        if missing:
            raise InputError(f"column(s) of current missing from reference: {', '.join(missing)}",
                             file=ref_where, column=missing[0])
        if len(reference) == 0:
            raise InputError("reference has no rows", file=ref_where)
        identifiers = [] if s.columns else identifier_columns(reference, features)
        if identifiers:                 # unique per row (ids, free text): drift means nothing
            log.info("left out identifier-like columns source=%s columns=%s", source, identifiers)
            features = [c for c in features if c not in identifiers]
        ref_fp = hashlib.sha256(str(int(_hash_frame(reference))).encode()).hexdigest()[:12]
        settings_fp, legacy_fp = _settings_fingerprint(s, window), _legacy_settings_fingerprint(s, window)

        secs = int(window.total_seconds())
        ts = _ident(s.timestamp_column)
        has_mv = s.model_version_column in _columns(con, "cur")
        mv_expr = _ident(s.model_version_column) + "::VARCHAR" if has_mv else "NULL::VARCHAR"
        filt = ""
        params: list[Any] = []
        if has_mv and s.model_version:
            filt = f" WHERE {mv_expr} = ?"
            params.append(s.model_version)
        try:
            null_ts = con.execute(f"SELECT count(*) FROM cur WHERE {ts} IS NULL").fetchone()[0]
        except duckdb.Error as e:
            raise InputError(f"not a timestamp: {str(e).splitlines()[0]}", file=where,
                             column=s.timestamp_column) from None
        if null_ts:
            raise InputError(f"{null_ts} row(s) have no timestamp", file=where, column=s.timestamp_column)
        stats = con.execute(f"""
            SELECT to_timestamp(floor(epoch({ts}) / {secs}) * {secs}) AS ws, {mv_expr} AS mv,
                   count(*) AS n, sum(hash(cur)::HUGEINT)::VARCHAR AS h
            FROM cur{filt} GROUP BY ALL ORDER BY ws""", params).fetchall()
        if not stats:
            raise InputError("current has no rows", file=where)
        versions = sorted({r[1] for r in stats}, key=lambda v: (v is None, v or ""))
        if s.model_version and not has_mv:
            versions = [None]
        found = {(r[0], r[1]): (r[2], r[3]) for r in stats}
        lo = min(r[0] for r in stats) if start is None else _floor(parse_time(start), secs)
        hi = max(r[0] for r in stats) + window if end is None else parse_time(end)
        todo = []
        t = lo
        while t < hi:
            for mv in versions:
                n, h = found.get((t, mv), (0, "0"))
                key = f"{secs}|{mv if mv is not None else ''}|{t.isoformat()}"
                fp = f"{settings_fp}:{ref_fp}:{n}:{h}"
                if full_refresh or seen.get(key) not in (fp, f"{legacy_fp}:{ref_fp}:{n}:{h}"):
                    todo.append((t, mv, key, fp, n, seen.get(key)))
            t += window
        skipped = len(versions) * max(0, int((hi - lo) / window)) - len(todo)
        if not todo:
            log.info("nothing changed source=%s windows=%d", source, skipped)
            return {"windows": 0, "rows": 0, "skipped": skipped}

        load = open_load(source_file=where) if open_load else Load(store, "raw_model_health",
                                                                    collector="drift", source=source)
        reports: list[Path] = []
        total = 0
        try:
            with load:
                scopes = []
                for ws, mv, key, fp, n, before in todo:
                    mv_out = s.model_version if (s.model_version and not has_mv) else mv
                    we = ws + window
                    cond = f"{ts} >= ? AND {ts} < ?"
                    args: list[Any] = [ws, we]
                    if has_mv:
                        cond += f" AND {mv_expr} IS NOT DISTINCT FROM ?"
                        args.append(mv)
                    got = con.execute(f"SELECT count(*), max({ts}), "
                                      + ", ".join(f"count({_ident(c)})" for c in features)
                                      + f" FROM cur WHERE {cond}", args).fetchone()
                    counts = (got[0], {c: got[0] - k for c, k in zip(features, got[2:])}, got[1])
                    q = f"SELECT * FROM cur WHERE {cond}"
                    if got[0] > s.max_window_rows:      # bounded memory: a seeded, exact-size sample
                        q += f" ORDER BY hash(cur, {int(s.seed)}) LIMIT {int(s.max_window_rows)}"
                    frame = con.execute(q, args).df()
                    rows, snapshot = window_rows(frame, reference, s, features, where, counts)
                    if before:                  # rows that landed after the window was computed
                        prev_n = int(before.split(":")[2])
                        rows.append(row("late_rows", max(n - prev_n, 0), sample_size=n,
                                        details={"rows_before": prev_n}))
                    report_path = None
                    if snapshot is not None and s.html:
                        rel = Path(REPORTS_DIR) / _safe(s.service) / _safe(mv_out or "_") / \
                            f"{ws.strftime('%Y%m%dT%H%M%SZ')}-{secs}s-{load.load_id}.html"
                        save_report(snapshot, store.lake / rel, store.lake / REPORTS_DIR / "js")
                        reports.append(store.lake / rel)
                        report_path = rel.as_posix()
                    for r in rows:
                        if r["metric"] == "drift_share" and identifiers:
                            r["details"] = {**(r["details"] or {}), "identifier_columns": identifiers}
                        r.update(window_start=ws, window_end=we, service=s.service,
                                 model_version=mv_out, source=source)
                        if report_path and r["metric"] in ("drift_score", "drift_share", "prediction_drift"):
                            r["report_path"] = report_path
                    scope = f"drift/{source}/{s.service}/{mv_out or '_'}/{secs}s/{ws.isoformat()}"
                    total += load.write(to_frame(rows), scope=scope)
                    scopes.append(scope)
                    if not any(r["status"] == ERROR for r in rows):
                        seen[key] = fp
                load.supersede_scopes(scopes)
                load.watermark = {"windows": seen}
                load.details = {"windows": len(todo), "skipped_unchanged": skipped}
        except BaseException:
            for p in reports:
                p.unlink(missing_ok=True)
            raise
        log.info("model health source=%s windows=%d rows=%d skipped=%d", source, len(todo), total, skipped)
        return {"windows": len(todo), "rows": total, "skipped": skipped}
    finally:
        con.close()


def identifier_columns(reference, features: list[str], min_rows: int = 50) -> list[str]:
    """Non-numeric columns whose values are (almost) all distinct in the reference, such as
    request ids: every window would look drifted. Name them in `columns` to check them anyway."""
    from pandas.api.types import is_numeric_dtype

    n = len(reference)
    if n < min_rows:
        return []
    return [c for c in features
            if not is_numeric_dtype(reference[c]) and reference[c].nunique() > 0.9 * n]


# Settings naming where the inputs are, not what they hold: the window's own fingerprint carries the
# content (reference hash, row count and row hash of the window with its late labels joined), so a
# store and its inputs moved or copied elsewhere (paths rewritten) recompute nothing.
LOCATION_SETTINGS = {"reference", "current", "labels"}


def _settings_fingerprint(s: DriftSettings, window: timedelta) -> str:
    """What changes a window's rows besides its data: every setting but the input locations."""
    return hashlib.sha256(s.model_dump_json(exclude=LOCATION_SETTINGS).encode()
                          + str(window).encode()).hexdigest()[:12]


def _legacy_settings_fingerprint(s: DriftSettings, window: timedelta) -> str:
    """The fingerprint earlier versions kept (input paths included): still accepted where the inputs
    have not moved, so an upgrade does not recompute every window."""
    return hashlib.sha256(s.model_dump_json().encode() + str(window).encode()).hexdigest()[:12]


def _hash_frame(frame) -> int:
    import pandas as pd

    return int(pd.util.hash_pandas_object(frame.astype(str), index=False).sum())


def _floor(t: datetime, secs: int) -> datetime:
    return datetime.fromtimestamp((int(t.timestamp()) // secs) * secs, tz=timezone.utc)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", name)


# ---- importing existing Evidently reports ---------------------------------------------------------
def ingest_evidently(store, paths, *, service: str | None = None, model_version: str | None = None,
                     at=None, window: str = "1d", prediction_column: str | None = None,
                     config=None, source: str | None = None) -> list[dict]:
    """Load Evidently report JSON files (0.7 `Snapshot.dict()`/`save_json`, 0.7 full snapshot, or
    legacy 0.4-style `Report.json()`) into raw_model_health, one load per file.

    The window is [floor(t, window), +window) for t = `at`, else the report's own timestamp.
    The service is `service`, else the snapshot's metadata `service`. A file already ingested
    (same content) is skipped. Returns one summary dict per file."""
    from collectors.runner import file_hash
    from metrics.lake import Load, already_loaded

    win = parse_duration(window)
    secs = int(win.total_seconds())
    out = []
    for path in ([paths] if isinstance(paths, (str, Path)) else list(paths)):
        path = str(path)
        if not Path(path).is_file():
            raise InputError("file not found", file=path)
        digest = file_hash(path)
        if already_loaded(store, "raw_model_health", digest):
            # still validated: a bad invocation is an error even for a file loaded before
            _parse_report(path, service, model_version, at, secs, prediction_column, config)
            out.append({"file": path, "rows": 0, "skipped": True})
            continue
        # every failure below is recorded as a failed load in the run log
        with Load(store, "raw_model_health", collector="evidently", source=source or "evidently",
                  source_file=path, content_hash=digest) as load:
            svc, ws, shape, rows = _parse_report(path, service, model_version, at, secs,
                                                 prediction_column, config)
            for r in rows:
                r.update(window_start=ws, window_end=ws + win, service=svc,
                         model_version=r.pop("_mv"), source=source or f"evidently:{Path(path).name}")
                r["details"] = {**(r["details"] or {}), "shape": shape, "file": Path(path).name}
            mv = rows[0]["model_version"]
            n = load.write(to_frame(rows), scope=f"evidently/{svc}/{mv or '_'}/{ws.isoformat()}/{digest[:12]}")
        if load.status == "duplicate":         # the same content was committed meanwhile
            out.append({"file": path, "rows": 0, "skipped": True, "load_id": load.duplicate_of})
            continue
        out.append({"file": path, "rows": n, "skipped": False, "load_id": load.load_id, "shape": shape,
                    "window_start": ws, "service": svc})
    return out


def _parse_report(path: str, service, model_version, at, secs: int, prediction_column, config):
    """(service, window start, shape, rows) of one report file; InputError on bad input.
    UTF-8/UTF-16 (BOM) and gzip (by magic bytes) are read; the report's time is bounds-checked."""
    from collectors.dates import Bounds
    from collectors.model_health.drift import (detect_shape, dict_from_snapshot, rows_from_dict,
                                               rows_from_legacy)
    from collectors.textfiles import read_text

    try:
        doc = json.loads(read_text(Path(path)), parse_constant=_json_constant)
    except json.JSONDecodeError as e:
        raise InputError(f"not JSON: {e.msg}", file=path, line=e.lineno) from None
    except RecursionError:
        raise InputError("not JSON: nested too deeply", file=path) from None
    shape = detect_shape(doc) if isinstance(doc, dict) else None
    if not shape:
        raise InputError("not an Evidently report: expected Snapshot.dict() "
                         '{"metrics": [{"config": ...}]}, a 0.7 snapshot with "metric_results", '
                         'or a legacy report {"metrics": [{"metric": ..., "result": ...}]}', file=path)
    meta = doc.get("metadata") or {}
    meta = meta if isinstance(meta, dict) else {}
    svc = service or meta.get("service")
    if not svc:
        raise InputError("no service: pass --service (the report's metadata has none)", file=path)
    mv = model_version or meta.get("model_version") or meta.get("model_id")
    when = at if at is not None else doc.get("timestamp")
    if when is None:
        raise InputError("the report has no timestamp: pass --at TIME", file=path)
    try:
        t = parse_time(when)
    except (OnepaneError, ValueError, OverflowError, OSError):
        raise InputError(f"not a time: {str(when)[:200]!r}", file=path, column="timestamp") from None
    bounds = Bounds.from_config(config)
    if not bounds.earliest <= t <= bounds.latest:
        raise InputError(bounds.message(when), file=path, column="timestamp")
    ws = _floor(t, secs)
    try:
        if shape == "legacy":
            rows = rows_from_legacy(doc, prediction_column)
        else:
            rows = rows_from_dict(dict_from_snapshot(doc) if shape == "snapshot" else doc, prediction_column)
    except (AttributeError, TypeError, KeyError, ValueError) as e:
        raise InputError(f"malformed Evidently report: {type(e).__name__}: {str(e)[:200]}", file=path) from None
    if not rows:
        raise InputError("no drift or quality metrics in the report (ValueDrift, "
                         "DriftedColumnsCount, Accuracy, ...; legacy DataDriftTable, "
                         "ColumnDriftMetric, ClassificationQualityMetric, ...)", file=path)
    for r in rows:
        r["_mv"] = mv
    return svc, ws, shape, rows


def _json_constant(name: str) -> float:
    """NaN / Infinity in a report (Python's json writes them) stay floats; checks treat them as failed."""
    return float(name.replace("Infinity", "inf"))


# ---- ad-hoc comparison ----------------------------------------------------------------------------
def compare_files(reference: str, current: str, *, columns: list[str] | None = None,
                  sample_size: int = 5000, seed: int = 0, method: str | None = None,
                  threshold: float | None = None, html: str | None = None) -> dict:
    """Drift between two Parquet/CSV files (or folders/globs):
    {"drift_share": x, "columns": [{"column", "drifted", "score", "method", "threshold", "status"}],
     "sample": {...}}. Columns must match: one missing on either side is an error."""
    from collectors.model_health.drift import run_drift
    from collectors.model_health.sampling import sample

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        frames = {}
        for side, spec in (("reference", reference), ("current", current)):
            create_view(con, side, resolve_files(spec), spec)
            frames[side] = con.execute(f"SELECT * FROM {side}").df()
    finally:
        con.close()
    ref, cur = frames["reference"], frames["current"]
    wanted = columns or list(ref.columns)
    for side, spec, frame in (("reference", reference, ref), ("current", current, cur)):
        missing = [c for c in (columns or list(ref.columns) + list(cur.columns)) if c not in frame.columns]
        if missing:
            raise InputError(f"column(s) missing from {side}: {', '.join(dict.fromkeys(missing))}",
                             file=spec, column=missing[0])
    if len(ref) == 0 or len(cur) == 0:
        raise InputError("no rows", file=reference if len(ref) == 0 else current)
    n_ref, n_cur = len(ref), len(cur)
    ref, cur = sample(ref, sample_size, seed), sample(cur, sample_size, seed)
    result = run_drift(ref, cur, wanted, None, method=method, threshold=threshold, where=current)
    if html and result.snapshot is not None:
        result.snapshot.save_html(html)
    cols = [{"column": r["feature"], "drifted": None if r["status"] not in ("ok", "drifted") else r["status"] == "drifted",
             "score": r["value"], "method": r["method"], "threshold": r["threshold"], "status": r["status"]}
            for r in result.columns]
    return {"drift_share": result.share, "columns": cols,
            "sample": {"reference_rows": len(ref), "current_rows": len(cur),
                       "reference_total": n_ref, "current_total": n_cur}}
