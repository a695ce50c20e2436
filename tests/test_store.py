"""The store contract: migrations, views over Parquet, all-or-nothing loads, time travel."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from metrics.lake import Load, compact_partition
from metrics.store import Store


def _cost(amount: str, scope: str = "s") -> pl.DataFrame:
    return pl.DataFrame({"billed_cost": [amount], "billing_currency": ["USD"],
                         "billing_period_start": [datetime(2024, 9, 1)],
                         "charge_period_start": [datetime(2024, 9, 2)]})


def test_init_twice_leaves_one_schema(tmp_path):
    s = Store(tmp_path / "a.duckdb")
    first = s.migrate()
    assert first, "a new store applies its migrations"
    assert s.migrate() == []
    con = duckdb.connect(str(s.db_path), read_only=True)
    names = [r[0] for r in con.execute("SELECT name FROM _onepane_migrations").fetchall()]
    con.close()
    assert sorted(names) == sorted(set(names)) == sorted(first)


def test_empty_store_views_return_zero_rows(store):
    for view in ("focus", "stg_telemetry", "stg_requests", "stg_model_health", "stg_kpis",
                 "stg_events", "_onepane_loads"):
        assert store.query(f"SELECT count(*) AS n FROM {view}")["n"][0] == 0, view


def test_plain_duckdb_from_another_directory_reads_focus(store, tmp_path, monkeypatch):
    with Load(store, "raw_focus", collector="t") as load:
        load.write(_cost("1.25"))
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    con = duckdb.connect(str(store.db_path), read_only=True)
    assert con.execute("SELECT sum(BilledCost) FROM focus").fetchone()[0] == Decimal("1.25")
    con.close()


def test_money_keeps_18_decimals(store):
    with Load(store, "raw_focus", collector="t") as load:
        load.write(_cost("0.000000000000000001"))
        load.write(_cost("12345678901234567890.5"))
    total = store.query("SELECT sum(BilledCost) AS t FROM focus")["t"][0]
    assert total == Decimal("12345678901234567890.500000000000000001")


def test_failed_load_leaves_nothing_visible(store):
    with pytest.raises(RuntimeError):
        with Load(store, "raw_focus", collector="t", source="bad") as load:
            load.write(_cost("5"))
            raise RuntimeError("parse error in row 3")
    assert store.query("SELECT count(*) AS n FROM focus")["n"][0] == 0
    log = store.query("SELECT status, error, rows FROM _onepane_loads WHERE source = 'bad'")
    assert log.to_dicts() == [{"status": "failed", "error": "parse error in row 3", "rows": 0}]
    assert not list((store.lake / "raw_focus").glob("*/*.parquet"))


def test_supersession_and_as_of(store):
    with Load(store, "raw_focus", collector="t") as load:
        load.write(_cost("10"), scope="acct/2024-09")
    between = datetime.now(timezone.utc)
    time.sleep(0.01)
    with Load(store, "raw_focus", collector="t") as load:
        load.write(_cost("12"), scope="acct/2024-09")
        load.supersede_scopes()
    assert store.query("SELECT sum(BilledCost) AS t FROM focus")["t"][0] == Decimal("12")
    assert store.query("SELECT sum(BilledCost) AS t FROM focus", as_of=between)["t"][0] == Decimal("10")
    # superseded rows are kept on disk for time travel
    assert store.query("SELECT count(*) AS n FROM read_parquet(?, union_by_name=true)",
                       [str(store.lake / "raw_focus" / "**" / "*.parquet")])["n"][0] == 2


def test_compaction_keeps_rows_and_load_ids(store):
    for i in range(5):
        with Load(store, "raw_focus", collector="t") as load:
            load.write(_cost(str(i + 1)), scope=f"s{i}")
    folder = store.lake / "raw_focus" / "month=2024-09"
    before = store.query("SELECT x_load_id, BilledCost FROM focus ORDER BY 1")
    assert len(list(folder.glob("*.parquet"))) == 5
    assert compact_partition(store, "raw_focus", folder) == 5
    assert len(list(folder.glob("*.parquet"))) == 1
    assert store.query("SELECT x_load_id, BilledCost FROM focus ORDER BY 1").equals(before)


def test_unknown_column_is_rejected(store):
    with pytest.raises(Exception, match="unknown column"):
        with Load(store, "raw_focus", collector="t") as load:
            load.write(pl.DataFrame({"no_such_column": [1]}))
