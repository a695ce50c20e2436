"""`onepane loads list|rm`: a bad load is taken back by a tombstone load; `--as-of` before the
removal still shows it, the run log audits who and why, and Data health lists it."""
from __future__ import annotations

import json
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
