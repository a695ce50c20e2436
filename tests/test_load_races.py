"""Parallel loads never double-count: N real processes ingest the same file (or a file and its
restatement) at the same instant, round after round, for every file collector.

Before the fix, the content-hash check and the supersede lookup ran before the commit, so three
simultaneous ingests of one bill left it three times (and an original plus its restatement left
both). Rounds: 3 workers x 3 rounds x 6 collectors of the same file, 3 x 3 x 6 of a file and its
restatement, and 3 rounds of three CLI ingests of one bill. Now both are decided again under the table's commit lock: exactly one copy is visible and
the other processes report "already loaded" (skipped). Expected counts and sums are computed here
from the files' text with plain Python.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from tests.billing_helpers import focus_row, write_csv
from tests.conftest import ROOT, cli_env

WORKERS = 3
ROUNDS = 3                # same-file rounds per collector
RESTATE_ROUNDS = 3        # original + restatement rounds (billing, kpis)
TABLES = {"billing": "raw_focus", "kpis": "raw_kpis", "events": "raw_events",
          "openmetrics": "raw_telemetry", "requests": "raw_requests", "evidently": "raw_model_health"}


# ---- input files (round r, variant v: a different value set for a restatement) --------------
def billing_file(d: Path, r: int, v: int = 0) -> tuple[Path, int, Decimal]:
    rows = [focus_row(cost=f"{r + 1}.{i:02d}{v}", day=f"{i + 1:02d}", month=f"2026-{r + 1:02d}",
                      resource=f"r-{i}") for i in range(18)]
    p = write_csv(d / "bill.csv", rows)
    return p, 18, sum(Decimal(row[6]) for row in rows)


def kpis_file(d: Path, r: int, v: int = 0) -> tuple[Path, int, Decimal]:
    lines = [f"2026-0{r + 1}-{i + 1:02d},search,v1,purchases,{r * 100 + i + 1000 * v}" for i in range(5)]
    p = d / f"k{r}.csv"           # one name per round: the same name is a restatement
    p.write_text("time,service,model_version,kpi,value\n" + "\n".join(lines) + "\n")
    return p, 5, sum(Decimal(x.rsplit(",", 1)[1]) for x in lines)


def events_file(d: Path, r: int, v: int = 0) -> tuple[Path, int]:
    evs = [{"ts": 1767614400 + 3600 * (10 * r + i), "kind": "deploy", "service": "search",
            "detail": f"round {r} event {i}" + (f" corrected {v}" if v else ""),
            "event_id": f"ev-{r}-{i}"} for i in range(3)]
    p = d / "e.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in evs))
    return p, 3


def openmetrics_file(d: Path, r: int, v: int = 0) -> tuple[Path, int]:
    lines = [f'race_gauge{{service="svc",round="{r}"}} {i + 100 * v}.5 {1767614400000 + 60000 * i}'
             for i in range(7)]
    p = d / "m.prom"
    p.write_text("# TYPE race_gauge gauge\n" + "\n".join(lines) + "\n")
    return p, 7


def requests_file(d: Path, r: int, v: int = 0) -> tuple[Path, int]:
    rows = [f"{r * 100 + i},{1767614400 + i}.25,{1767614400 + i}.75,v1,200,{10 + i},{20 + r + 7 * v}"
            for i in range(9)]
    p = d / "req.csv"
    p.write_text("request_id,arrived_at,finished_at,model_version,status,prompt_tokens,"
                 "completion_tokens\n" + "\n".join(rows) + "\n")
    return p, 9


def evidently_file(d: Path, r: int, v: int = 0) -> tuple[Path, int]:
    metrics = [{"metric": "ColumnDriftMetric",
                "result": {"column_name": f"col{r}_{i}", "drift_score": 0.01 * i + 0.5 * v, "stattest_name": "ks",
                           "stattest_threshold": 0.05, "drift_detected": i < 2, "column_type": "num"}}
               for i in range(4)]
    p = d / "legacy.json"
    p.write_text(json.dumps({"metrics": metrics}))
    return p, 4


SAME_FILE = {"billing": lambda d, r: billing_file(d, r)[:2], "kpis": lambda d, r: kpis_file(d, r)[:2],
             "events": events_file, "openmetrics": openmetrics_file, "requests": requests_file,
             "evidently": evidently_file}


# ---- running the workers -------------------------------------------------------------------
def run_rounds(work: Path, rounds: list[dict]) -> dict[int, list[dict]]:
    """Start WORKERS processes, release them together for each round, return results by round."""
    plan = work / "plan.json"
    plan.write_text(json.dumps({"dir": str(work), "rounds": rounds}))
    procs = [subprocess.Popen([sys.executable, "-m", "tests.race_worker", str(plan), str(i)],
                              cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(WORKERS)]
    out: dict[int, list[dict]] = {}
    try:
        for rnd in rounds:
            n = rnd["round"]
            _wait(lambda: all((work / f"ready-{n}-{i}").exists() for i in range(WORKERS)), procs)
            (work / f"go-{n}").touch()
            _wait(lambda: all((work / f"result-{n}-{i}.json").exists() for i in range(WORKERS)), procs)
            out[n] = [json.loads((work / f"result-{n}-{i}.json").read_text()) for i in range(WORKERS)]
    finally:
        for p in procs:
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
    for p in procs:
        assert p.returncode == 0, p.stderr.read()
    return out


def _wait(cond, procs, timeout=240.0):
    t0 = time.monotonic()
    while not cond():
        dead = [p for p in procs if p.poll() not in (None, 0)]
        assert not dead, dead[0].stderr.read()
        assert time.monotonic() - t0 < timeout, "workers did not finish in time"
        time.sleep(0.01)


def test_parallel_ingests_of_one_file_load_it_once_for_every_collector(tmp_path):
    from metrics.store import Store

    rounds, expected = [], {}
    n = 0
    for kind in TABLES:
        db = tmp_path / f"{kind}.duckdb"
        Store(db).ensure()
        for r in range(ROUNDS):
            d = tmp_path / f"{kind}-{r}"
            d.mkdir()
            path, rows = SAME_FILE[kind](d, r)
            rounds.append({"round": n, "db": str(db), "files": [[kind, str(path)]] * WORKERS})
            expected[n] = (kind, db, rows)
            n += 1
    results = run_rounds(tmp_path, rounds)
    visible: dict[str, int] = {}
    for n, (kind, db, rows) in expected.items():
        got = results[n]
        assert [g["status"] for g in got].count("loaded") == 1, (kind, got)
        assert [g["status"] for g in got].count("skipped") == WORKERS - 1, (kind, got)
        if kind != "evidently":        # its already-loaded fast path names no load
            assert len({g["load_id"] for g in got}) == 1, (kind, got)      # all name the one load
        visible[kind] = visible.get(kind, 0) + rows
    for kind in TABLES:
        store = Store(tmp_path / f"{kind}.duckdb")
        n_rows = store.query(f"SELECT count(*) AS n FROM {TABLES[kind]}")["n"][0]
        assert n_rows == visible[kind], kind
        ok = store.query("SELECT count(*) AS n FROM _onepane_loads WHERE status = 'ok'")["n"][0]
        assert ok == ROUNDS, kind             # one committed load per file, nothing else


# A restatement is a second version of the same delivery. Billing and KPIs supersede the earlier
# file's scopes; the other collectors keep one row per key in their staged view (the newest load
# wins). Either way, one version is visible whole, never both and never a mix.
def _restated(kind: str, d: Path, r: int, v: int) -> tuple[Path, tuple]:
    """The file and its signature (rows, a total), read back from the file's text by hand."""
    if kind in ("billing", "kpis"):
        p, rows, total = (billing_file if kind == "billing" else kpis_file)(d, r, v)
        return p, (rows, total)
    p, rows = {"events": events_file, "openmetrics": openmetrics_file, "requests": requests_file,
               "evidently": evidently_file}[kind](d, r, v)
    text = p.read_text()
    if kind == "events":
        total = "|".join(sorted(json.loads(line)["detail"] for line in text.splitlines()))
    elif kind == "openmetrics":
        total = sum(Decimal(line.split()[1]) for line in text.splitlines()[1:])
    elif kind == "requests":
        total = sum(Decimal(line.rsplit(",", 1)[1]) for line in text.splitlines()[1:])
    else:
        total = round(sum(Decimal(str(m["result"]["drift_score"])) for m in json.loads(text)["metrics"]), 9)
    return p, (rows, total)


