"""`onepane loads list|rm`: a bad load is taken back by a tombstone load; `--as-of` before the
removal still shows it, the run log audits who and why, and Data health lists it."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.billing_helpers import focus_row, write_csv

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


def test_remove_a_bad_load_and_time_travel_before_it(run_cli, tmp_path, monkeypatch):
    db = tmp_path / "s.duckdb"
    good = write_csv(tmp_path / "sep.csv", [focus_row(cost="10.5", day=f"{d:02d}") for d in (1, 2, 3)])
    bad = write_csv(tmp_path / "oct.csv", [focus_row(cost="9999999", month="2026-10"),
                                           focus_row(cost="2.25", month="2026-10", day="03")])
    run_cli("ingest", "billing", good, "--db", db, check=True)
    run_cli("ingest", "billing", bad, "--db", db, check=True)
    listed = json.loads(run_cli("loads", "list", "--db", db, "--format", "json", check=True).stdout)
    bad_id = next(r["load_id"] for r in listed if r["source_file"] and r["source_file"].endswith("oct.csv"))
    before = max(r["finished_at"] for r in listed)

    r = run_cli("loads", "rm", bad_id, "--reason", "a 9,999,999 line", "--db", db, check=True)
    assert f"removed load {bad_id}: 2 rows of raw_focus" in r.stdout

    def total(*extra):
        out = run_cli("sql", "select sum(BilledCost) as t from focus", "--db", db, "--format", "csv",
                      *extra, check=True).stdout.split()
        return Decimal(out[1])
    assert total() == Decimal("31.5")                                   # 3 x 10.5
    assert total("--as-of", before) == Decimal("31.5") + Decimal("9999999") + Decimal("2.25")

    listed = json.loads(run_cli("loads", "list", "--db", db, "--format", "json", check=True).stdout)
    by_id = {r["load_id"]: r for r in listed}
    assert by_id[bad_id]["removed_at"] is not None
    tomb = next(r for r in listed if r["collector"] == "loads-rm")
    assert tomb["rows"] == 0 and tomb["status"] == "ok"
    only_new = json.loads(run_cli("loads", "list", "--since", tomb["finished_at"], "--db", db,
                                  "--format", "json", check=True).stdout)
    assert [r["load_id"] for r in only_new] == [tomb["load_id"]]

    again = run_cli("loads", "rm", bad_id, "--db", db)
    assert again.returncode == 1 and "already removed" in again.stderr and again.stderr.count("\n") == 1
    unknown = run_cli("loads", "rm", "nope", "--db", db)
    assert unknown.returncode == 1 and "no load 'nope'" in unknown.stderr

    # Data health lists the removal with its reason; as of before it, nothing was removed
    monkeypatch.setenv("ONEPANE_DB", str(db))
    monkeypatch.delenv("ONEPANE_CONFIG", raising=False)
    from metrics import queries
    from metrics.store import Store

    rem = queries.load_removals(Store(db))
    assert rem.select("removed_load", "removed_rows", "reason").row(0) == (bad_id, 2, "a 9,999,999 line")
    assert queries.load_removals(Store(db), as_of=before).height == 0
    at = AppTest.from_file(MAIN, default_timeout=90).run()
    at.switch_page("pages/data_health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    frames = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert frames and frames[0]["reason"].tolist() == ["a 9,999,999 line"]


def test_a_bad_prometheus_load_with_inf_is_taken_back(store, run_cli, tmp_path):
    """The report's case: one `+Inf` sample (and a runaway counter) collected from a real Prometheus.
    The summary no longer fails on it (non-finite values are stored NULL, as the OpenMetrics import
    does); the bad run is taken back with `loads rm`, and as of before the removal it still shows."""
    from collectors.prometheus import collect_url
    from metrics.telemetry import telemetry_summary
    from tests.prom_helpers import prometheus_from_openmetrics
    from tests.test_telemetry import config

    t0 = 1767614400
    values = ["0", "10", "20", "30", "+Inf", "1e12", "40", "50"]          # one sample a minute
    om = tmp_path / "bad.om"
    om.write_text("# TYPE inference_requests_total counter\n" + "".join(
        f'inference_requests_total{{service="svc",model_version="v1",status="200"}} {v} {t0 + 60 * i}\n'
        for i, v in enumerate(values)) + "# EOF\n")

    def requests(as_of=None):
        return telemetry_summary(store, config(), "svc", as_of=as_of)["versions"][0]["requests"]

    def at(s):
        return datetime.fromtimestamp(s, timezone.utc)

    with prometheus_from_openmetrics([om], tmp_path / "prom") as prom:
        def collect(a, b):
            r = collect_url(store, config(), prom.url, step="60s", start=at(a), end=at(b), sets=["prometheus_client"])
            assert r.ok, r.error
        collect(t0, t0 + 240)                         # 0, 10, 20, 30: 30 requests by hand
        good = requests()
        collect(t0 + 240, t0 + 480)                   # +Inf, 1e12, 40, 50
    assert good == 30
    bad = requests()                                  # a number, not a failure
    assert bad > 10 ** 11
    details = json.loads(store.query("SELECT details FROM _onepane_loads WHERE collector = 'prometheus' "
                                     "ORDER BY finished_at DESC LIMIT 1")["details"][0])
    assert details["null_values"] == 1               # the +Inf
    listed = json.loads(run_cli("loads", "list", "--db", store.db_path, "--format", "json", check=True).stdout)
    bad_id = listed[0]["load_id"]
    before = listed[0]["finished_at"]
    r = run_cli("loads", "rm", bad_id, "--reason", "+Inf and a runaway counter", "--db", store.db_path,
                check=True)
    assert f"removed load {bad_id}: 4 rows of raw_telemetry" in r.stdout
    assert requests() == 30
    assert requests(as_of=before) == bad
