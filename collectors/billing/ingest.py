"""Ingest billing files: detect the format, map to FOCUS, validate, publish one all-or-nothing load.

Per file:
1. Same content already loaded (content hash) -> nothing to do.
2. Read it with DuckDB (CSV with number and time columns typed by the reader when they parse,
   else text - see `prepare`; Parquet, JSON lines; LLM vendor JSON pages are flattened in Python
   first), detect the format from the headers unless forced.
3. One SQL pass maps to FOCUS, parses numbers and timestamps (a bad cell raises inside SQL; a second
   diagnostic query then finds the first bad line and column), normalizes tags, extracts the
   allocation keys (once per distinct tag text of the first rows, see `tag_lookup`; per row for
   the others) and computes the supersession scope `<format>/<billing account>/<YYYY-MM>`, and
   the Load COPYs it to Parquet.
4. A complete delivery (a full-period export: FOCUS, AWS CUR, Azure cost details with a billing
   period) supersedes earlier rows in its scopes; a partial, date-ranged file (GCP, OCI, Azure v1,
   LLM vendor pulls) supersedes nothing - `stg_cost` keeps the newest copy of each identical row
   (`x_row_hash`), so overlapping ranges never double-count.
"""
from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterable

import duckdb

from collectors.billing import aws_cur, azure, checks, focus, gcp, llm_vendors, oci
from collectors.billing.focus import (BAD, CSV_LINE, TARGETS, TIME_TARGETS, Check, Columns, Exprs, Mapping,
                                      Source, canon, csv_error, lit, open_source, q)
from collectors.billing.iso4217 import ISO_4217
from metrics.config import Settings
from metrics.errors import InputError, OnepaneError
from metrics.lake import Load, already_loaded
from metrics.store import Store
from metrics.times import parse_duration
from collectors.dates import Bounds, quote
from collectors.textfiles import mixed_newlines, normalize_newlines

log = logging.getLogger(__name__)

FORMATS = ("focus", "aws-cur", "azure", "gcp", "oci", "openai", "anthropic")
MODULES = {"focus": focus, "aws-cur": aws_cur, "azure": azure, "gcp": gcp, "oci": oci}
DETECT_ORDER = ("focus", "aws-cur", "oci", "gcp", "azure")
LINE_NUMBERS_MAX_BYTES = 64 << 20
ROW_GROUP_SIZE = 32768          # smaller row groups keep the Parquet writer's buffers small
TAG_LOOKUP = "_onepane_tag_lookup"
TAG_SAMPLE_ROWS = 10_000
PATTERNS = ("*.csv", "*.csv.gz", "*.parquet", "*.json", "*.jsonl", "*.ndjson", "*.json.gz",
            "*.jsonl.gz")


def detect_format(cols: Columns, path: Path | str = "") -> str:
    for name in DETECT_ORDER:
        if MODULES[name].detect(cols):
            return name
    llm = llm_vendors.detect_csv(cols)
    if llm:
        return llm
    raise InputError("unknown billing export format; use --format "
                     f"({'|'.join(FORMATS)}). Header starts: {', '.join(cols.names[:8])}",
                     file=str(path), line=1)


def looks_like_billing(path: Path) -> bool:
    """Cheap sniff: does the file's header (or schema) match a billing format?"""
    if llm_vendors.is_vendor_json(path):
        return True
    con = duckdb.connect()
    try:
        detect_format(open_source(con, path).cols, path)
        return True
    except (InputError, duckdb.Error, OSError):
        return False
    finally:
        con.close()


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files from file names, folders (their export files, recursively) and globs, sorted.

    A file named explicitly is always loaded (and fails loudly if it is not a bill); files found
    in a folder or by a glob are skipped when their header matches no billing format (lookup
    tables, manifests, golden files next to the exports)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        found: list[Path] = []
        if p.is_dir():
            for pat in PATTERNS:
                found += [f for f in p.rglob(pat) if not f.name.lower().endswith("manifest.json")]
        elif any(ch in str(p) for ch in "*?["):
            found += [Path(f) for f in glob.glob(str(p), recursive=True) if Path(f).is_file()]
        if found:
            for f in found:
                if looks_like_billing(f):
                    out.append(f)
                else:
                    log.warning("skipped file=%s reason=not a billing export", f)
        elif p.is_dir() or any(ch in str(p) for ch in "*?["):
            continue
        elif p.exists():
            out.append(p)
        else:
            raise InputError("no such file or folder", file=str(p))
    seen, files = set(), []
    for f in sorted(out):
        if f not in seen:
            seen.add(f)
            files.append(f)
    return files


