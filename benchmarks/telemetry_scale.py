"""Benchmark: telemetry reads and ingests at scale, as ratios against the filter-first DuckDB query.

    nice .venv/bin/python benchmarks/telemetry_scale.py --samples 1000000 [--dir /tmp/tscale]
    nice .venv/bin/python benchmarks/telemetry_scale.py --samples 100000000 --fast-build \
        --reads summary_last_hour,service_page_day,service_page_7d --runs 1

1. Generates OpenMetrics scrape files (6 services x 29 series, a scrape every 15 s: ~1M samples
   per day; --samples picks the number of days) and a request log (1M rows), and ingests them
   through the real collectors (`ingest openmetrics`, `ingest requests`). `--fast-build` writes
   the same samples straight through the lake writer instead (one load per day; for 100M, where
   generating and parsing ~10 GB of text takes longer than the reads measured); reads only.
2. Measures each read path of issue 15 over one service against the fastest hand-written DuckDB
   statement giving the SAME full answer straight from the Parquet files, service and time
   filters first (benchmarks/sql/*_baseline.sql; no load gating or de-duplication, which this
   store does not need: `check_baseline_applies` stops the run otherwise):
     stg_telemetry_day      one service's day of stg_telemetry (count, sum)
     summary_last_hour      metrics.telemetry.telemetry_summary over the last hour: every figure
                            it returns (per version and for the service), 9 significant digits
     summary_whole_range    the same over all stored data
     service_page_day       the Service page's technical query (metrics.queries.service_technical)
                            over the last day: every (bucket, version, metric, value) row. Sides:
                            `onepane` as the app runs it (a cursor of the process's shared reader,
                            `Store(db, shared=True)`), `onepane_cold` as a CLI command does (a fresh
                            read-only connection inside the clock) and the baseline. `onepane` and
                            the baseline first open their connection and run the same statement
                            for another service (WARM_SVC) before the clock: a server that has
                            been serving pages
     service_page_7d        the same over the last 7 days
   The GPU-hour price is configured (`[pricing] gpu_hour`), so neither side reads billing data.
3. Ingests against DuckDB doing the same parsing: the OpenMetrics text (one day file) split with
   read_csv and regexp into Parquet; the request log read_csv -> Parquet (answer: rows written).
Sides as in benchmarks/sides.py: a fresh process per run, sides alternating, every side's answer
equal or no ratio; best of --runs (reads; ingests run once); CPU time of the timed work and the
process's peak RSS beside the wall time.
Prints the ratio table (Markdown) and one JSON line.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import sides  # noqa: E402

T0 = datetime(2026, 9, 1, tzinfo=timezone.utc)
SERVICES = [f"svc-{i}" for i in range(6)]
LES = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
PER_DAY = 86400 // 15
SAMPLES_PER_DAY = len(SERVICES) * 29 * PER_DAY


# ---- data --------------------------------------------------------------------------------------
def series_of(svc: str) -> list[tuple[str, str, str]]:
    """(name, labels, kind) of a service's 29 series; kind: counter rate or gauge."""
    out = []
    for v in ("v1", "v2"):
        base = f'service="{svc}",model_version="{v}"'
        out += [("inference_requests_total", base + ',status="200"', "req"),
                ("inference_requests_total", base + ',status="500"', "err")]
        out += [("inference_request_duration_seconds_bucket", base + f',le="{le}"', f"le{i}")
                for i, le in enumerate(LES)]
        out += [("inference_request_duration_seconds_sum", base, "sum"),
                ("inference_request_duration_seconds_count", base, "req")]
        out += [("inference_tokens_total", base + f',kind="{k}"', "tok") for k in ("prompt",)]
    out += [("inference_queue_depth", f'service="{svc}",model_version="v1"', "gauge"),
            ("inference_fallback_total", f'service="{svc}",model_version="v1"', "fb"),
            ("inference_abstain_total", f'service="{svc}",model_version="v1"', "fb")]
    assert len(out) == 29
    return out


