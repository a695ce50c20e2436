"""Benchmark: counter increases for one service and day, as ratios against the filter-first DuckDB query.

    nice .venv/bin/python benchmarks/telemetry_rollups.py --samples 1000000 [--dir DIR] [--runs 3]

The store is benchmarks/telemetry_scale.py's (its `generate()`: 6 services x 29 series, a scrape
every 15 s, ~1M samples a day, ingested through `ingest openmetrics`). Two read paths over service
svc-3 and the store's last day, each with three sides:
  requests_daily     metrics/sql/queries/requests_daily.sql (the Overview's predictions per day):
                     `onepane` = the filter-first query with the carry, `old_sql` = the query before
                     (tests/oracles/requests_daily_before_issue15.sql over the old stg_telemetry_delta)
  technical_minute   stg_technical_minute filtered to the service and day (requests, errors, tokens
                     per model version): `onepane` = the view over stg_telemetry_delta with the service
                     in the window's partition, `old_sql` = the same over the old view
  duckdb             the hand-written query: read_parquet with the service, metric and time filters
                     first (5 minutes before the day for each series' previous sample), lag, sum
Sides as in benchmarks/sides.py: a fresh process per run, alternating, every side's answer equal or
no ratio; CPU time of the timed work and peak RSS beside the wall time. Prints a Markdown table and
one JSON line. Ingest: these readers add nothing to an ingest (no rollup is built), so there is no
ingest side.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import sides  # noqa: E402
from telemetry_scale import SAMPLES_PER_DAY, SVC, generate  # noqa: E402

ORACLES = ROOT / "tests" / "oracles"


def _old_delta() -> str:
    text = (ORACLES / "stg_telemetry_delta_before_issue15.sql").read_text(encoding="utf-8")
    return "(" + text[text.index("WITH s AS"):].rstrip().rstrip(";") + ")"


def _day(store):
    """The last day before the newest sample's minute, on whole minutes (a minute bucket is in or out)."""
    hi = store.query("SELECT max(sampled_at) hi FROM raw_telemetry")["hi"][0].replace(second=0, microsecond=0)
    return hi - timedelta(days=1), hi


def _answer(rows) -> list:
    return sorted([str(v), round(float(r or 0), 3), round(float(e or 0), 3), round(float(t or 0), 3)]
                  for v, r, e, t in rows)


def _duckdb(store, start, end, tokens: bool):
    import duckdb

    lake = str(store.lake / "raw_telemetry" / "**" / "*.parquet")
    metrics = "('inference_requests_total', 'inference_tokens_total')" if tokens else "('inference_requests_total')"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    q = f"""
        SELECT model_version,
               sum(d) FILTER (WHERE metric = 'inference_requests_total'),
               sum(d) FILTER (WHERE metric = 'inference_requests_total'
                              AND json_extract_string(labels, '$.status') = '500'),
               {"sum(d) FILTER (WHERE metric = 'inference_tokens_total')" if tokens else "0"}
        FROM (SELECT model_version, metric, labels, sampled_at,
                     CASE WHEN value < lag(value) OVER w THEN value ELSE value - lag(value) OVER w END AS d
              FROM read_parquet('{lake}', hive_partitioning = false)
              WHERE service = '{SVC}' AND metric IN {metrics}
                AND sampled_at >= TIMESTAMPTZ '{start}' - INTERVAL 5 MINUTE AND sampled_at < TIMESTAMPTZ '{end}'
              WINDOW w AS (PARTITION BY metric, labels_hash ORDER BY sampled_at))
        WHERE sampled_at >= TIMESTAMPTZ '{start}' GROUP BY 1"""
    return lambda: con.execute(q).fetchall()


def side(a):
    from metrics.queries import _drop_unused, _window, sql_text
    from metrics.store import Store

    read, variant = a.side.split("/")
    store = Store(a.db)
    start, end = _day(store)
    if variant == "duckdb":
        return _duckdb(store, start, end, tokens=read == "technical_minute"), _answer
    con = store.connect()
    if read == "requests_daily":
        text = sql_text("requests_daily") if variant == "onepane" else (
            (ORACLES / "requests_daily_before_issue15.sql").read_text(encoding="utf-8")
            .replace("FROM stg_telemetry_delta", f"FROM {_old_delta()}"))
        params = {**_window(start, end), "services": [SVC]}
        sql = f"SELECT model_version, sum(requests), sum(errors), 0 FROM ({_drop_unused(text, params)}) GROUP BY 1"
        return (lambda: con.execute(sql, params).fetchall()), _answer
    if variant == "old_sql":
        view = (ROOT / "metrics" / "sql" / "staged" / "stg_technical_minute.sql").read_text(encoding="utf-8")
        con.execute("CREATE TEMP VIEW old_delta AS " + _old_delta()[1:-1])
        con.execute(view.replace("VIEW stg_technical_minute", "TEMP VIEW old_minute")
                    .replace("FROM stg_telemetry_delta", "FROM old_delta"))
    name = "stg_technical_minute" if variant == "onepane" else "old_minute"
    sql = (f"SELECT model_version, sum(requests), sum(errors), sum(tokens) FROM {name} "
           f"WHERE service = '{SVC}' AND minute >= TIMESTAMPTZ '{start}' AND minute < TIMESTAMPTZ '{end}' GROUP BY 1")
    return (lambda: con.execute(sql).fetchall()), _answer


READS = {"requests_daily": ("onepane", "old_sql", "duckdb"),
         "technical_minute": ("onepane", "old_sql", "duckdb")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "onepane-telemetry-scale"))
    ap.add_argument("--db")
    ap.add_argument("--reads", default=",".join(READS), help="comma-separated subset of: " + ", ".join(READS))
    sides.add_arguments(ap)
    a = ap.parse_args()
    if a.side:
        return sides.child({f"{r}/{v}": side for r, vs in READS.items() for v in vs}, a)
    from collectors.openmetrics import ingest_openmetrics
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
    n = int(Store(db).ensure().query("SELECT count(*) n FROM raw_telemetry")["n"][0])   # views of this checkout
    results = {read: sides.compare(__file__, [f"{read}/{v}" for v in vs], ["--db", str(db)], runs=a.runs)
               for read, vs in READS.items() if read in a.reads.split(",")}
    print(f"\n{n:,} samples in the store ({days} day(s)); service {SVC}, its last day; fresh process per "
          "side, alternating, answers equal\n")
    sides.table(results)
    print(json.dumps({"samples": n, "results": results}, default=str))


if __name__ == "__main__":
    main()