# ---- SQL -------------------------------------------------------------------------------------
def _json_path(key: str) -> str:
    return '$."' + key.replace('"', '\\"') + '"'


def _norm_key(k: str) -> str:
    k = k.strip().lower()
    k = re.sub(r"^(resourcetags/|tags/)", "", k)
    return re.sub(r"^user:", "", k)


def allocation_sql(config: Settings) -> tuple[list[str], dict[str, str]]:
    """JSON paths to extract once per row, and the x_service/x_team/x_model_version expressions."""
    paths: list[str] = []

    def idx(key: str) -> int:
        p = _json_path(_norm_key(key))
        if p not in paths:
            paths.append(p)
        return paths.index(p) + 1          # DuckDB lists are 1-based

    rules = []
    for svc in config.services:
        if svc.tags:
            cond = " AND ".join(f"_k[{idx(k)}] = {lit(str(v).strip())}" for k, v in svc.tags.items())
            rules.append(f"CASE WHEN {cond} THEN {lit(svc.name)} END")
    a = config.allocation
    service = rules + [f"_k[{idx(k)}]" for k in a.service_keys]
    team = [f"_k[{idx(k)}]" for k in a.team_keys]
    version = [f"_k[{idx(k)}]" for k in a.model_version_keys]

    def co(parts: list[str]) -> str:
        return f"coalesce({', '.join(parts)})" if parts else "NULL"
    return paths, {"x_service": co(service), "x_team": co(team), "x_model_version": co(version)}


def key_extraction(paths: list[str]) -> str:
    """SQL over normalized `tags`: the list of the values at `paths` (see allocation_sql)."""
    path_list = "[" + ", ".join(lit(p) for p in paths) + "]"
    return f"json_extract_string(tags, {path_list})" if paths else "CAST(NULL AS VARCHAR[])"


def tag_lookup(con: duckdb.DuckDBPyConnection, src: Source, m: Mapping, config: Settings) -> bool:
    """Tags repeat: most rows of a bill carry one of a few hundred tag texts. Normalize the
    distinct texts of the first TAG_SAMPLE_ROWS rows once, with their allocation keys, into the
    TAG_LOOKUP table; the load then joins it instead of parsing every row's JSON (-7% of a
    10M-row ingest). Texts not in it take the per-row path, so the result is the same either way
    (the table is made by the same SQL). True when worth it: the sample repeats its texts at
    least four times on average, and reads and normalizes cleanly (otherwise the load itself
    reports the bad cell)."""
    if not m.tags:
        return False
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TAG_LOOKUP} AS SELECT raw, n, tags, "
            f"{key_extraction(allocation_sql(config)[0])} AS keys "
            f"FROM (SELECT raw, n, onepane_tags(raw) AS tags FROM (SELECT {m.tags} AS raw, count(*) AS n "
            f"FROM (FROM {src.relation_sql} LIMIT {TAG_SAMPLE_ROWS}) AS src GROUP BY raw))")
        n, distinct = con.execute(f"SELECT sum(n), count(raw) FROM {TAG_LOOKUP}").fetchone()
        if not distinct or distinct * 4 > n:
            return False
        # the CSV reader cannot estimate its rows, so the optimizer would build the join's hash
        # table over the bill (all of it in memory) instead of over the small lookup table
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    except duckdb.Error:
        return False
    return True


def utc(naive: str) -> str:
    """Naive UTC TIMESTAMP -> TIMESTAMPTZ without ICU (a plain cast costs 15x more)."""
    return f"make_timestamptz(epoch_us({naive}))"


