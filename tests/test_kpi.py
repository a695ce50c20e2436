"""KPI ingestion: layouts, traceability, and bad input refused with file, line and column."""
from __future__ import annotations

import json

import pytest

from collectors.kpi import ingest_kpis
from metrics.config import parse_settings
from metrics.errors import InputError

CONFIG = parse_settings({"services": [
    {"name": "search", "team": "discovery", "model_versions": ["v1", "v2"], "baseline_version": "v1",
     "kpis": ["impressions", "purchases"],
     "funnel": {"action": "purchases", "denominator": "impressions"}}]})


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_long_layout_lands_with_line_numbers(store, tmp_path):
    p = _write(tmp_path, "k.csv", "time,service,model_version,kpi,value\n"
               "2026-01-01,search,v1,impressions,1000\n"
               "2026-01-01,search,v1,purchases,30\n"
               "2026-01-01T00:00:00Z,search,v2,purchases,45\n")
    r = ingest_kpis(store, p, config=CONFIG)
    assert r.rows == 3
    df = store.query("SELECT * FROM stg_kpis ORDER BY source_line")
    assert df["value"].to_list() == [1000.0, 30.0, 45.0]
    assert df["source_line"].to_list() == [2, 3, 4]
    # v2 has purchases but no impressions in this file: not an error, the ledger leaves it empty
    assert r.warnings == []


def test_wide_layout_with_revenue_and_currency(store, tmp_path):
    p = _write(tmp_path, "w.csv", "date,service,variant,impressions,purchases,revenue,currency\n"
               "2026-01-01,search,control,200,4,99.50,eur\n"
               "2026-01-01,search,treatment,210,,120.25,EUR\n")
    r = ingest_kpis(store, p, config=CONFIG)
    # 3 KPIs on line 2, 2 on line 3 (blank purchases cell = not measured)
    assert r.rows == 5
    df = store.query("SELECT variant, kpi, value, currency FROM stg_kpis ORDER BY variant, kpi")
    rows = df.rows()
    assert ("control", "revenue", 99.5, "EUR") in rows
    assert ("control", "impressions", 200.0, None) in rows       # counts carry no currency
    assert ("treatment", "revenue", 120.25, "EUR") in rows
    assert not any(r[0] == "treatment" and r[1] == "purchases" for r in rows)


def test_parquet_input(store, tmp_path):
    import polars as pl

    p = tmp_path / "k.parquet"
    pl.DataFrame({"ts": [1767225600, 1767225600], "service": ["search"] * 2,
                  "model_version": ["v1", "v1"], "kpi": ["impressions", "purchases"],
                  "value": [10, 2]}).write_parquet(p)
    assert ingest_kpis(store, p, config=CONFIG).rows == 2
    df = store.query("SELECT min(observed_at) AS t FROM stg_kpis")
    assert df["t"][0].isoformat().startswith("2026-01-01T00:00:00")


@pytest.mark.parametrize("body,line,column,words", [
    ("time,service,model_version,kpi,value\n2026-01-01,serch,v1,purchases,3\n", 2, "service", "unknown service"),
    ("time,service,model_version,kpi,value\n2026-01-01,search,v1,purchases,3\n"
     "2026-01-02,search,v1,purchases,4\n2026-01-01,search,v1,purchases,3\n", 4, "value", "duplicate row"),
    ("time,service,model_version,kpi,value\n2026-01-01,search,v1,purchases,-3\n", 2, "value", "negative count"),
    ("time,service,model_version,kpi,value\n2026-13-01,search,v1,purchases,3\n", 2, "time", "not a time"),
    ("time,service,model_version,kpi,value\n2026-01-01,search,v1,purchases,three\n", 2, "value", "not a number"),
    ("date,service,model_version,impressions,purchases\n2026-01-01,search,v1,10,-1\n", 2, "purchases", "negative count"),
    ("time,service,kpi,value\n2026-01-01,search,purchases,3\n", 1, None, "model_version or variant"),
])
def test_bad_input_is_refused_and_nothing_lands(store, tmp_path, body, line, column, words):
    p = _write(tmp_path, "bad.csv", body)
    with pytest.raises(InputError) as e:
        ingest_kpis(store, p, config=CONFIG)
    assert e.value.line == line and e.value.column == column and e.value.file == str(p)
    assert words in str(e.value)
    assert store.query("SELECT count(*) AS n FROM raw_kpis")["n"][0] == 0