def generate(dirpath: Path, days: int) -> list[Path]:
    """One OpenMetrics file per day with every service (DuckDB writes the text: fast)."""
    import duckdb

    files = []
    con = duckdb.connect()
    rows = []
    for svc in SERVICES:
        for name, labels, kind in series_of(svc):
            rows.append((name, labels, kind))
    con.execute("CREATE TABLE s (name VARCHAR, labels VARCHAR, kind VARCHAR)")
    con.executemany("INSERT INTO s VALUES (?, ?, ?)", rows)
    for d in range(days):
        path = dirpath / f"day{d:03d}.om"
        if not path.exists():
            con.execute(f"""
                COPY (
                  SELECT name || '{{' || labels || '}} ' ||
                         CASE WHEN kind = 'gauge' THEN ((i * 7) % 13)::VARCHAR
                              WHEN kind LIKE 'le%' THEN (i * (2 + least(substr(kind, 3)::INT, 6)))::VARCHAR
                              WHEN kind = 'err' THEN (i // 50)::VARCHAR
                              WHEN kind = 'sum' THEN (i * 1.7)::VARCHAR
                              WHEN kind = 'tok' THEN (i * 130)::VARCHAR
                              WHEN kind = 'fb' THEN (i // 20)::VARCHAR
                              ELSE (i * 8)::VARCHAR END
                         || ' ' || ({T0.timestamp()} + i * 15)::BIGINT::VARCHAR AS line
                  FROM s, range({d * PER_DAY}, {(d + 1) * PER_DAY}) t(i)
                  ORDER BY i, name, labels
                ) TO '{path}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\t')""")
            with open(path, "a") as fh:
                fh.write("# EOF\n")
        files.append(path)
    return files


VALUE_SQL = """CASE WHEN kind = 'gauge' THEN ((i * 7) % 13)::DOUBLE
                    WHEN kind LIKE 'le%' THEN (i * (2 + least(substr(kind, 3)::INT, 6)))::DOUBLE
                    WHEN kind = 'err' THEN (i // 50)::DOUBLE
                    WHEN kind = 'sum' THEN (i * 1.7)::VARCHAR::DOUBLE
                    WHEN kind = 'tok' THEN (i * 130)::DOUBLE
                    WHEN kind = 'fb' THEN (i // 20)::DOUBLE
                    ELSE (i * 8)::DOUBLE END"""


def build_fast(store, days: int) -> None:
    """The store `generate` + `ingest openmetrics` would give, written straight through the lake's
    writer (metrics.lake.Load: one committed load per day, as one ingest per day file): the same
    samples, labels JSON (sorted keys) and labels_hash (md5 of it), metric_type 'unknown' as the
    OpenMetrics text has no # TYPE; only `source` and `_scope` name this builder. For 100M samples,
    where generating and parsing the text would take longer than the reads being measured."""
    import duckdb

    from metrics.lake import Load

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = []
    for svc in SERVICES:
        for name, labels, kind in series_of(svc):
            lab = dict((k, v.strip('"')) for k, v in (x.split("=", 1) for x in labels.split(",")))
            j = json.dumps(lab, sort_keys=True, separators=(",", ":"))      # as collectors/openmetrics.py
            rows.append((name, kind, j, hashlib.md5(j.encode()).hexdigest(), lab["service"], lab["model_version"]))
    con.execute("CREATE TABLE series (name VARCHAR, kind VARCHAR, labels VARCHAR, labels_hash VARCHAR, "
                "service VARCHAR, model_version VARCHAR)")
    con.executemany("INSERT INTO series VALUES (?, ?, ?, ?, ?, ?)", rows)
    cols = ["sampled_at", "metric", "labels", "labels_hash", "service", "model_version", "value", "source",
            "metric_type", "series_start"]
    for d in range(days):
        day = (T0 + timedelta(days=d)).date()
        q = f"""SELECT to_timestamp({T0.timestamp()} + i * 15) AS sampled_at, name AS metric, labels, labels_hash,
                       service, model_version, {VALUE_SQL} AS value, 'fast-build' AS source,
                       'unknown' AS metric_type, false AS series_start
                FROM series, range({d * PER_DAY}, {(d + 1) * PER_DAY}) t(i)"""
        with Load(store, "raw_telemetry", collector="openmetrics", source="fast-build") as load:
            load.write_query(con, q, cols, scope=f"fast-build/{day}", partition=day.isoformat())


def one_file(dirpath: Path, files: list[Path]) -> Path:
    """The day files as one OpenMetrics file (one `# EOF`, at the end)."""
    out = dirpath / "all.om"
    with open(out, "wb") as fh:
        for f in files:
            with open(f, "rb") as src:
                data = src.read()
            fh.write(data[: data.rindex(b"# EOF")])
        fh.write(b"# EOF\n")
    return out


def request_log(path: Path, rows: int) -> Path:
    import duckdb

    if not path.exists():
        duckdb.execute(f"""COPY (SELECT 'r' || i AS request_id, 'svc-' || (i % 6) AS service,
                   CASE WHEN i % 2 = 0 THEN 'v1' ELSE 'v2' END AS model_version,
                   (TIMESTAMPTZ '2026-09-01' + to_milliseconds(i * 37))::VARCHAR AS arrived_at,
                   CASE WHEN i % 53 = 0 THEN '500' ELSE '200' END AS status,
                   (i % 997) * 0.37 AS latency_ms, (i % 17 = 0) AS fallback
            FROM range({rows}) t(i)) TO '{path}' (HEADER)""")
    return path


