"""Decisions of the weekly review drawn as annotations on the Service page (AppTest over the
hand-countable store of tests/app_helpers.py): a decision recorded on ranker shows its text at its
time on ranker's charts and in its events table, and nowhere on assistant's page."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from streamlit.testing.v1 import AppTest

from tests import app_helpers as fx
from tests.test_app import MAIN

DECIDED_AT = datetime(2026, 11, 5, 9, 30, tzinfo=timezone.utc)      # inside the fixture's days
TEXT = "Hold ranker-v2 at 10% until the drift settles"             # 46 characters: cut at 39 + …
LABEL = "decision: " + TEXT[:39] + "…"


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    from metrics.decisions import add_decision

    f = fx.build(tmp_path_factory.mktemp("svcdecisions"))
    add_decision(f.store, service="ranker", text=TEXT, kind="experiment", by="ana", at=DECIDED_AT)
    return f


@pytest.fixture
def app_env(decided, monkeypatch):
    monkeypatch.setenv("ONEPANE_DB", str(decided.store.db_path))
    monkeypatch.setenv("ONEPANE_CONFIG", str(decided.config_path))
    return decided


def service_page(service: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update(service=service, window="30")
    at.run()
    at.switch_page("pages/service.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def annotations(at: AppTest) -> list[dict]:
    return [a for c in at.get("plotly_chart") for a in json.loads(c.proto.spec)["layout"].get("annotations", [])]


def test_a_decision_is_drawn_on_its_service_and_not_on_another(app_env):
    at = service_page("ranker")
    drawn = [a for a in annotations(at) if a["text"] == LABEL]
    # the technical panels and the cost bars each carry it, at the decision's time
    assert len(drawn) >= 2
    assert {datetime.fromisoformat(a["x"]) for a in drawn} == {DECIDED_AT}
    # the events table lists it with its kind, author and whole text
    rows = [r for df in at.dataframe for r in df.value.to_dict("records") if r.get("kind") == "decision"]
    assert [(r["detail"], r["service"]) for r in rows] == [(f"experiment by ana: {TEXT}", "ranker")]

    other = service_page("assistant")
    assert not [a for a in annotations(other) if a["text"].startswith("decision")]
    assert not [r for df in other.dataframe for r in df.value.to_dict("records") if r.get("kind") == "decision"]