def build_sql(src: Source, m: Mapping, e: Exprs, config: Settings, line_numbers: bool,
              lookup: bool = False) -> tuple[str, list[str]]:
    """The one SELECT producing raw_focus rows (all typed), and its column names. `lookup`: take
    the tags and allocation keys of texts in TAG_LOOKUP (see tag_lookup) from there."""
    unused = [c for c in src.cols.names if c not in e.used]
    extra = ("CAST(json_object(" + ", ".join(f"{lit(c)}, {e.cell(c)}" for c in unused) + ") AS VARCHAR)"
             if unused else "NULL")
    # Row identity only matters for partial deliveries (a complete one replaces its scopes).
    row_hash = ((f"hash({lit(m.fmt)}, " + ", ".join(e.cell(c) for c in src.cols.names) + ")")
                if not m.complete else "NULL")
    line = (f"row_number() OVER () + {src.line_offset}" if line_numbers else "NULL")

    def select(exprs: dict[str, str], line_expr: str, hash_expr: str, from_extra: str = "",
               where: str | None = None) -> str:
        parts = [f"{exprs.get(t) or ('NULL::TIMESTAMP' if t in TIME_TARGETS else 'NULL')} AS {t}"
                 for t in TARGETS]
        parts += [f"{m.tags or 'NULL'} AS _tags_raw", f"{extra} AS x_extra",
                  f"{line_expr} AS x_source_line", f"{hash_expr} AS x_row_hash"]
        return (f"SELECT {', '.join(parts)} FROM {src.relation_sql} AS src{from_extra}"
                + (f" WHERE {where}" if where else ""))

    sets = [select(m.exprs, line, row_hash)]
    for over, from_extra in m.extra_rows:
        merged = {**m.exprs, **{k: v for k, v in over.items()}}
        credit_hash = (f"hash({row_hash}, 'credit', cr.c.id, cr.c.amount)" if not m.complete
                       else "NULL")
        sets.append(select(merged, "NULL", credit_hash, from_extra, m.extra_filter))
    lag = parse_duration(config.pricing.finalization_lag)
    paths, alloc = allocation_sql(config)
    extract = key_extraction(paths)
    finalizes = (f"coalesce(billing_period_end, billing_period_start + INTERVAL 1 MONTH) "
                 f"+ INTERVAL '{int(lag.total_seconds())} seconds'")
    tags, keys, join, drop = "onepane_tags(_tags_raw)", extract, "", ""
    if lookup:
        tags = f"CASE WHEN t.raw IS NOT NULL THEN t.tags ELSE {tags} END"
        keys = f"CASE WHEN _t_found THEN _t_keys ELSE {extract} END"
        join = f" LEFT JOIN {TAG_LOOKUP} AS t ON m._tags_raw = t.raw"
        drop = "_t_keys, _t_found, "
    sql = f"""
WITH m AS NOT MATERIALIZED ({' UNION ALL '.join(sets)}),
n AS NOT MATERIALIZED (
    SELECT m.* EXCLUDE (billing_period_start, billing_period_end, _tags_raw, billing_currency),
        nullif(trim(billing_currency), '') AS billing_currency,
        coalesce(billing_period_start, date_trunc('month', charge_period_start)) AS billing_period_start,
        coalesce(billing_period_end, CASE WHEN billing_period_start IS NULL
            THEN date_trunc('month', charge_period_start) + INTERVAL 1 MONTH END) AS billing_period_end,
        {tags} AS tags{', t.keys AS _t_keys, t.raw IS NOT NULL AS _t_found' if lookup else ''}
    FROM m{join}),
k AS NOT MATERIALIZED (SELECT n.*, {keys} AS _k FROM n)
SELECT k.* EXCLUDE (_k, {drop}{', '.join(TIME_TARGETS)}),
    {', '.join(f'{utc(t)} AS {t}' for t in TIME_TARGETS)},
    {alloc['x_service']} AS x_service, {alloc['x_team']} AS x_team,
    {alloc['x_model_version']} AS x_model_version,
    {lit(m.fmt)} AS x_source, {lit(str(src.path))} AS x_source_file,
    {'true' if m.invoice_expected else 'false'} AS x_invoice_expected,
    {utc(finalizes)} AS x_finalizes_at,
    concat({lit(m.fmt + '/')}, coalesce(billing_account_id, '-'), '/',
           coalesce(strftime(billing_period_start, '%Y-%m'), '-')) AS _scope
FROM k"""
    # Columns that are NULL on every row are not written (the views fill them in as NULL).
    given = {t for t, x in m.exprs.items() if x} | set(TIME_TARGETS)
    given |= {t for over, _ in m.extra_rows for t, x in over.items() if x}
    cols = [t for t in TARGETS if t in given or t == "billing_currency"]
    cols += [c for c, on in (("x_extra", bool(unused)), ("x_source_line", line_numbers),
                             ("x_row_hash", not m.complete)) if on]
    cols += ["tags", "x_service", "x_team", "x_model_version", "x_source", "x_source_file",
             "x_invoice_expected", "x_finalizes_at", "_scope"]
    return sql, cols


