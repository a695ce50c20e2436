"""Change events: the real capture's events.jsonl, CSV, stable ids, rollbacks, `onepane event add`."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from collectors.events import add_event, ingest_events
from metrics.errors import InputError


def test_capture_events_land_with_rollback_recognised(store, shared):
    src = shared / "gpu-serving-capture" / "events.jsonl"
    expected = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
    r = ingest_events(store, src)
    assert r.rows == len(expected) == 3
    df = store.query("SELECT epoch(occurred_at) AS ts, kind, service, model_version, detail "
                     "FROM stg_events ORDER BY occurred_at")
    for got, exp in zip(df.to_dicts(), expected):
        assert abs(got["ts"] - exp["ts"]) < 1e-6
        assert (got["service"], got["model_version"], got["detail"]) == (
            exp["service"], exp["model_version"], exp["detail"])
        # a deploy whose detail is `rollback` is a rollback
        assert got["kind"] == ("rollback" if exp["detail"] == "rollback" else exp["kind"])
    assert ingest_events(store, src).skipped
    assert store.query("SELECT count(*) AS n FROM stg_events")["n"][0] == 3


def test_csv_iso_times_extra_fields_and_overlap_dedupe(store, tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("ts,kind,service,model_version,detail,ticket,author\n"
                 "2026-01-05T10:00:00Z,config,search,,max_batch 8->16,OPS-12,ana\n"
                 "2026-01-05T13:00:00+02:00,price_change,search,,gpu +10%,,\n")
    b = tmp_path / "b.jsonl"      # overlaps a.csv's first event (same time/kind/service/detail)
    b.write_text(json.dumps({"ts": "2026-01-05T10:00:00Z", "kind": "config", "service": "search",
                             "detail": "max_batch 8->16"}) + "\n"
                 + json.dumps({"ts": 1767614400, "kind": "incident", "service": "search",
                               "detail": "p95 breach", "severity": 2}) + "\n")
    ingest_events(store, b)
    ingest_events(store, a)          # the newer delivery of the shared event wins (with its extras)
    df = store.query("SELECT occurred_at, kind, attributes FROM stg_events ORDER BY occurred_at")
    assert df["kind"].to_list() == ["config", "price_change", "incident"]
    assert df["occurred_at"][1] == datetime(2026, 1, 5, 11, tzinfo=timezone.utc)
    assert json.loads(df["attributes"][0]) == {"author": "ana", "ticket": "OPS-12"}
    assert json.loads(df["attributes"][2]) == {"severity": 2}


@pytest.mark.parametrize("text,line,column", [
    ('{"ts": 1767225600, "kind": "deploy", "service": "s"}\n{"ts": 1767225601, "kind": "redeploy", "service": "s"}\n', 2, "kind"),
    ('{"ts": "yesterday", "kind": "deploy", "service": "s"}\n', 1, "ts"),
    ('{"kind": "deploy", "service": "s"}\n', 1, "ts"),
    ('{"ts": 1, "kind": "deploy"\n', 1, None),
])
def test_bad_events_refused_whole(store, tmp_path, line, column, text):
    p = tmp_path / "e.jsonl"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        ingest_events(store, p)
    assert e.value.line == line and e.value.file == str(p)
    if column:
        assert e.value.column == column
    assert store.query("SELECT count(*) AS n FROM raw_events")["n"][0] == 0


def test_event_add_publishes_parquet_and_is_time_travelled(store):
    ev = add_event(store, kind="deploy", service="search", model_version="v2",
                   at="2026-01-06T09:00:00Z", attributes={"commit": "abc123"})
    t1 = store.query("SELECT max(finished_at) AS t FROM _onepane_loads")["t"][0]
    add_event(store, kind="deploy", service="search", model_version="v1", detail="rollback",
              at="2026-01-06T11:00:00Z")
    df = store.query("SELECT kind, model_version, event_id FROM stg_events ORDER BY occurred_at")
    assert df["kind"].to_list() == ["deploy", "rollback"]
    assert df["event_id"][0] == ev["event_id"]
    assert store.query("SELECT count(*) AS n FROM stg_events", as_of=t1)["n"][0] == 1
    assert list(store.lake.glob("raw_events/*/*.parquet"))


def test_cli_event_add_and_ingest(run_cli, tmp_path, shared):
    db = tmp_path / "s.duckdb"
    out = run_cli("event", "add", "--kind", "deploy", "--service", "search", "--version", "v7",
                  "--detail", "canary 5%", "--at", "1767600000", "--attr", "by=ci", "--db", db, check=True)
    assert "deploy search v7" in out.stdout
    run_cli("ingest", "events", shared / "gpu-serving-capture" / "events.jsonl", "--db", db, check=True)
    rows = run_cli("sql", "select kind, count(*) n from stg_events group by kind order by kind",
                   "--format", "json", "--db", db, check=True)
    assert json.loads(rows.stdout) == [{"kind": "deploy", "n": 3}, {"kind": "rollback", "n": 1}]
    bad = run_cli("event", "add", "--kind", "launch", "--service", "search", "--db", db)
    assert bad.returncode == 1 and "unknown kind" in bad.stderr