SIGNATURE = {  # the staged view's rows and total, per collector
    "billing": "SELECT count(*), sum(BilledCost) FROM focus",
    "kpis": "SELECT count(*), sum(value) FROM stg_kpis",
    "events": "SELECT count(*), string_agg(detail, '|' ORDER BY detail) FROM stg_events",
    "openmetrics": "SELECT count(*), sum(value) FROM stg_telemetry",
    "requests": "SELECT count(*), sum(completion_tokens) FROM stg_requests",
    "evidently": "SELECT count(*), round(sum(value), 9) FROM stg_model_health WHERE metric = 'drift_score'",
}


def test_an_original_and_its_restatement_in_parallel_leave_one_visible(tmp_path):
    from metrics.store import Store

    rounds, expected = [], {}
    n = 0
    for kind in TABLES:
        for r in range(RESTATE_ROUNDS):
            db = tmp_path / f"{kind}-{r}.duckdb"
            Store(db).ensure()
            files, sums = [], []
            for v in range(2):
                d = tmp_path / f"{kind}-{r}-{v}"
                d.mkdir()
                p, sig = _restated(kind, d, r, v)
                files.append([kind, str(p)])
                sums.append(sig)
            assert sums[0] != sums[1]
            rounds.append({"round": n, "db": str(db), "files": [files[0], files[1], files[0]]})
            expected[n] = (kind, db, sums)
            n += 1
    results = run_rounds(tmp_path, rounds)
    for n, (kind, db, sums) in expected.items():
        assert all(g["status"] in ("loaded", "skipped") for g in results[n]), results[n]
        got = Store(db).query(SIGNATURE[kind]).row(0)
        total = got[1] if kind == "events" else Decimal(str(got[1]))
        assert (got[0], total) in sums, (kind, got, sums)


