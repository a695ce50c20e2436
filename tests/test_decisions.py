"""Decisions: recorded like events (one all-or-nothing load, as-of aware), listed, exported."""
from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from metrics.decisions import KINDS, add_decision, list_decisions
from metrics.errors import InputError

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)      # Monday of 2026-W48


def _loads(store) -> list[tuple[str, str]]:
    return [tuple(r) for r in store.query(
        "SELECT status, target_table FROM _onepane_loads WHERE target_table = 'raw_decisions'").rows()]


def test_add_then_list_returns_exactly_what_was_recorded(store):
    a = add_decision(store, service="support-assistant", text="Keep assistant-v4 on 10% traffic",
                     kind="experiment", by="ana", at=T0)
    b = add_decision(store, service="fraud-detector", text="Accept the stale KPI feed until vendor fix",
                     kind="accept-risk", by="li", at=T0 + timedelta(hours=2),
                     expires=T0 + timedelta(days=14), attributes={"ticket": "RISK-7"})
    df = list_decisions(store)
    assert df["decision_id"].to_list() == [a, b]
    rows = df.to_dicts()
    assert rows[0]["decided_at"] == T0 and rows[0]["decided_by"] == "ana"
    assert rows[0]["kind"] == "experiment" and rows[0]["expires_at"] is None
    assert rows[1]["expires_at"] == datetime(2026, 12, 7, 10, tzinfo=timezone.utc)
    assert json.loads(rows[1]["attributes"]) == {"ticket": "RISK-7"}
    assert _loads(store) == [("ok", "raw_decisions")] * 2        # one load per decision


def test_filters_are_half_open_and_by_service_and_kind(store):
    for i, kind in enumerate(KINDS):
        add_decision(store, service="s1" if i % 2 else "s2", text=f"decision {i}", kind=kind,
                     at=T0 + timedelta(days=i),
                     expires=T0 + timedelta(days=30) if kind == "accept-risk" else None)
    since, until = T0 + timedelta(days=1), T0 + timedelta(days=4)
    got = list_decisions(store, since=since, until=until)["text"].to_list()
    assert got == ["decision 1", "decision 2", "decision 3"]           # [since, until)
    assert list_decisions(store, service="s1")["text"].to_list() == ["decision 1", "decision 3",
                                                                     "decision 5"]
    assert list_decisions(store, kind="retire")["text"].to_list() == ["decision 2"]


def test_recording_the_same_decision_twice_stores_it_once(store):
    kw = dict(service="search-ranker", text="Retire ranker-v1", kind="retire", by="bo", at=T0)
    assert add_decision(store, **kw) == add_decision(store, **kw)
    assert list_decisions(store).height == 1


def test_now_is_the_default_time_and_is_injectable(store):
    now = datetime(2026, 2, 1, 9, 30, tzinfo=timezone.utc)
    add_decision(store, service="s", text="approve v2", kind="approve", now=now)
    assert list_decisions(store)["decided_at"].to_list() == [now]


def test_as_of_shows_what_had_been_decided_then(store):
    add_decision(store, service="s", text="first", kind="review", at=T0)
    time.sleep(0.01)
    between = datetime.now(timezone.utc)
    time.sleep(0.01)
    add_decision(store, service="s", text="second", kind="review", at=T0 - timedelta(days=1))
    assert list_decisions(store, as_of=between)["text"].to_list() == ["first"]
    assert list_decisions(store)["text"].to_list() == ["second", "first"]


@pytest.mark.parametrize("kw,column", [
    (dict(service="", text="x", kind="review"), "service"),
    (dict(service="s", text="  ", kind="review"), "text"),
    (dict(service="s", text="x", kind="decide"), "kind"),
    (dict(service="s", text="x", kind="retire", expires=T0 + timedelta(days=1)), "expires_at"),
    (dict(service="s", text="x", kind="accept-risk", expires=T0 - timedelta(days=1)), "expires_at"),
    (dict(service="s", text="x", kind="review", at="last tuesday"), "decided_at"),
])
def test_bad_decisions_are_refused_and_nothing_is_written(store, kw, column):
    kw.setdefault("at", T0)
    with pytest.raises(InputError) as e:
        add_decision(store, **kw)
    assert e.value.column == column
    assert list_decisions(store).height == 0 and _loads(store) == []


def test_cli_add_and_list_json_and_csv(tmp_path, run_cli):
    db = tmp_path / "s.duckdb"
    r = run_cli("decision", "add", "--db", db, "--service", "support-assistant", "--text",
                "Roll back max_tokens change", "--kind", "rollback", "--by", "ana",
                "--at", "2026-11-24T15:00:00Z", check=True)
    assert r.stdout.startswith("decision d-")
    run_cli("decision", "add", "--db", db, "--service", "fraud-detector", "--text", "Accept drift",
            "--kind", "accept-risk", "--at", "2026-11-25T09:00:00Z", "--expires",
            "2026-12-09T09:00:00Z", "--by", "li", check=True)
    out = json.loads(run_cli("decision", "list", "--db", db, "--format", "json", check=True).stdout)
    assert [(d["service"], d["kind"], d["decided_by"], d["decided_at"]) for d in out] == [
        ("support-assistant", "rollback", "ana", "2026-11-24T15:00:00+00:00"),
        ("fraud-detector", "accept-risk", "li", "2026-11-25T09:00:00+00:00")]
    assert out[1]["expires_at"] == "2026-12-09T09:00:00+00:00"
    r = run_cli("decision", "list", "--db", db, "--service", "fraud-detector", "--format", "csv",
                check=True)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["service"], x["text"]) for x in rows] == [("fraud-detector", "Accept drift")]
    r = run_cli("decision", "list", "--db", db, "--since", "2026-11-25T00:00:00Z", check=True)
    assert "Accept drift" in r.stdout and "max_tokens" not in r.stdout
    bad = run_cli("decision", "add", "--db", db, "--service", "s", "--text", "x", "--kind", "review",
                  "--expires", "2026-12-09T09:00:00Z")
    assert bad.returncode == 1 and "accept-risk" in bad.stderr