# ---- sides (each run a fresh process, benchmarks/sides.py) -------------------------------------
SVC = "svc-3"
WARM_SVC = "svc-0"              # the service page sides run once for this one before the clock
PRICE = Decimal("2.50")         # [pricing] gpu_hour: both sides cost GPU time at the same price
BASELINES = Path(__file__).parent / "sql"
SUMMARY_FIELDS = ("model_version", "requests", "error_rate", "latency_p50_s", "latency_p95_s", "latency_mean_s",
                  "gpu_seconds", "gpu_seconds_per_request", "energy_j", "energy_j_per_request",
                  "fallback_rate", "abstain_rate", "tokens", "cost", "cost_per_request")
SERVICE_FIELDS = ("observed_gpu_seconds", "idle_gpu_seconds", "idle_cost", "unattributed_gpu_seconds",
                  "unattributed_cost", "idle_energy_j")
# the pre-round-3 stg_telemetry: a window over every row of the store (kept to show the change)
OLD_STG_TELEMETRY = """SELECT t.* FROM raw_telemetry t
QUALIFY row_number() OVER (PARTITION BY t.metric, t.labels_hash, t.sampled_at
                           ORDER BY t._loaded_at DESC, t._load_id DESC) = 1"""


def _window(store, span: str):
    """[start, end) of a read: the store's last hour / day / 7 days / everything (end = newest sample)."""
    hi = store.query("SELECT max(sampled_at) hi FROM raw_telemetry")["hi"][0]
    if span == "all":
        return None, None
    return hi - {"hour": timedelta(hours=1), "day": timedelta(days=1), "7d": timedelta(days=7)}[span], hi


def canon(x):
    """A number as both sides must agree on it: 9 significant digits (NaN as text); None stays."""
    if x is None:
        return None
    if isinstance(x, str):
        return x
    f = float(x)
    return "nan" if math.isnan(f) else float(f"{f:.9g}")


def canon_summary(versions: list[dict], service: dict) -> dict:
    return {"versions": [{k: (v.get(k) if k == "model_version" else canon(v.get(k))) for k in SUMMARY_FIELDS}
                         for v in versions],
            "service": {k: canon(service.get(k)) for k in SERVICE_FIELDS}}


def canon_page(rows) -> list:
    return sorted([str(b), str(mv), m, canon(v)] for b, mv, m, v in rows)


def _lake_globs(store) -> dict:
    return {"telemetry": sides_literal(store.lake / "raw_telemetry" / "**" / "*.parquet"),
            "requests": sides_literal(store.lake / "raw_requests" / "**" / "*.parquet")}


def sides_literal(p) -> str:
    return "'" + str(p).replace("'", "''") + "'"


def check_baseline_applies(store) -> dict:
    """The baselines read the Parquet files without load gating or de-duplication: true of this
    store only if every load committed, none was superseded or removed, and no duplicate keys exist."""
    loads = store.query("SELECT count(*) n, count(*) FILTER (WHERE status <> 'ok') bad, "
                        "count(*) FILTER (WHERE len(coalesce(supersedes, [])) > 0) sup FROM _onepane_loads").row(0)
    dups = [p for t in ("_dedup_raw_telemetry", "_dedup_raw_requests")
            for p in (store.lake / t).rglob("*.parquet") if p.name not in ("_schema.parquet", "~schema.parquet")]
    if loads[1] or loads[2] or dups:
        raise SystemExit(f"the baseline does not apply: {loads[1]} failed, {loads[2]} superseding loads, "
                         f"{len(dups)} de-duplication files")
    return {"loads": loads[0], "dedup_files": 0}


def _baseline(store, read: str, start, end):
    """The hand-written filter-first DuckDB statement (benchmarks/sql/*_baseline.sql) giving the
    same full answer as onepane's path, on a plain connection over the Parquet files."""
    import duckdb

    con = duckdb.connect()
    params = {"service": SVC, "start": start or datetime(1970, 1, 1, tzinfo=timezone.utc),
              "end": end or datetime(9999, 1, 1, tzinfo=timezone.utc)}
    if read.startswith("summary"):
        q = (BASELINES / "telemetry_summary_baseline.sql").read_text().format(**_lake_globs(store))
        params.update({"from": params["start"] - timedelta(minutes=5) if start else params["start"],
                       "bucket_s": 60, "price": float(PRICE)})

        def work():
            cur = con.execute(q, params)
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

        def finish(rows):
            return canon_summary(rows, rows[0] if rows else {})
        return work, finish
    q = (BASELINES / "service_page_baseline.sql").read_text().format(**_lake_globs(store))
    params.update({"bucket": "hour", "split": True})
    con.execute(q, {**params, "service": WARM_SVC}).fetchall()      # warm, as the onepane side
    return (lambda: con.execute(q, params).fetchall()), canon_page