def locate_bad_value(con: duckdb.DuckDBPyConnection, src: Source, e: Exprs, err: Exception) -> InputError:
    """After a parse error inside the main query: find the first bad line and column (a file the
    reader cannot even scan again gives its reader error, typed)."""
    try:
        return _locate_bad_value(con, src, e, err)
    except duckdb.Error as again:
        return csv_error(again, src) or InputError(
            f"cannot read: {str(again).splitlines()[0][:300]}", file=str(src.path))


def _locate_bad_value(con: duckdb.DuckDBPyConnection, src: Source, e: Exprs, err: Exception) -> InputError:
    con.execute("SET preserve_insertion_order = true")       # row_number() OVER () = file order
    parts = str(err).split(BAD, 1)[1].split("\x1f") if BAD in str(err) else []
    column, kind, value = (parts[1:4] + ["", "", ""])[:3] if parts else ("", "", "")
    value = value.split("\n")[0][:80]
    if e.checks:
        flags = ", ".join(f"{c.bad_sql} AS b{i}" for i, c in enumerate(e.checks))
        where = " OR ".join(f"b{i}" for i in range(len(e.checks)))
        row = con.execute(f"SELECT * FROM (SELECT row_number() OVER () AS rn, {flags} "
                          f"FROM {src.relation_sql} AS src) WHERE {where} ORDER BY rn LIMIT 1").fetchone()
        if row:
            i = next(j for j, b in enumerate(row[1:]) if b)
            chk = e.checks[i]
            cell = con.execute(f"SELECT CAST({q(chk.column)} AS VARCHAR) FROM (SELECT row_number() OVER () "
                               f"AS rn, * FROM {src.relation_sql}) WHERE rn = ?", [row[0]]).fetchone()
            return InputError(f"cannot parse {chk.kind} {quote(cell[0])}", file=str(src.path),
                              line=row[0] + src.line_offset, column=chk.column)
    return InputError(f"cannot parse {kind} {quote(value)}", file=str(src.path), column=column or None)


# ---- writing ---------------------------------------------------------------------------------
def _run(con: duckdb.DuckDBPyConnection, sql: str, bar=None) -> None:
    """Execute; with a progress bar, poll DuckDB's query progress from this thread meanwhile."""
    if bar is None:
        con.execute("SET enable_progress_bar = false")
        con.execute(sql)
        return
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    failure: list[BaseException] = []

    def work():
        try:
            con.execute(sql)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            failure.append(exc)
    th = threading.Thread(target=work, daemon=True)
    th.start()
    while th.is_alive():
        th.join(0.25)
        try:
            pct = con.query_progress()
        except duckdb.Error:
            pct = -1
        if pct is not None and pct >= 0:
            bar.n = int(bar.total * min(pct, 100.0) / 100.0)
            bar.refresh()
    if failure:
        raise failure[0]
    bar.n = bar.total
    bar.refresh()


