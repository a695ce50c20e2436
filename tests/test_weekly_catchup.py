"""`onepane report weekly --send` run by a scheduler, with pinned clocks: each week reaches each
channel once, a missed Monday is caught up once by the next run, a failed channel is retried alone,
and a second run while one holds the lock is refused. A real local HTTP server takes the webhooks;
the hand-countable store of tests/app_helpers.py supplies the weeks (data 2026-10-25 .. 11-10)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests import app_helpers as fx
from tests.delivery_helpers import free_port, http_server  # noqa: F401

UTC = timezone.utc


@pytest.fixture
def setup(tmp_path, http_server, monkeypatch):  # noqa: F811
    from metrics.config import load_settings

    url, posts = http_server
    f = fx.build(tmp_path)
    cfg = tmp_path / "send.toml"
    cfg.write_text(fx.CONFIG + f"""
[[teams]]
name = "search"
webhook_url_env = "TEST_SEARCH_HOOK"

[alerts]
webhook_url = "{url}/company"
""")
    monkeypatch.setenv("TEST_SEARCH_HOOK", url + "/search")
    return f.store, load_settings(cfg), url, posts, tmp_path


def run(store, config, now: datetime, out, week=None):
    from metrics.api import Onepane
    from metrics.review.catchup import send_weekly

    op = Onepane(store, config, as_of=now)
    # one service keeps each pack build short; the routing of all three is tests/test_weekly_send.py's
    return send_weekly(op, config, store, week=week, services=["ranker"], out=out, pdf=None, now=now)


def sent(posts) -> list[tuple[str, str]]:
    return [(p["path"], p["body"]["week"]) for p in posts]


def test_missed_week_is_caught_up_once_and_never_sent_twice(setup, monkeypatch):
    from metrics.errors import DeliveryError, StoreBusy
    from metrics.locks import run_lock

    store, config, url, posts, tmp = setup
    out = tmp / "reviews" / "latest.html"

    # Monday 2026-11-09 06:15: the first run ever sends the last full week, W45 (Nov 2-8)
    run(store, config, datetime(2026, 11, 9, 6, 15, tzinfo=UTC), out)
    assert sent(posts) == [("/search", "2026-W45"), ("/company", "2026-W45")]
    assert "Weekly review 2026-W45" in out.read_text()

    # the other scheduler fires at 06:20 of the same Monday: nothing is sent, nothing rebuilt
    lines = run(store, config, datetime(2026, 11, 9, 6, 20, tzinfo=UTC), out)
    assert lines == ["nothing to send: the last full week was already sent"] and len(posts) == 2

    # Monday 11-16 was missed (machine off); the run of Tuesday 11-24 owes W46 and W47, oldest first.
    # search's webhook is down for it: the company gets both weeks, search none.
    closed = free_port()
    monkeypatch.setenv("TEST_SEARCH_HOOK", f"http://127.0.0.1:{closed}/refused")
    with pytest.raises(DeliveryError, match=f"2026-W46 team search webhook 1: webhook host 127.0.0.1:{closed}: "
                       r"\[Errno 111\] Connection refused; 2026-W47 team search webhook 1"):
        run(store, config, datetime(2026, 11, 24, 6, 15, tzinfo=UTC), out)
    assert sent(posts)[2:] == [("/company", "2026-W46"), ("/company", "2026-W47")]
    assert "Weekly review 2026-W46" in (tmp / "reviews" / "latest-2026-W46.html").read_text()
    assert "Weekly review 2026-W47" in out.read_text()

    # a run while another holds the lock is refused before it sends anything
    with run_lock(store, "digest"):
        with pytest.raises(StoreBusy):
            run(store, config, datetime(2026, 11, 24, 7, 0, tzinfo=UTC), out)
    assert len(posts) == 4

    # search is back: the next run sends search its two missing weeks and the company nothing
    monkeypatch.setenv("TEST_SEARCH_HOOK", url + "/search")
    run(store, config, datetime(2026, 11, 24, 8, 0, tzinfo=UTC), out)
    assert sent(posts)[4:] == [("/search", "2026-W46"), ("/search", "2026-W47")]

    # and once more: every channel has had every week
    run(store, config, datetime(2026, 11, 24, 9, 0, tzinfo=UTC), out)
    assert len(posts) == 6
    weeks = [w for _, w in sent(posts)]
    assert {(p, w) for p, w in sent(posts)} == {(p, f"2026-W{n}") for p in ("/search", "/company")
                                                for n in (45, 46, 47)} and len(weeks) == 6


def test_plan_caps_a_long_outage_and_retries_only_failed_weeks():
    """The week arithmetic by hand: ISO weeks of 2026, labels compared as text."""
    from metrics.api import iso_week
    from metrics.review.catchup import CATCH_UP_WEEKS, plan

    last_full = iso_week("2026-W48")
    assert [w.label for w in plan({}, last_full)] == ["2026-W48"]
    state = {("2026-W40", "company", "webhook 1"): "sent"}
    assert [w.label for w in plan(state, last_full)] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    assert CATCH_UP_WEEKS == 4
    state = {("2026-W47", "company", "webhook 1"): "sent", ("2026-W47", "team search", "mail"): "failed",
             ("2026-W46", "company", "webhook 1"): "sent"}
    assert [w.label for w in plan(state, last_full)] == ["2026-W47", "2026-W48"]
    assert [w.label for w in plan(state, iso_week("2026-W47"))] == ["2026-W47"]
    assert plan({("2026-W48", "company", "mail"): "sent"}, last_full) == []
    # the turn of the year: 2026-W53 exists (2026 starts on a Thursday); 2027-W01 follows it
    assert [w.label for w in plan({("2026-W52", "company", "mail"): "sent"}, iso_week("2027-W01"))] == [
        "2026-W53", "2027-W01"]