def test_negative_money_is_allowed_when_it_has_a_currency(store, tmp_path):
    p = _write(tmp_path, "r.csv", "time,service,model_version,kpi,value,currency\n"
               "2026-01-01,search,v1,revenue,-12.5,USD\n")
    assert ingest_kpis(store, p, config=CONFIG).rows == 1


def test_config_kpi_missing_and_undeclared_version_are_flagged(store, tmp_path):
    p = _write(tmp_path, "k.csv", "time,service,model_version,kpi,value\n"
               "2026-01-01,search,v1,impressions,100\n2026-01-01,search,v9,impressions,50\n")
    r = ingest_kpis(store, p, config=CONFIG)
    assert any("'purchases'" in w and "not in this file" in w for w in r.warnings)
    assert any("v9" in w and "line 3" in w for w in r.warnings)
    q = store.query("SELECT model_version, quality FROM stg_kpis ORDER BY model_version").rows()
    assert q[0] == ("v1", None) and "not declared" in q[1][1]
    loads = store.query("SELECT details FROM _onepane_loads WHERE target_table = 'raw_kpis'")
    assert "purchases" in loads["details"][0]


def test_reingest_is_idempotent_and_a_restated_file_replaces_values(store, tmp_path):
    p = _write(tmp_path, "k.csv", "time,service,model_version,kpi,value\n2026-01-01,search,v1,purchases,30\n")
    first = ingest_kpis(store, p, config=CONFIG)
    again = ingest_kpis(store, p, config=CONFIG)
    assert again.skipped and again.load_id == first.load_id
    assert store.query("SELECT sum(value) AS s FROM raw_kpis")["s"][0] == 30
    before = store.query("SELECT max(finished_at) AS t FROM _onepane_loads")["t"][0]
    p.write_text("time,service,model_version,kpi,value\n2026-01-02,search,v1,purchases,7\n")
    ingest_kpis(store, p, config=CONFIG)
    # the restated file replaces the old delivery (the 2026-01-01 row is gone), as-of shows the old
    assert store.query("SELECT sum(value) AS s FROM stg_kpis")["s"][0] == 7
    assert store.query("SELECT sum(value) AS s FROM stg_kpis", as_of=before)["s"][0] == 30


def test_cli_ingest_kpis(run_cli, tmp_path):
    p = _write(tmp_path, "k.csv", "time,service,model_version,kpi,value\n2026-01-01,search,v1,purchases,30\n")
    out = run_cli("ingest", "kpis", p, "--db", tmp_path / "s.duckdb", check=True)
    assert "1 KPI values loaded" in out.stdout
    again = run_cli("ingest", "kpis", p, "--db", tmp_path / "s.duckdb", check=True)
    assert "already loaded" in again.stdout
    bad = _write(tmp_path, "bad.csv", "time,service,model_version,kpi,value\n2026-01-01,search,v1,purchases,-1\n")
    r = run_cli("ingest", "kpis", bad, "--db", tmp_path / "s.duckdb")
    assert r.returncode == 1 and "line 2" in r.stderr and "negative count" in r.stderr


def test_collect_runs_kpis_and_events_sources(run_cli, tmp_path, shared):
    k = _write(tmp_path, "k.csv", "time,service,model_version,kpi,value\n2026-01-01,search,v1,purchases,30\n")
    (tmp_path / "onepane.toml").write_text(f"""
[[services]]
name = "search"
[[services]]
name = "assistant-api"

[[source]]
name = "shop-kpis"
type = "kpis"
paths = ["{k.name}"]

[[source]]
name = "deploys"
type = "events"
paths = ["{shared / 'gpu-serving-capture' / 'events.jsonl'}"]
""")
    out = run_cli("collect", check=True)
    assert "shop-kpis (kpis): 1 rows, ok" in out.stdout and "deploys (events): 3 rows, ok" in out.stdout
    src = run_cli("sql", "select source, count(*) n from raw_kpis group by 1", "--format", "json", check=True)
    assert json.loads(src.stdout) == [{"source": "shop-kpis", "n": 1}]
    again = run_cli("collect", check=True)            # unchanged files: nothing new
    assert "shop-kpis (kpis): 0 rows, ok" in again.stdout