def write_rows(load: Load, con: duckdb.DuckDBPyConnection, sql: str, columns: list[str],
               bar=None) -> int:
    """Stream the rows into ONE staged Parquet file of the load, then file it under the partition
    folder of its first month (the Load publishes staged files by folder name).

    Unlike Load.write_query this does not use COPY ... PARTITION_BY: DuckDB's partitioned writer
    buffers every partition in memory (+1 GB at 1M rows in our measurements), which breaks the
    bounded-memory promise for large bills. A file may therefore hold several billing months;
    the views never rely on folders (hive_partitioning = false), each row carries its own period.
    Scopes are read back from the staged file (cheap) instead of a second pass over the source."""
    load.staging.mkdir(parents=True, exist_ok=True)
    load._n += 1
    out = load.staging / f"part-{load._n}"
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{load.load_id}-{load._n}-0.parquet"
    select = load._select(columns, None, fill_missing=False)
    try:
        _run(con, f"COPY (SELECT {select} FROM ({sql}) src) TO {lit(str(target))} "
                  f"(FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_SIZE})", bar)
        # the partition expression over the earliest periods (evaluating it per row would format
        # every TIMESTAMPTZ through ICU: 0.6 s on 10M rows)
        n, scopes, first = con.execute(
            f"SELECT n, scopes, {load.part_expr} FROM (SELECT count(*) AS n, "
            f"list(DISTINCT _scope) AS scopes, min(billing_period_start) AS billing_period_start, "
            f"min(charge_period_start) AS charge_period_start "
            f"FROM read_parquet({lit(str(target))}))").fetchone()
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)      # nothing of a failed pass may be published
        raise
    if not n:
        shutil.rmtree(out, ignore_errors=True)
        return 0
    folder = out / f"{load.part_name}={first}"
    folder.mkdir()
    os.replace(target, folder / target.name)
    load.rows += n
    load.scopes.update(scopes or [])
    return n


def summarize(con: duckdb.DuckDBPyConnection, load: Load) -> dict[str, Any]:
    """Totals per currency and month of what was staged, and data-quality warnings."""
    files = sorted(load.staging.rglob("*.parquet"))
    if not files:
        return {"totals": [], "warnings": []}
    # with the table's empty typed file, so columns left out as all-NULL read as NULL
    files.insert(0, load.store.lake / load.table / "_schema.parquet")
    lst = "[" + ", ".join(lit(str(f)) for f in files) + "]"
    # group by the raw period first: formatting a TIMESTAMPTZ per row goes through ICU (slow)
    rows = con.execute(f"""
        SELECT billing_currency, strftime(period, '%Y-%m') AS month, sum(n)::BIGINT,
               CAST(sum(billed) AS VARCHAR), CAST(sum(effective) AS VARCHAR),
               sum(unallocated)::BIGINT
        FROM (SELECT billing_currency, billing_period_start AS period, count(*) AS n,
                     sum(billed_cost) AS billed, sum(effective_cost) AS effective,
                     count(*) FILTER (WHERE x_service IS NULL) AS unallocated
              FROM read_parquet({lst}, union_by_name = true) GROUP BY ALL)
        GROUP BY ALL ORDER BY ALL""").fetchall()
    totals = [{"currency": r[0], "month": r[1], "rows": r[2], "billed_cost": r[3],
               "effective_cost": r[4], "unallocated_rows": r[5]} for r in rows]
    warnings = []
    bad = sorted({r[0] for r in rows if r[0] is not None and r[0].upper() not in ISO_4217})
    for cur in bad:
        n = sum(r[2] for r in rows if r[0] == cur)
        warnings.append({"kind": "non_iso_currency", "currency": cur, "rows": n,
                         "message": f"currency {cur!r} is not an ISO 4217 code; kept as given "
                                    "and never summed with another currency"})
    priced = [r for r in rows if r[0] is None and (r[3] is not None or r[4] is not None)]
    if priced:
        warnings.append({"kind": "no_currency", "rows": sum(r[2] for r in priced),
                         "message": "cost rows without a currency (shown as NULL BillingCurrency)"})
    return {"totals": totals, "warnings": warnings}


