"""Business KPIs from CSV or Parquet -> raw_kpis.

Two layouts are accepted (header names are case-insensitive):

* long:  time, service, model_version | variant, kpi, value [, currency] [, period_end]
* wide:  time, service, model_version | variant, <kpi>, <kpi>, ... [, revenue] [, currency]
         (every column that is not a key becomes a KPI; `currency` applies to money KPIs such as
         `revenue` only, never to counts)

`time` may also be called observed_at, timestamp, ts, date or day; its values may take any form of
collectors.dates (ISO 8601, M/D/YYYY, M/D/YY, D.M.YYYY, YYYYMM, YYYY-MM, unix seconds/ms), one
reading per column inferred from all its values (slash dates month-first unless the values say
otherwise); a date before 2000 or more than a year after the load refuses the file.

Bad input is refused as a whole (nothing is written) with the file, line and column named:
a missing key column, an unparsable time or value, a negative count (a KPI without a currency),
a duplicated (time, service, version, variant, kpi) key, or a service that onepane.toml does not
declare (when it declares any). Softer problems are accepted but flagged: they are listed in the
load's `details` (warnings), logged, returned to the caller, and stored in the row's `quality`
column: a model version the service does not declare, and a KPI the config names (in `kpis` or
the funnel) that the file does not contain for that service.

Re-ingesting the same file is a no-op (content hash). A changed file with the same name replaces
the earlier delivery (its scope is superseded; `--as-of` still shows the old values).
"""
from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from collectors.dates import Bounds, parse_series
from collectors.registry import collector
from collectors.runner import IngestResult, file_hash, source_files
from metrics.config import Settings
from metrics.errors import InputError
from metrics.lake import Load, already_loaded
from metrics.store import Store

log = logging.getLogger(__name__)

TIME_NAMES = ("time", "observed_at", "timestamp", "ts", "date", "day")
VERSION_NAMES = ("model_version", "version")
VARIANT_NAMES = ("variant", "arm", "experiment_variant")
KEY_NAMES = {"service", "kpi", "value", "currency", "period_end", *TIME_NAMES, *VERSION_NAMES,
             *VARIANT_NAMES}


class KpiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(min_length=1)


@collector("kpis", settings=KpiSettings, table="raw_kpis",
           help="Business KPI counts/values per time bucket, service and version (CSV/Parquet) -> raw_kpis")
def collect_kpis(settings: KpiSettings, ctx) -> None:
    for path in source_files(settings.paths, ctx.config):
        ingest_kpis(ctx.store, path, config=ctx.config, source=ctx.source, ctx=ctx)


def _read(path: Path) -> pl.DataFrame:
    """All columns as strings, header names lower-cased; a row's line = index + 2."""
    if not path.exists():
        raise InputError("file not found", file=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pl.read_parquet(path)
            df = df.with_columns(pl.all().cast(pl.Utf8))
        else:
            df = pl.read_csv(path, infer_schema=False, null_values=[""])
    except Exception as e:  # noqa: BLE001 - any parser failure is bad input for the user
        raise InputError(f"cannot read as {'Parquet' if path.suffix.lower() in ('.parquet', '.pq') else 'CSV'}: {e}",
                         file=str(path)) from None
    names = [c.strip().lower() for c in df.columns]
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        raise InputError(f"column {dup!r} appears twice in the header (names are case-insensitive)",
                         file=str(path), line=1, column=dup)
    return df.rename(dict(zip(df.columns, names)))


def _pick(cols: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in cols), None)