def side(a):
    """(work, finish) of one side: `<read>/<variant>`."""
    from metrics import queries
    from metrics.config import Settings
    from metrics.store import Store
    from metrics.telemetry import telemetry_summary

    read, variant = a.side.split("/")
    store = Store(a.db)
    if read.startswith("ingest_"):
        return _ingest_side(a, read, variant)
    span = {"summary_last_hour": "hour", "summary_whole_range": "all", "service_page_day": "day",
            "service_page_7d": "7d", "stg_telemetry_day": "day"}[read]
    start, end = _window(store, span)
    if variant == "duckdb" and read != "stg_telemetry_day":
        return _baseline(store, read, start, end)
    if read.startswith("summary"):
        config = Settings(pricing={"gpu_hour": PRICE})

        def finish(out):
            return canon_summary(out["versions"], out)
        return (lambda: telemetry_summary(store, config, SVC, start, end)), finish
    if read.startswith("service_page"):
        # what the Service page calls (app/data.py service_technical -> metrics.queries), on the
        # app's shared reader after one page for another service, or cold as a CLI command
        if variant == "onepane":
            store = Store(a.db, shared=True)
            queries.service_technical(store, WARM_SVC, start, end, gpus=[], split=True)
        return ((lambda: queries.service_technical(store, SVC, start, end, gpus=[], split=True)),
                lambda df: canon_page(df.select("bucket_at", "model_version", "metric", "value").rows()))
    # stg_telemetry_day: one service's day of de-duplicated samples (count, sum of values)
    body = {"onepane": "stg_telemetry", "old_view": f"({OLD_STG_TELEMETRY})",
            "duckdb": f"read_parquet('{store.lake / 'raw_telemetry' / '**' / '*.parquet'}')"}[variant]
    con = store.connect() if variant != "duckdb" else __import__("duckdb").connect()
    q = (f"SELECT count(*), sum(value) FROM {body} WHERE service = '{SVC}' "
         f"AND sampled_at >= TIMESTAMPTZ '{start}' AND sampled_at < TIMESTAMPTZ '{end}'")
    return (lambda: con.execute(q).fetchone()), (lambda r: [int(r[0]), round(float(r[1]), 3)])


def _ingest_side(a, read, variant):
    """A fresh store (made before the clock starts) and one ingest; answer: the rows written."""
    import shutil
    import tempfile

    import duckdb

    from metrics.store import Store

    from collectors.openmetrics import ingest_openmetrics
    from collectors.requests import ingest_requests

    tmp = Path(tempfile.mkdtemp(dir=a.dir))
    fresh = Store(tmp / "s.duckdb").ensure()
    out = tmp / "baseline.parquet"
    data = a.data_om if read == "ingest_openmetrics" else a.data_req

    # both sides import their code before the clock starts (the baseline `import duckdb`,
    # onepane the collector): the timed work is the ingest alone on both sides
    def work():
        if variant == "onepane" and read == "ingest_openmetrics":
            return ingest_openmetrics(fresh, data)["rows"]
        if variant == "onepane":
            return ingest_requests(fresh, data)["rows"]
        if read == "ingest_openmetrics":        # DuckDB parsing the same text into Parquet
            q = f"""COPY (SELECT regexp_extract(line, '^([^{{ ]+)', 1) AS metric,
                         regexp_extract(line, '\\{{(.*)\\}}', 1) AS labels,
                         md5(regexp_extract(line, '\\{{(.*)\\}}', 1)) AS labels_hash,
                         regexp_extract(line, '\\}} (\\S+) (\\S+)$', 1)::DOUBLE AS value,
                         to_timestamp(regexp_extract(line, '\\}} (\\S+) (\\S+)$', 2)::DOUBLE) AS sampled_at
                  FROM read_csv('{data}', columns = {{'line': 'VARCHAR'}}, delim = '\\t', quote = '',
                                escape = '', header = false)
                  WHERE line NOT LIKE '#%') TO '{out}' (FORMAT parquet)"""
        else:
            q = f"COPY (SELECT * FROM read_csv('{data}')) TO '{out}' (FORMAT parquet)"
        return duckdb.connect().execute(q).fetchone()[0]

    def finish(n):
        shutil.rmtree(tmp, ignore_errors=True)
        return int(n)
    return work, finish


