"""Benchmark: telemetry reads and ingests at scale, as ratios against the filter-first DuckDB query.

    nice .venv/bin/python benchmarks/telemetry_scale.py --samples 1000000 [--dir /tmp/tscale]

1. Generates OpenMetrics scrape files (6 services x 29 series, a scrape every 15 s: ~1M samples
   per day; --samples picks the number of days) and a request log (1M rows), and ingests them
   through the real collectors (`ingest openmetrics`, `ingest requests`).
2. Measures each read path of issue 15 over one service:
     summary_last_hour      metrics.telemetry.telemetry_summary over the last hour
     summary_whole_range    the same over all stored data
     service_page_day       metrics/sql/queries/service_technical.sql over the last day
   each against the fastest plain DuckDB query giving the same request counts straight from the
   Parquet files with the service and time filters first (`baseline_*`).
3. Ingests against DuckDB doing the same parsing: the OpenMetrics text split with read_csv and
   regexp into Parquet; the request log read_csv -> Parquet.
Every measurement runs in its own process (peak RSS is that process's VmHWM); reads best of 3,
ingests once. `*_old` rows run the pre-issue-15 read (stg_telemetry_delta filtered afterwards; the
old Service page query kept in tests/oracles/) for comparison.
Prints the ratio table (Markdown) and one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

T0 = datetime(2026, 9, 1, tzinfo=timezone.utc)
SERVICES = [f"svc-{i}" for i in range(6)]
LES = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
PER_DAY = 86400 // 15
SAMPLES_PER_DAY = len(SERVICES) * 29 * PER_DAY
OLD_WINDOW = """
SELECT sampled_at, metric, labels_hash, model_version, value, increase, dt_s, status,
       CASE WHEN metric LIKE '%\\_bucket' ESCAPE '\\' THEN json_extract_string(labels, '$.le') END AS le