# ---- one file --------------------------------------------------------------------------------
def ingest_file(store: Store, path: Path, fmt: str = "auto", config: Settings | None = None,
                source: str | None = None, delivery: str = "auto",
                line_numbers: bool | None = None, progress=None, new_load=None,
                now=None) -> dict[str, Any]:
    """Load one billing file; returns {file, format, rows, load_id, skipped, scopes, warnings}.

    `progress`: a tqdm-like factory (e.g. app.common.progress); shows bytes read and rows/s.
    `new_load(source_file=, content_hash=)`: how to open the Load (a collector passes ctx.load).
    `line_numbers`: fill x_source_line (default: for files under LINE_NUMBERS_MAX_BYTES; numbering
    needs a window over the whole file, which would cost time and memory on huge exports - errors
    still name the exact line either way). `now`: the load time the date bounds are measured
    from (collectors.dates.Bounds; default: the clock)."""
    from collectors.runner import file_hash

    config = config or Settings()
    bounds = Bounds.from_config(config, now)
    path = Path(path)
    if fmt not in ("auto", *FORMATS):
        raise OnepaneError(f"unknown billing format {fmt!r}; use one of auto, {', '.join(FORMATS)}")
    if line_numbers is None:
        line_numbers = path.stat().st_size <= LINE_NUMBERS_MAX_BYTES
    digest = file_hash(path)                    # the content decides idempotence
    prior = already_loaded(store, "raw_focus", digest)
    if prior:
        return _skipped(path, fmt, prior)
    con = duckdb.connect()
    cleanup: list[str] = []
    try:
        con.execute("SET TimeZone = 'UTC'")
        focus.macros(con)
        focus.pyjson_macro(con)
        load = (new_load(source_file=str(path), content_hash=digest) if new_load else
                Load(store, "raw_focus", collector="billing", source=source or "billing",
                     source_file=str(path), content_hash=digest))
        with load:
            # First try with the number and time columns typed in the CSV reader and the null
            # markers tested in SQL (fastest); a marker in a typed column reads again with the
            # reader testing them; any other cell the reader cannot cast sends the file down the
            # tolerant text path, which parses thousands separators and the like, or names the
            # bad cell.
            ncols, mode, line_size, notes, full_dates = None, "lean", None, [], False
            read_path = None        # a copy with normalized line endings, when the file mixes them
            while True:
                src, m, e = prepare(con, path, fmt, ncols, delivery, mode, line_size, full_dates,
                                    read_path)
                sql, cols = build_sql(src, m, e, config, line_numbers,
                                      lookup=tag_lookup(con, src, m, config))
                # row order only matters for numbering lines; without it DuckDB writes in parallel
                con.execute(f"SET preserve_insertion_order = {'true' if line_numbers else 'false'}")
                bar = (progress(total=path.stat().st_size, unit="B", unit_scale=True,
                                desc=path.name, leave=False) if progress else None)
                t0 = time.monotonic()
                try:
                    write_rows(load, con, sql, cols, bar)
                    checks.check_bounds(con, [str(f) for f in sorted(load.staging.rglob("*.parquet"))],
                                        src, e, bounds)
                    if bar is not None:
                        rate = load.rows / max(time.monotonic() - t0, 1e-9)
                        bar.set_postfix_str(f"{load.rows} rows, {rate:,.0f} rows/s")
                        bar.close()
                    break
                except duckdb.Error as err:
                    if bar is not None:
                        bar.close()
                        bar = None
                    if (read_path is None and src.kind == "csv"
                            and ("invalid state" in str(err) or CSV_LINE.search(str(err)))
                            and mixed_newlines(path)):
                        tmp = tempfile.mkdtemp(prefix="onepane-newlines-")
                        cleanup.append(tmp)
                        read_path = normalize_newlines(path, Path(tmp) / "normalized.csv")
                        notes.append({"kind": "mixed_newlines", "message": "the file mixes CRLF and "
                                      "LF line endings; read with both as line ends"})
                        continue
                    size = focus.line_too_long(err)
                    if size and size >= (line_size or 0):
                        line_size = 2 * size            # read again with room for that line
                        continue
                    if not full_dates and ((e.readings and checks.failed_on_time(err))
                                           or (e.numbers and checks.failed_on_number(err))):
                        full_dates = True               # the sample's reading did not fit: use all
                        continue
                    if src.typed:
                        lean_miss = src.markers_in_sql and focus.failed_on_marker(err)
                        mode = "typed" if lean_miss else "text"
                        continue
                    bad = _input_error(con, src, e, err)
                    short = _short_rows(bad, src)
                    if ncols is not None or short is None:
                        raise bad from None
                    # every row may lack the same trailing, always-empty columns (nise CURs do):
                    # read the header's first `short` columns; a later row of another width is
                    # still a ragged-row error.
                    ncols = short
                    notes.append({"kind": "short_rows", "message":
                                       f"rows have {short} fields, the header {len(src.cols.names)}; "
                                       f"trailing columns {src.cols.names[short:]} read as absent"})
            m.warnings += notes
            summary = summarize(con, load)
            load.details = {"format": m.fmt, "delivery": "complete" if m.complete else "partial",
                            "date_readings": {**{c: "timestamp (typed by the reader)"
                                                 for c in e.time_cols},
                                              **checks.describe(e.readings or {})},
                            "number_readings": checks.describe(e.numbers),
                            **summary, "warnings": summary["warnings"] + m.warnings}
            if m.complete and load.scopes:
                supersede(store, load, m)
            for w in summary["warnings"]:
                log.warning("billing data-quality file=%s %s", path, w.get("message", w))
        if load.status == "duplicate":         # the same content was committed meanwhile
            return _skipped(path, fmt, load.duplicate_of)
        return {"file": str(path), "format": m.fmt, "rows": load.rows, "load_id": load.load_id,
                "skipped": False, "scopes": sorted(load.scopes),
                "warnings": load.details.get("warnings", []),
                "date_readings": load.details.get("date_readings", {})}
    finally:
        con.close()
        for tmp in cleanup:
            shutil.rmtree(tmp, ignore_errors=True)