READS = {"stg_telemetry_day": ("onepane", "duckdb"),
         "summary_last_hour": ("onepane", "duckdb"), "summary_whole_range": ("onepane", "duckdb"),
         "service_page_day": ("onepane", "onepane_cold", "duckdb"),
         "service_page_7d": ("onepane", "onepane_cold", "duckdb")}
INGESTS = {"ingest_openmetrics": ("onepane", "duckdb"), "ingest_requests": ("onepane", "duckdb")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp/onepane-telemetry-scale")
    ap.add_argument("--no-ingest", action="store_true", help="measure the reads only")
    ap.add_argument("--only-ingest", action="store_true", help="measure the ingests only (no store built)")
    ap.add_argument("--om-days", type=int, default=1,
                    help="days in the one OpenMetrics file ingested (10: a 10M-sample file)")
    ap.add_argument("--fast-build", action="store_true",
                    help="write the store through the lake writer instead of generating and ingesting "
                         "OpenMetrics text (same samples; for 100M); implies --no-ingest")
    ap.add_argument("--reads", default=",".join(READS),
                    help="comma-separated read paths to measure (default: all)")
    ap.add_argument("--ingests", default=",".join(INGESTS),
                    help="with --only-ingest: comma-separated ingests to measure (default: all)")
    ap.add_argument("--db")
    ap.add_argument("--data-om", default="")
    ap.add_argument("--data-req", default="")
    sides.add_arguments(ap)
    a = ap.parse_args()
    if a.side:
        return sides.child({f"{r}/{v}": side for r, vs in {**READS, **INGESTS}.items() for v in vs}, a)
    from collectors.openmetrics import ingest_openmetrics
    from metrics.store import Store

    days = max(1, round(a.samples / SAMPLES_PER_DAY))
    if a.only_ingest:
        days = a.om_days
    d = Path(a.dir) / (f"{days}d-fast" if a.fast_build else f"{days}d")
    d.mkdir(parents=True, exist_ok=True)
    if a.only_ingest:
        return _only_ingest(a, d, generate(d, days) if "ingest_openmetrics" in a.ingests else [])
    db = d / "store.duckdb"
    if a.fast_build:
        a.no_ingest = True
        if not db.exists():
            build_fast(Store(db).ensure(), days)
    else:
        files = generate(d, days)
        if not db.exists():
            store = Store(db).ensure()
            for f in files:
                ingest_openmetrics(store, f)
    n = int(Store(db).query("SELECT count(*) n FROM raw_telemetry")["n"][0])
    print("baseline applies (no failed/superseding loads, no duplicates):", check_baseline_applies(Store(db)),
          flush=True)
    argv = ["--db", str(db), "--dir", str(d)]
    results = {}
    for read, variants in READS.items():
        if read not in a.reads.split(","):
            continue
        results[read] = sides.compare(__file__, [f"{read}/{v}" for v in variants], argv, runs=a.runs)
    if not a.no_ingest:
        log = request_log(Path(a.dir) / f"requests_{a.requests}.csv", a.requests)
        argv += ["--data-om", str(files[0]), "--data-req", str(log)]
        for read, variants in INGESTS.items():
            results[read] = sides.compare(__file__, [f"{read}/{v}" for v in variants], argv, runs=1)
    report(results, n, days)


def _only_ingest(a, d: Path, files: list[Path]) -> None:
    """The ingest sides alone, on one file of --om-days days (no store of samples built)."""
    om = "" if not files else files[0] if len(files) == 1 else one_file(d, files)
    log = request_log(Path(a.dir) / f"requests_{a.requests}.csv", a.requests)
    argv = ["--db", str(d / "unused.duckdb"), "--dir", str(d), "--data-om", str(om), "--data-req", str(log)]
    results = {read: sides.compare(__file__, [f"{read}/{v}" for v in variants], argv, runs=a.runs)
               for read, variants in INGESTS.items() if read in a.ingests.split(",")}
    print(f"request log: {a.requests:,} rows; load average {os.getloadavg()}")
    report(results, len(files) * SAMPLES_PER_DAY, len(files))


def report(results: dict, n: int, days: int) -> None:
    print(f"\n{n:,} samples in the store ({days} day(s), {len(SERVICES)} services x 29 series, 15 s); "
          f"service {SVC}; fresh process per side, alternating, answers equal\n")
    sides.table(results)
    print(json.dumps({"samples": n, "results": results}, default=str))


if __name__ == "__main__":
    main()
