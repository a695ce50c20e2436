"""Business KPIs from CSV or Parquet -> raw_kpis.

Two layouts are accepted (header names are case-insensitive):

* long:  time, service, model_version | variant, kpi, value [, currency] [, period_end]
* wide:  time, service, model_version | variant, <kpi>, <kpi>, ... [, revenue] [, currency]
         (every column that is not a key becomes a KPI; `currency` applies to money KPIs such as
         `revenue` only, never to counts)

`time` may also be called observed_at, timestamp, ts, date or day (ISO 8601 or unix seconds).

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
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from collectors.registry import collector
from collectors.runner import file_hash
from metrics.config import Settings
from metrics.errors import InputError
from metrics.lake import Load, already_loaded
from metrics.store import Store
from metrics.times import parse_time

log = logging.getLogger(__name__)

TIME_NAMES = ("time", "observed_at", "timestamp", "ts", "date", "day")
VERSION_NAMES = ("model_version", "version")
VARIANT_NAMES = ("variant", "arm", "experiment_variant")
KEY_NAMES = {"service", "kpi", "value", "currency", "period_end", *TIME_NAMES, *VERSION_NAMES,
             *VARIANT_NAMES}


class KpiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(min_length=1)


@dataclass
class IngestResult:
    file: str
    rows: int = 0
    load_id: str | None = None
    skipped: bool = False            # identical content was already loaded
    warnings: list[str] = field(default_factory=list)


@collector("kpis", settings=KpiSettings, table="raw_kpis",
           help="Business KPI counts/values per time bucket, service and version (CSV/Parquet) -> raw_kpis")
def collect_kpis(settings: KpiSettings, ctx) -> None:
    for path in _expand(settings.paths, ctx.config):
        ingest_kpis(ctx.store, path, config=ctx.config, source=ctx.source, ctx=ctx)


def _expand(patterns: list[str], config: Settings | None = None) -> list[Path]:
    """Files matching the patterns; relative patterns are relative to onepane.toml's folder."""
    base = Path(config.path).parent if config is not None and config.path else Path(".")
    out: list[Path] = []
    for pat in patterns:
        p = Path(pat) if Path(pat).is_absolute() else base / pat
        pat = str(p)
        matches = sorted(Path(p.anchor or ".").glob(str(p.relative_to(p.anchor)))) if any(
            c in pat for c in "*?[") else [p]
        if not matches:
            raise InputError("no file matches this path", file=pat)
        out += matches
    return out


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
    return df.rename({c: c.strip().lower() for c in df.columns})


def _pick(cols: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in cols), None)