def parse_kpis(path: Path, config: Settings | None = None, now=None,
               readings: dict | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Validate and reshape one KPI file into raw_kpis rows; returns (frame, warnings).

    Checks are vectorised (DuckDB over the frame); each names the first offending line."""
    config = config or Settings()
    df = _read(path)
    cols = df.columns
    f = str(path)
    tcol = _pick(cols, TIME_NAMES)
    if tcol is None:
        raise InputError(f"no time column (one of {', '.join(TIME_NAMES)})", file=f, line=1)
    if "service" not in cols:
        raise InputError("no service column", file=f, line=1, column="service")
    vcol, acol = _pick(cols, VERSION_NAMES), _pick(cols, VARIANT_NAMES)
    if vcol is None and acol is None:
        raise InputError("no model_version or variant column", file=f, line=1)
    long = "kpi" in cols
    if long and "value" not in cols:
        raise InputError("a `kpi` column needs a `value` column", file=f, line=1, column="value")
    kpi_cols = [] if long else [c for c in cols if c not in KEY_NAMES]
    if not long and not kpi_cols:
        raise InputError("no KPI columns: give `kpi` and `value`, or one column per KPI", file=f, line=1)

    # times: one reading per column from all its values (collectors.dates), bounds checked
    bounds = Bounds.from_config(config, now)
    parsed = {}
    for name in (tcol, "period_end"):
        if name in cols:
            parsed[name], r = parse_series(df[name].str.strip_chars(), f, name, bounds)
            if readings is not None:
                readings[name] = r.describe()
    df = df.with_columns(
        parsed[tcol].alias("__t"),
        (parsed["period_end"] if "period_end" in parsed
         else pl.lit(None, pl.Datetime("us", "UTC"))).alias("__pe"))

    def s(name: str | None) -> pl.Expr:
        return (pl.col(name).str.strip_chars() if name else pl.lit(None, pl.Utf8))

    base = df.with_row_index("line", offset=2).select(
        pl.col("line").cast(pl.Int64), s(tcol).alias("t_raw"), "__t", "__pe",
        (s("period_end") if "period_end" in cols else pl.lit(None, pl.Utf8)).alias("pe_raw"),
        s("service").alias("service"), s(vcol).alias("model_version"), s(acol).alias("variant"),
        (s("currency").str.to_uppercase() if "currency" in cols else pl.lit(None, pl.Utf8)).alias("currency"),
        *([s("kpi").alias("kpi"), s("value").alias("v_raw"), pl.lit("value").alias("v_col")] if long
          else [s(c).alias(f"__kpi_{c}") for c in kpi_cols]))
    if not long:   # wide: one row per KPI cell; a blank cell is "not measured"
        base = (base.unpivot(index=[c for c in base.columns if not c.startswith("__kpi_")],
                             variable_name="v_col", value_name="v_raw")
                .with_columns(pl.col("v_col").str.slice(len("__kpi_")))
                .with_columns(pl.col("v_col").alias("kpi"))
                .filter(pl.col("v_raw").is_not_null() & (pl.col("v_raw") != "")))
    base = base.with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
        for c in ("service", "model_version", "variant", "currency", "kpi"))
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("b", base)
        money = "(" + ", ".join(f"'{k}'" for k in sorted(MONEY_KPIS)) + ")"
        rows = con.sql(f"""
            SELECT *, currency IS NOT NULL AND ({'TRUE' if long else f'kpi IN {money}'}) AS is_money
            FROM (SELECT * EXCLUDE (__t, __pe), __t AS observed_at, __pe AS period_end,
                            TRY_CAST(v_raw AS DOUBLE) AS value
                  FROM b)""").pl()
        _first_error(rows, f, tcol, "t_raw", pl.col("t_raw").is_null(), "empty time")
        _first_error(rows, f, tcol, "t_raw", pl.col("observed_at").is_null(),
                     "not a time: {v!r} (ISO 8601 or unix seconds)")
        _first_error(rows, f, "period_end", "pe_raw",
                     pl.col("pe_raw").is_not_null() & pl.col("period_end").is_null(), "not a time: {v!r}")
        _first_error(rows, f, "service", "service", pl.col("service").is_null(), "empty service")
        known = {sv.name: sv for sv in config.services}
        if known:
            _first_error(rows, f, "service", "service", ~pl.col("service").is_in(list(known)),
                         "unknown service {v!r}; onepane.toml declares " + ", ".join(sorted(known))
                         + " (add it to [[services]] or fix the name)")
        _first_error(rows, f, vcol or acol, "model_version",
                     pl.col("model_version").is_null() & pl.col("variant").is_null(),
                     "neither model_version nor variant is set")
        if long:
            _first_error(rows, f, "kpi", "kpi", pl.col("kpi").is_null(), "empty kpi name")
            _first_error(rows, f, "value", "v_raw", pl.col("v_raw").is_null(), "empty value")
        bad = _first(rows, pl.col("value").is_null())
        if bad is not None:
            raise InputError(f"not a number: {bad['v_raw']!r}", file=f, line=bad["line"], column=bad["v_col"])
        bad = _first(rows, pl.col("value").is_nan() | pl.col("value").is_infinite())
        if bad is not None:
            raise InputError(f"not a finite number: {bad['v_raw']!r}", file=f, line=bad["line"],
                             column=bad["v_col"])
        bad = _first(rows, (pl.col("value") < 0) & ~pl.col("is_money"))
        if bad is not None:
            raise InputError(f"negative count {bad['value']:g} for KPI {bad['kpi']!r} (counts cannot be "
                             "negative; a money KPI needs a currency)", file=f, line=bad["line"],
                             column=bad["v_col"])
        key = ["observed_at", "service", "model_version", "variant", "kpi"]
        dup = (rows.with_columns(pl.col("line").min().over(key).alias("first_line"))
               .filter(pl.col("line") != pl.col("first_line")).sort("line"))
        if dup.height:
            d = dup.row(0, named=True)
            raise InputError(f"duplicate row: same time, service, version, variant and KPI "
                             f"{d['kpi']!r} as line {d['first_line']} (remove one; values are not summed)",
                             file=f, line=d["line"], column=d["v_col"])
    finally:
        con.close()

    warnings: list[str] = []
    flag = pl.lit(None, pl.Utf8)
    for name, svc in known.items():
        if not svc.model_versions:
            continue
        cond = ((pl.col("service") == name) & pl.col("model_version").is_not_null()
                & ~pl.col("model_version").is_in(svc.model_versions))
        flag = pl.when(cond).then(pl.format("model_version '{}' not declared for service '{}'",
                                            pl.col("model_version"), pl.col("service"))).otherwise(flag)
        for r in (rows.filter(cond).group_by("model_version").agg(pl.col("line").min())
                  .sort("line").iter_rows(named=True)):
            warnings.append(f"line {r['line']}: model_version {r['model_version']!r} not declared "
                            f"for service {name!r}")
    rows = rows.with_columns(flag.alias("quality"))
    present: dict[str, set[str]] = {}
    for r in rows.select("service", "kpi").unique().iter_rows():
        present.setdefault(r[0], set()).add(r[1])
    for name, kpis in sorted(present.items()):
        svc = known.get(name)
        if not svc:
            continue
        wanted = set(svc.kpis) | ({svc.funnel.action, svc.funnel.denominator} if svc.funnel else set())
        for k in sorted(wanted - kpis):
            warnings.append(f"service {name!r}: KPI {k!r} is in onepane.toml but not in this file; "
                            "ratios that need it stay empty")
    out = rows.sort("line").select(
        pl.col("observed_at").dt.cast_time_unit("us").dt.convert_time_zone("UTC"),
        pl.col("period_end").dt.cast_time_unit("us").dt.convert_time_zone("UTC"),
        "service", "model_version", "variant", "kpi", "value",
        pl.when(pl.col("is_money")).then(pl.col("currency")).otherwise(None).alias("currency"),
        pl.lit(path.name).alias("source_file"), pl.col("line").alias("source_line"), "quality")
    return out, warnings


def _first(rows: pl.DataFrame, cond: pl.Expr) -> dict | None:
    bad = rows.filter(cond).sort("line")
    return bad.row(0, named=True) if bad.height else None


def _first_error(rows: pl.DataFrame, file: str, column: str | None, field: str, cond: pl.Expr,
                 message: str) -> None:
    bad = _first(rows, cond)
    if bad is not None:
        raise InputError(message.format(v=bad[field]), file=file, line=bad["line"], column=column)


MONEY_KPIS = {"revenue", "gmv", "margin", "refunds", "cost_avoided", "chargebacks_avoided_amount"}


def ingest_kpis(store: Store, path, config: Settings | None = None,
                source: str | None = None, *, ctx=None, now=None) -> IngestResult:
    """Load one KPI file all-or-nothing; a file already loaded with identical content is skipped.
    `ctx` (a collectors.runner.RunContext) is given when a configured source runs it."""
    path = Path(path)
    res = IngestResult(str(path))
    if not path.exists():
        raise InputError("file not found", file=str(path))
    readings: dict = {}
    digest = file_hash(path)
    prior = already_loaded(store, "raw_kpis", digest)
    if prior:
        res.skipped, res.load_id = True, prior
        log.info("kpis already loaded file=%s load=%s", path, prior)
        return res
    scope = f"kpis/{source or 'file'}/{path.name}"
    load = (ctx.load(source_file=str(path), content_hash=digest) if ctx is not None else
            Load(store, "raw_kpis", collector="kpis", source=source or "ingest",
                 source_file=str(path), content_hash=digest))
    with load:      # a bad file is recorded as a failed load in the run log
        frame, res.warnings = parse_kpis(path, config, now, readings)
        for w in res.warnings:
            log.warning("kpi data quality file=%s %s", path.name, w)
        res.rows = load.write(frame.with_columns(pl.lit(source or "ingest").alias("source")),
                              scope=scope)
        load.supersede_scopes([scope])
        load.details = {"date_readings": readings, **({"warnings": res.warnings} if res.warnings else {})}
        res.load_id = load.load_id
    if load.status == "duplicate":             # the same content was committed meanwhile
        res.rows, res.skipped, res.load_id = 0, True, load.duplicate_of
    return res
