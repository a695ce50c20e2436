"""Request logs without a request id, and a service whose only technical source is its request log
(issue 14, section 6). The logs are built here; every expected figure is plain Python over the rows
the test wrote."""
from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta, timezone

import pytest

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
SERVICE = "log-only"


def quantile_cont(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    h = (len(xs) - 1) * q
    lo = int(h)
    return xs[lo] + (xs[min(lo + 1, len(xs) - 1)] - xs[lo]) * (h - lo)


def write_log(path, n=6000, seed=7, step_ms=20, id_column=False):
    """Two versions interleaved; arrival times at 20 ms resolution so many requests share one."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        t = T0 + timedelta(milliseconds=step_ms * (i // 3))       # three requests per instant
        version = "v1" if i % 2 else "v2"
        status = rnd.choice(["200"] * 18 + ["500", "429"])
        latency_ms = round(rnd.lognormvariate(5.0 if version == "v1" else 5.4, 0.5), 3)
        path_ = rnd.choice(["model"] * 17 + ["fallback", "fallback", "abstain"])
        rows.append({"arrived_at": t.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                     "model_version": version, "status": status, "latency_ms": latency_ms, "path": path_,
                     **({"request_id": f"r{i}"} if id_column else {})})
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def facts(rows):
    out = {}
    for v in ("v1", "v2"):
        r = [x for x in rows if x["model_version"] == v]
        lat = [x["latency_ms"] / 1000 for x in r]
        out[v] = {"requests": len(r),
                  "errors": sum(int(x["status"]) >= 500 for x in r),
                  "fallbacks": sum(x["path"] == "fallback" for x in r),
                  "abstains": sum(x["path"] == "abstain" for x in r),
                  "p50": quantile_cont(lat, 0.5), "p95": quantile_cont(lat, 0.95),
                  "mean": sum(lat) / len(lat)}
    return out


@pytest.fixture
def log_store(store, tmp_path):
    from collectors.requests import ingest_requests

    rows = write_log(tmp_path / "requests.csv")
    ingest_requests(store, tmp_path / "requests.csv", service=SERVICE)
    return store, rows


def test_requests_with_the_same_arrival_time_are_all_kept(log_store):
    store, rows = log_store
    n = store.query("SELECT count(*) n FROM stg_requests")["n"][0]
    assert n == len(rows)
    same = store.query("SELECT count(*) n FROM (SELECT arrived_at FROM stg_requests GROUP BY 1 HAVING count(*) > 1)")
    assert same["n"][0] == len({r["arrived_at"] for r in rows})      # every instant holds 3 requests


def test_only_real_duplicates_are_removed(store, tmp_path):
    from collectors.requests import ingest_requests

    rows = write_log(tmp_path / "a.csv", n=300, id_column=True)
    ingest_requests(store, tmp_path / "a.csv", service=SERVICE)
    # a re-delivery with overlapping request ids (other bytes: a new file) adds only the new ids
    more = write_log(tmp_path / "b.csv", n=450, id_column=True, seed=8)
    ingest_requests(store, tmp_path / "b.csv", service=SERVICE)
    assert store.query("SELECT count(*) n FROM stg_requests")["n"][0] == len({r["request_id"] for r in rows + more})
    # the same file again is caught by its content hash
    assert ingest_requests(store, tmp_path / "b.csv", service=SERVICE)["skipped"]


def test_summary_of_a_service_with_only_a_request_log(log_store):
    from metrics.telemetry import telemetry_summary

    store, rows = log_store
    want = facts(rows)
    got = {v["model_version"]: v for v in telemetry_summary(store, None, SERVICE)["versions"]}
    assert set(got) == {"v1", "v2"}
    for v, f in want.items():
        g = got[v]
        assert g["requests"] == f["requests"]
        assert g["error_rate"] == pytest.approx(f["errors"] / f["requests"])
        assert g["fallback_rate"] == pytest.approx(f["fallbacks"] / f["requests"])
        assert g["abstain_rate"] == pytest.approx(f["abstains"] / f["requests"])
        assert g["latency_p50_s"] == pytest.approx(f["p50"])
        assert g["latency_p95_s"] == pytest.approx(f["p95"])
        assert g["latency_mean_s"] == pytest.approx(f["mean"])


def test_cli_summary_no_longer_says_no_telemetry(tmp_path, run_cli):
    rows = write_log(tmp_path / "requests.csv", n=90)
    db = tmp_path / "s.duckdb"
    run_cli("ingest", "requests", "--db", db, "--service", SERVICE, tmp_path / "requests.csv", check=True)
    r = run_cli("telemetry", "summary", "--db", db, "--service", SERVICE, "--format", "json", check=True)
    assert "no telemetry" not in r.stderr
    import json

    got = {v["model_version"]: v["requests"] for v in json.loads(r.stdout)["versions"]}
    assert got == {v: f["requests"] for v, f in facts(rows).items()}


def test_service_page_technical_query_from_the_log(log_store):
    from metrics import queries

    store, rows = log_store
    df = queries.service_technical(store, SERVICE, T0, T0 + timedelta(days=1), bucket="day")
    got = {(r["model_version"], r["metric"]): r["value"] for r in df.to_dicts()}
    for v, f in facts(rows).items():
        assert got[(v, "requests")] == f["requests"]
        assert got[(v, "error_rate")] == pytest.approx(f["errors"] / f["requests"])
        assert got[(v, "fallback_rate")] == pytest.approx(f["fallbacks"] / f["requests"])
        assert got[(v, "abstain_rate")] == pytest.approx(f["abstains"] / f["requests"])
        assert got[(v, "p95_s")] == pytest.approx(f["p95"])


def test_what_changed_input_reads_the_log(log_store):
    from metrics.analysis.signals import Frame, technical

    store, rows = log_store
    start = T0.timestamp()
    end = start + 3600
    fr = Frame(start, end, 60.0)
    series = {s.kind: s for s in technical(store, None, SERVICE, fr) if s.subject == SERVICE}
    assert {"request_rate", "error_rate", "latency_p50_s", "latency_p95_s", "fallback_rate"} <= set(series)
    import numpy as np

    # requests per minute bucket, counted here from the rows
    per_b = np.zeros(fr.n)
    for r in rows:
        t = datetime.fromisoformat(r["arrived_at"].replace("Z", "+00:00")).timestamp()
        if start <= t < end:
            per_b[int((t - start) // 60)] += 1
    got = np.nan_to_num(series["request_rate"].v * 60)
    assert np.allclose(got, per_b)
    # the p95 over the whole range lies in the same fixed bucket as the exact one
    lat = sorted(r["latency_ms"] / 1000 for r in rows)
    p95 = series["latency_p95_s"].agg(np.ones(fr.n, dtype=bool))
    bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0,
              1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0]
    exact = quantile_cont(lat, 0.95)
    lo = max(b for b in bounds if b < exact)
    hi = min(b for b in bounds if b >= exact)
    assert lo <= p95 <= hi