def parse_kpis(path: Path, config: Settings | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Validate and reshape one KPI file into raw_kpis rows; returns (frame, warnings)."""
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

    rows: list[dict] = []
    seen: dict[tuple, int] = {}
    known = {s.name: s for s in config.services}
    flags: dict[tuple, str] = {}
    warnings: list[str] = []
    for i, rec in enumerate(df.iter_rows(named=True)):
        line = i + 2
        raw_t = rec[tcol]
        if raw_t is None:
            raise InputError("empty time", file=f, line=line, column=tcol)
        try:
            t = parse_time(raw_t)
        except Exception:  # noqa: BLE001
            raise InputError(f"not a time: {raw_t!r} (ISO 8601 or unix seconds)", file=f, line=line,
                             column=tcol) from None
        period_end = None
        if rec.get("period_end"):
            try:
                period_end = parse_time(rec["period_end"])
            except Exception:  # noqa: BLE001
                raise InputError(f"not a time: {rec['period_end']!r}", file=f, line=line,
                                 column="period_end") from None
        service = (rec["service"] or "").strip()
        if not service:
            raise InputError("empty service", file=f, line=line, column="service")
        if known and service not in known:
            raise InputError(f"unknown service {service!r}; onepane.toml declares "
                             f"{', '.join(sorted(known))} (add it to [[services]] or fix the name)",
                             file=f, line=line, column="service")
        version = (rec.get(vcol) or "").strip() or None if vcol else None
        variant = (rec.get(acol) or "").strip() or None if acol else None
        if version is None and variant is None:
            raise InputError("neither model_version nor variant is set", file=f, line=line,
                             column=vcol or acol)
        currency = (rec.get("currency") or "").strip().upper() or None
        pairs = [(rec["kpi"], rec["value"], "value")] if long else [(c, rec[c], c) for c in kpi_cols]
        for kpi, raw_v, vname in pairs:
            if long and not (kpi or "").strip():
                raise InputError("empty kpi name", file=f, line=line, column="kpi")
            kpi = kpi.strip()
            if raw_v is None or str(raw_v).strip() == "":
                if long:
                    raise InputError("empty value", file=f, line=line, column=vname)
                continue                      # wide layout: a blank cell is "not measured"
            try:
                value = float(raw_v)
            except ValueError:
                raise InputError(f"not a number: {raw_v!r}", file=f, line=line, column=vname) from None
            if value != value or value in (float("inf"), float("-inf")):
                raise InputError(f"not a finite number: {raw_v!r}", file=f, line=line, column=vname)
            is_money = currency is not None and (long or kpi in MONEY_KPIS)
            if value < 0 and not is_money:
                raise InputError(f"negative count {value:g} for KPI {kpi!r} (counts cannot be "
                                 "negative; a money KPI needs a currency)", file=f, line=line,
                                 column=vname)
            key = (t, service, version, variant, kpi)
            if key in seen:
                raise InputError(f"duplicate row: same time, service, version, variant and KPI "
                                 f"{kpi!r} as line {seen[key]} (remove one; values are not summed)",
                                 file=f, line=line, column=vname)
            seen[key] = line
            svc = known.get(service)
            flag = None
            if svc and svc.model_versions and version and version not in svc.model_versions:
                flag = f"model_version {version!r} not declared for service {service!r}"
                flags.setdefault((service, "version", version), f"line {line}: {flag}")
            rows.append({"observed_at": t, "period_end": period_end, "service": service,
                         "model_version": version, "variant": variant, "kpi": kpi, "value": value,
                         "currency": currency if is_money else None, "source_file": path.name,
                         "source_line": line, "quality": flag})
    warnings += list(flags.values())
    present: dict[str, set[str]] = {}
    for r in rows:
        present.setdefault(r["service"], set()).add(r["kpi"])
    for name, kpis in sorted(present.items()):
        svc = known.get(name)
        if not svc:
            continue
        wanted = set(svc.kpis) | ({svc.funnel.action, svc.funnel.denominator} if svc.funnel else set())
        for k in sorted(wanted - kpis):
            warnings.append(f"service {name!r}: KPI {k!r} is in onepane.toml but not in this file; "
                            "ratios that need it stay empty")
    schema = {"observed_at": pl.Datetime("us", "UTC"), "period_end": pl.Datetime("us", "UTC"),
              "service": pl.Utf8, "model_version": pl.Utf8, "variant": pl.Utf8, "kpi": pl.Utf8,
              "value": pl.Float64, "currency": pl.Utf8, "source_file": pl.Utf8,
              "source_line": pl.Int64, "quality": pl.Utf8}
    return pl.DataFrame(rows, schema=schema), warnings


MONEY_KPIS = {"revenue", "gmv", "margin", "refunds", "cost_avoided", "chargebacks_avoided_amount"}


def ingest_kpis(store: Store, path, config: Settings | None = None,
                source: str | None = None, *, ctx=None) -> IngestResult:
    """Load one KPI file all-or-nothing; a file already loaded with identical content is skipped.
    `ctx` (a collectors.runner.RunContext) is given when a configured source runs it."""
    path = Path(path)
    res = IngestResult(str(path))
    frame, res.warnings = parse_kpis(path, config)
    digest = file_hash(path)
    prior = already_loaded(store, "raw_kpis", digest)
    if prior:
        res.skipped, res.load_id = True, prior
        log.info("kpis already loaded file=%s load=%s", path, prior)
        return res
    for w in res.warnings:
        log.warning("kpi data quality file=%s %s", path.name, w)
    scope = f"kpis/{source or 'file'}/{path.name}"
    load = (ctx.load(source_file=str(path), content_hash=digest) if ctx is not None else
            Load(store, "raw_kpis", collector="kpis", source=source or "ingest",
                 source_file=str(path), content_hash=digest))
    with load:
        res.rows = load.write(frame.with_columns(pl.lit(source or "ingest").alias("source")),
                              scope=scope)
        load.supersede_scopes([scope])
        if res.warnings:
            load.details = {"warnings": res.warnings}
        res.load_id = load.load_id
    return res