def supersede(store: Store, load: Load, m: Mapping) -> None:
    """Replace earlier rows of the scopes this complete delivery covers - except rows of other
    files of the same manifest-described delivery (an AWS CUR assembly split over several files)."""
    assembly = next((w.get("assemblyId") for w in m.warnings if w.get("kind") == "manifest"), None)
    if not assembly:
        load.supersede_scopes(sorted(load.scopes))
        return
    scopes = sorted(load.scopes)

    def pairs():                  # resolved at the commit, under the commit lock
        con = store.connect()
        try:
            return con.execute(
                "SELECT DISTINCT r._load_id, r._scope FROM raw_focus r "
                "WHERE r._scope IN (SELECT unnest(?::VARCHAR[])) AND r._load_id NOT IN ("
                "  SELECT load_id FROM _onepane_visible_loads WHERE target_table = 'raw_focus' "
                "  AND details LIKE ?)", [scopes, f'%"assemblyId": "{assembly}"%']).fetchall()
        finally:
            con.close()
    load.supersede_by(pairs)


def _skipped(path: Path, fmt: str, prior: str) -> dict[str, Any]:
    log.info("already loaded file=%s load=%s", path, prior)
    return {"file": str(path), "format": fmt, "rows": 0, "load_id": prior, "skipped": True,
            "scopes": [], "warnings": []}


def _short_rows(err: InputError, src: Source) -> int | None:
    """Fields per row when the first data row is short of the header, else None."""
    hit = re.search(r"ragged row: (\d+) fields where the header has (\d+)", str(err))
    if hit and err.line == src.line_offset + 1 and int(hit.group(1)) < int(hit.group(2)):
        return int(hit.group(1))
    return None


def _input_error(con, src: Source, e: Exprs, err: duckdb.Error) -> OnepaneError:
    if BAD in str(err) or (isinstance(err, (duckdb.ConversionException, duckdb.InvalidInputException))
                           and e.checks and not CSV_LINE.search(str(err))):
        return locate_bad_value(con, src, e, err)
    ce = csv_error(err, src)
    if ce is not None:
        return ce
    return InputError(f"cannot read: {str(err).splitlines()[0][:300]}", file=str(src.path))