def test_three_cli_ingests_of_one_bill_at_once(tmp_path):
    """The report's own case: three `onepane ingest billing bill.csv` started together."""
    db = tmp_path / "s.duckdb"
    subprocess.run([sys.executable, "-m", "app", "init", "--db", str(db)], cwd=tmp_path,
                   env=cli_env(), check=True, capture_output=True)
    for r in range(3):
        d = tmp_path / f"r{r}"
        d.mkdir()
        path, _, total = billing_file(d, r)
        procs = [subprocess.Popen([sys.executable, "-m", "app", "ingest", "billing", str(path),
                                   "--db", str(db)], cwd=tmp_path, env=cli_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        outs = [p.communicate(timeout=180) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        said = [o for o, _ in outs]
        assert sum("already loaded" in s for s in said) == 2, said
        from metrics.store import Store

        got = Store(db).query(f"SELECT count(*) AS n, sum(BilledCost) AS t FROM focus "
                              f"WHERE month(ChargePeriodStart) = {r + 1}").row(0)
        assert got[0] == 18 and Decimal(str(got[1])) == total


def test_a_restatement_committed_while_its_partition_is_rewritten_still_supersedes_it(tmp_path):
    """A compaction holds the table's exclusive lock while it rewrites a partition: for a moment
    the partition's files are not where a reader lists them. A restatement committing then must
    wait for it, not look up the rows it supersedes in the half-rewritten folder (the soak's
    `ingest billing` failed on a file that vanished under that lookup; had the listing missed the
    files instead, the original and its restatement would both have stayed visible)."""
    from metrics.lake import table_lock
    from metrics.store import Store

    db = tmp_path / "s.duckdb"
    subprocess.run([sys.executable, "-m", "app", "init", "--db", str(db)], cwd=tmp_path,
                   env=cli_env(), check=True, capture_output=True)
    files = []
    for v in range(2):
        d = tmp_path / f"v{v}"
        d.mkdir()
        files.append(billing_file(d, 0, v))           # same month, other costs: a restatement
    assert files[0][2] != files[1][2]
    subprocess.run([sys.executable, "-m", "app", "ingest", "billing", str(files[0][0]), "--db", str(db)],
                   cwd=tmp_path, env=cli_env(), check=True, capture_output=True)
    store = Store(db)
    folder = store.lake / "raw_focus"
    aside = store.lake / "_aside"
    with table_lock(store, "raw_focus", exclusive=True):        # the compaction, mid-rewrite
        parts = sorted(p for p in folder.glob("*=*") if p.is_dir())
        assert parts
        aside.mkdir()
        for p in parts:
            p.rename(aside / p.name)
        proc = subprocess.Popen([sys.executable, "-m", "app", "ingest", "billing", str(files[1][0]),
                                 "--db", str(db)], cwd=tmp_path, env=cli_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        staging = store.lake / "_staging"
        deadline = time.monotonic() + 180
        while not (staging.exists() and any(staging.iterdir())) and proc.poll() is None:
            assert time.monotonic() < deadline, "the restatement never started writing"
            time.sleep(0.05)
        time.sleep(2)                                   # its commit reaches the lookup meanwhile
        for p in parts:
            (aside / p.name).rename(p)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    got = store.query("SELECT count(*) AS n, sum(BilledCost) AS t FROM focus").row(0)
    assert got[0] == files[1][1] and Decimal(str(got[1])) == files[1][2], (got, files[1][1:])