FROM stg_telemetry_delta
WHERE service = $service AND sampled_at >= $start AND sampled_at < $end
"""


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


# ---- measurements (each in its own process) ----------------------------------------------------
def measure(name: str, db: str, data: str) -> dict:
    import duckdb

    from metrics.store import Store
    from metrics.telemetry import sql, telemetry_summary

    store = Store(db)
    svc = "svc-3"
    hi = (store.query("SELECT max(sampled_at) hi FROM raw_telemetry")["hi"][0]
          if "ingest" not in name and "openmetrics" not in name and "requests" not in name else None)
    lake = str(Path(db).with_suffix(".lake") / "raw_telemetry" / "**" / "*.parquet")
    if name.endswith("_old"):           # the read before issue 15: stg_telemetry_delta, filtered after
        import metrics.telemetry as mt

        def old_window(con, params, start):
            con.execute("CREATE TEMP TABLE _window AS " + OLD_WINDOW, params)
        mt._window = old_window
        name = name[:-4]
        if name == "service_page_day":
            sql = lambda _: (ROOT / "tests" / "oracles" / "service_technical_before_issue15.sql").read_text()  # noqa: E731
    if name in ("ingest_openmetrics", "ingest_requests"):
        fresh = Store(db).ensure()               # an existing store: creating it is not the ingest
    t, cpu = time.perf_counter(), time.process_time()
    if name == "summary_last_hour":
        telemetry_summary(store, None, svc, hi - timedelta(hours=1), hi)
    elif name == "summary_whole_range":
        telemetry_summary(store, None, svc)
    elif name == "service_page_day":
        store.query(sql("service_technical"), {"service": svc, "start": hi - timedelta(days=1), "end": hi,
                                               "bucket": "hour", "split": True, "gpus": []})
    elif name.startswith("baseline_") and name not in ("baseline_openmetrics", "baseline_requests"):
        span = {"baseline_last_hour": timedelta(hours=1), "baseline_day": timedelta(days=1)}.get(name)
        where = f"service = '{svc}'" + (f" AND sampled_at >= TIMESTAMPTZ '{hi - span}' - INTERVAL 5 MINUTE "
                                        f"AND sampled_at < TIMESTAMPTZ '{hi}'" if span else "")
        start = f"TIMESTAMPTZ '{hi - span}'" if span else "TIMESTAMPTZ '1970-01-01'"
        duckdb.connect().execute(f"""
            SELECT model_version, sum(d) FROM (
              SELECT model_version, sampled_at, value - lag(value) OVER (PARTITION BY metric, labels_hash
                                                                         ORDER BY sampled_at) AS d
              FROM read_parquet('{lake}') WHERE {where} AND metric LIKE 'inference%')
            WHERE sampled_at >= {start} GROUP BY 1""").fetchall()
    elif name == "ingest_openmetrics":
        from collectors.openmetrics import ingest_openmetrics

        ingest_openmetrics(fresh, data)
    elif name == "baseline_openmetrics":
        out = Path(db).parent / "om_baseline.parquet"
        duckdb.connect().execute(f"""
            COPY (SELECT regexp_extract(line, '^([^{{ ]+)', 1) AS metric,
                         regexp_extract(line, '\\{{(.*)\\}}', 1) AS labels,
                         md5(regexp_extract(line, '\\{{(.*)\\}}', 1)) AS labels_hash,
                         regexp_extract(line, '\\}} (\\S+) (\\S+)$', 1)::DOUBLE AS value,
                         to_timestamp(regexp_extract(line, '\\}} (\\S+) (\\S+)$', 2)::DOUBLE) AS sampled_at
                  FROM read_csv('{data}', columns = {{'line': 'VARCHAR'}}, delim = '\\t', quote = '',
                                escape = '', header = false)
                  WHERE line NOT LIKE '#%')
            TO '{out}' (FORMAT parquet)""")
    elif name == "ingest_requests":
        from collectors.requests import ingest_requests

        ingest_requests(fresh, data)
    elif name == "baseline_requests":
        out = Path(db).parent / "req_baseline.parquet"
        duckdb.connect().execute(f"COPY (SELECT * FROM read_csv('{data}')) TO '{out}' (FORMAT parquet)")
    else:
        raise SystemExit(f"unknown measurement {name}")
    return {"s": time.perf_counter() - t, "cpu_s": time.process_time() - cpu, "rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: reset by exec, unlike ru_maxrss which keeps the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(name: str, db: Path, data: Path | str = "", repeat: int = 3, fresh_db=None) -> dict:
    best = None
    for _ in range(repeat):
        target = db
        if fresh_db is not None:
            target = fresh_db()
        out = subprocess.run([sys.executable, __file__, "--one", name, "--db", str(target), "--data", str(data)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        best = r if best is None or r["s"] < best["s"] else best
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp/onepane-telemetry-scale")
    ap.add_argument("--no-ingest", action="store_true", help="measure the reads only")
    ap.add_argument("--repeat", type=int, default=3, help="runs per read path (best of)")
    ap.add_argument("--no-old", action="store_true", help="skip the pre-issue-15 reads (minutes at 10M)")
    ap.add_argument("--one")
    ap.add_argument("--db")
    ap.add_argument("--data", default="")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(measure(a.one, a.db, a.data)))
        return
    from collectors.openmetrics import ingest_openmetrics
    from collectors.requests import ingest_requests
    from metrics.store import Store

    days = max(1, round(a.samples / SAMPLES_PER_DAY))
    d = Path(a.dir) / f"{days}d"
    d.mkdir(parents=True, exist_ok=True)
    files = generate(d, days)
    db = d / "store.duckdb"
    if not db.exists():
        store = Store(db).ensure()
        for f in files:
            ingest_openmetrics(store, f)
    n = Store(db).query("SELECT count(*) n FROM raw_telemetry")["n"][0]
    rows = {}
    pairs = [("summary_last_hour", "baseline_last_hour"), ("summary_last_hour_old", "baseline_last_hour"),
             ("summary_whole_range", "baseline_whole_range"), ("summary_whole_range_old", "baseline_whole_range"),
             ("service_page_day", "baseline_day"), ("service_page_day_old", "baseline_day")]
    base_runs = {}
    for ours, base in pairs:
        if a.no_old and ours.endswith("_old"):
            continue
        if base not in base_runs:
            base_runs[base] = run_one(base, db, repeat=a.repeat)
        rows[ours] = (run_one(ours, db, repeat=a.repeat), base_runs[base])
    if a.no_ingest:
        return report(rows, n, days)
    k = [0]

    def fresh():
        k[0] += 1
        return d / f"ingest{k[0]}" / "s.duckdb"
    for p in d.glob("ingest*"):
        import shutil
        shutil.rmtree(p)
    for i in range(3):
        (d / f"ingest{i + 1}").mkdir()
    rows["ingest_openmetrics (1 day file)"] = (run_one("ingest_openmetrics", db, files[0], 1, fresh_db=fresh),
                                               run_one("baseline_openmetrics", db, files[0], 1))
    if len(files) > 1:                 # the whole store as one file (issue 15: memory bounded by the chunk)
        big = one_file(d, files)
        (d / "ingest_big").mkdir(exist_ok=True)
        rows[f"ingest_openmetrics ({len(files)}-day file, {n:,} samples)"] = (
            run_one("ingest_openmetrics", db, big, 1, fresh_db=lambda: d / "ingest_big" / "s.duckdb"),
            run_one("baseline_openmetrics", db, big, 1))
        big.unlink()
    log = request_log(Path(a.dir) / f"requests_{a.requests}.csv", a.requests)
    for i in range(3):
        (d / f"ingest{i + 4}").mkdir(exist_ok=True)
    rows[f"ingest_requests ({a.requests} rows)"] = (run_one("ingest_requests", db, log, 1, fresh_db=fresh),
                                                    run_one("baseline_requests", db, log, 1))
    report(rows, n, days)


def report(rows: dict, n: int, days: int) -> None:
    print(f"\n{n:,} samples in the store ({days} day(s), {len(SERVICES)} services x 29 series, 15 s)\n")
    print("| read path | onepane s | filter-first DuckDB s | ratio | CPU-time ratio | onepane peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for k_, (ours, base) in rows.items():
        print(f"| {k_} | {ours['s']:.3f} | {base['s']:.3f} | {ours['s'] / base['s']:.2f}x | "
              f"{ours['cpu_s'] / base['cpu_s']:.2f}x | {ours['rss_mb']:.0f} |")
    print(json.dumps({"samples": int(n), **{k_: {"s": o["s"], "baseline_s": b["s"], "cpu_s": o["cpu_s"],
                                                 "baseline_cpu_s": b["cpu_s"], "rss_mb": o["rss_mb"]}
                                            for k_, (o, b) in rows.items()}}))


if __name__ == "__main__":
    main()