def prepare(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, ncols: int | None = None,
            delivery: str = "auto", mode: str = "text",
            line_size: int | None = None, full_dates: bool = False,
            read_path: Path | None = None) -> tuple[Source, Mapping, Exprs]:
    """Open the file, pick the format, and build its mapping. `mode` (CSV, complete deliveries
    only: partial ones hash the source text of each row for de-duplication):
    - "typed": the CSV reader parses the columns read only as numbers, and those read only as
      times when a sample shows one offset-free layout;
    - "lean": typed, and null markers other than empty are tested in SQL on text cells only,
      unless the sample shows one in a typed column;
    - "text": every column is text (the tolerant path).
    Text time columns get a reading (collectors.billing.checks): from the first rows, or from
    every row with `full_dates`."""
    if fmt in ("openai", "anthropic") or (fmt == "auto" and llm_vendors.is_vendor_json(path)):
        src = llm_vendors.open_vendor(con, path, fmt)
        fmt = "focus"
    else:
        try:
            src = open_source(con, path, ncols, line_size=line_size, read_path=read_path)
        except duckdb.Error as err:
            raise InputError(f"cannot read: {str(err).splitlines()[0]}", file=str(path)) from None
        if fmt in ("openai", "anthropic"):
            fmt = "focus"
    name = detect_format(src.cols, path) if fmt == "auto" else fmt
    if name in ("openai", "anthropic"):          # console CSV exports
        src = llm_vendors.open_vendor(con, path, name)
        name = "focus"
    e = Exprs(src.cols, csv=src.kind == "csv")
    m = MODULES[name].mapping(src.cols, e, path)
    if src.kind == "llm":
        m.fmt, m.complete = src.vendor, False
    if delivery != "auto":
        m.complete = delivery == "complete"
    if mode != "text" and src.kind == "csv" and m.complete:
        numbers, times = e.read_only_as("number"), e.read_only_as("time")
        cells = focus.sample_cells(path, numbers + times)
        time_format = (focus.reader_time_format([v for c in times for v in cells[c]])
                       if times and cells is not None else None)
        if numbers or time_format:
            types = {c: focus.MONEY for c in numbers}
            types.update({c: "TIMESTAMP" for c in times} if time_format else {})
            lean = mode == "lean" and cells is not None and not any(
                v and v in focus.NULL_MARKERS for c in types for v in cells[c])
            src = open_source(con, path, ncols, types, line_size, time_format, markers_in_sql=lean,
                              read_path=read_path)
            e = Exprs(src.cols, csv=True, markers_in_sql=lean)
            complete, m = m.complete, MODULES[name].mapping(src.cols, e, path)
            m.complete = complete
    rs = checks.readings(con, src, e, name, full_dates)
    ns = checks.number_readings(con, src, e, full_dates)
    if rs or ns:
        fmt_name, complete = m.fmt, m.complete
        e = Exprs(src.cols, csv=e.csv, markers_in_sql=e.markers_in_sql, readings=rs, numbers=ns)
        m = MODULES[name].mapping(src.cols, e, path)
        m.fmt, m.complete = fmt_name, complete
    focus.require(m, src.cols, str(path))
    if m.tags:       # tags that are not a JSON object fail the load like any unparseable cell
        tag_col = next((c for c in src.cols.names if canon(c) in ("tags", "labels", "resourcetags")),
                       None)
    if m.tags and tag_col:
        e.checks.append(Check(tag_col, "JSON object",
                              f"(coalesce(trim({m.tags}), '') NOT IN ('', '{{}}', '[]') AND "
                              f"NOT coalesce(json_type(onepane_pyjson({m.tags})) = 'OBJECT', false))"))
    return src, m, e


# ---- many files ------------------------------------------------------------------------------
def ingest_billing(store: Store, paths, format: str = "auto", config: Settings | None = None,
                   source: str | None = None, delivery: str = "auto",
                   progress=None, new_load=None, now=None) -> list[dict[str, Any]]:
    """Load every billing file in `paths` (files, folders, globs); each file is its own
    all-or-nothing load. The first bad file raises its InputError after being recorded as failed;
    files loaded before it stay loaded."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = expand_paths(paths)
    results = []
    for f in files:
        results.append(ingest_file(store, f, format, config, source, delivery,
                                   progress=progress, new_load=new_load, now=now))
    return results
