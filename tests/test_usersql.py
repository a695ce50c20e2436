"""`onepane sql` is read-only for real: each attempt of the report fails with one line and changes
nothing; ordinary SELECTs over every view still work."""
from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from tests.billing_helpers import focus_row, write_csv


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under root (but lock files) with a hash of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


@pytest.fixture
def billed(tmp_path):
    from collectors.billing.ingest import ingest_file
    from metrics.store import Store

    store = Store(tmp_path / "s.duckdb").ensure()
    rows = [focus_row(cost=f"{i}.25", day=f"{i:02d}") for i in range(1, 12)]
    ingest_file(store, write_csv(tmp_path / "bill.csv", rows))
    return store, sum(Decimal(r[6]) for r in rows)


ATTACKS = [
    ("COPY (SELECT * FROM raw_focus) TO '{lake}/raw_focus/month=2026-09/x.parquet'", "COPY"),
    ("EXPORT DATABASE '{tmp}/exported'", "EXPORT"),
    ("SET threads = 1", "SET"),
    ("SELECT 1; COPY (SELECT 1) TO '{tmp}/one.csv'", "one statement only"),
    ("SELECT * FROM read_text('/etc/passwd')", "Permission"),
    ("SELECT * FROM glob('{tmp}/home/*')", "Permission"),
    ("SELECT * FROM read_csv('{tmp}/home/secret.csv')", "Permission"),
    ("ATTACH '{tmp}/other.duckdb' AS o", "ATTACH"),
    ("CREATE TABLE t AS SELECT 1 AS a", "CREATE"),
    ("INSERT INTO _onepane_meta VALUES ('k', 'v')", "INSERT"),
    ("SELECT * FROM query('COPY (SELECT 1) TO ''{tmp}/q.csv''')", "single SELECT"),
]


@pytest.mark.parametrize("sql,words", ATTACKS, ids=[w for _, w in ATTACKS])
def test_each_attempt_fails_with_one_line_and_changes_nothing(billed, run_cli, tmp_path, sql, words):
    store, total = billed
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "secret.csv").write_text("token\nhunter2\n")
    before_lake, before_db = _snapshot(store.lake), store.db_path.read_bytes()
    outside = set(tmp_path.iterdir())
    r = run_cli("sql", sql.format(lake=store.lake, tmp=tmp_path), "--db", store.db_path)
    assert r.returncode == 1, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.stderr
    assert "hunter2" not in r.stdout + r.stderr and "root:" not in r.stdout + r.stderr
    assert _snapshot(store.lake) == before_lake
    assert store.db_path.read_bytes() == before_db
    assert set(tmp_path.iterdir()) == outside                 # nothing exported or written beside
    got = store.query("SELECT sum(BilledCost) AS t FROM focus")["t"][0]
    assert Decimal(str(got)) == total


def test_ordinary_selects_over_every_view_still_work(billed, run_cli):
    from metrics.usersql import run_user_sql

    store, total = billed
    views = store.query("SELECT view_name FROM duckdb_views() WHERE NOT internal "
                        "AND view_name NOT LIKE 'duckdb_%' AND view_name NOT LIKE 'pragma_%' "
                        "ORDER BY 1")["view_name"].to_list()
    assert {"focus", "raw_focus", "stg_cost", "_onepane_loads"} <= set(views)
    for v in views:                                  # every view answers through the guard
        assert run_user_sql(store, f'SELECT count(*) AS n FROM "{v}"').height == 1, v
    r = run_cli("sql", "select sum(BilledCost) as t from focus", "--db", store.db_path,
                "--format", "csv", check=True)
    assert Decimal(r.stdout.strip().splitlines()[1]) == total
    r = run_cli("sql", "with x as (select * from stg_cost) select count(*) as n from x; ",
                "--db", store.db_path, "--format", "json", check=True)
    assert '"n": 11' in r.stdout
