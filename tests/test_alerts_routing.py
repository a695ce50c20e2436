"""`onepane check` alerts follow the weekly digest's routing: a service's alerts go to its owning
team's channel ([[services]] team -> [[teams]] webhook / mail_to), company-level ones to [alerts].
A real local HTTP server (webhooks) and a real SMTP server (aiosmtpd); three services burn their
error-rate SLO at the same minute (the burn figures are worked out in tests/test_alerts.py)."""
from __future__ import annotations

import email

import pytest

from metrics.config import parse_settings
from tests.test_alerts import AT0, BAD, MINUTES, PER_MIN, at_minute, http_server, smtp_server  # noqa: F401
from tests.whatchanged_helpers import write_request_counters

SLO = {"error_rate": 0.01, "objective": 0.99, "period": "1d"}
KEYS = {s: f"slo_burn:{s}/error_rate/1h-5m" for s in ("ranker", "fraud", "batch")}


def routed_config(url: str, port: int):
    return parse_settings({
        "services": [{"name": "ranker", "team": "search", "slo": SLO},
                     {"name": "fraud", "team": "risk", "slo": SLO},
                     {"name": "batch", "slo": SLO}],                # no team: company-level
        "teams": [{"name": "search", "webhook_url_env": "TEST_SEARCH_HOOK"},
                  {"name": "risk", "mail_to": ["risk@example.test"]},
                  {"name": "platform", "webhook_url": url + "/platform"}],   # owns nothing here
        "alerts": {"webhook_url": url + "/company", "smtp_host": "127.0.0.1", "smtp_port": port,
                   "mail_to": ["oncall@example.test"], "mail_from": "onepane@example.test"}})


@pytest.fixture
def burning(store):
    for s in KEYS:
        write_request_counters(store, s, AT0, MINUTES, PER_MIN, BAD)
    return store


def _mails(mails) -> dict[tuple[str, ...], list[email.message.Message]]:
    out: dict[tuple[str, ...], list] = {}
    for _frm, to, body in mails:
        out.setdefault(tuple(to), []).append(email.message_from_string(body))
    return out


def test_each_alert_goes_to_its_owning_team_and_company_level_to_the_company(
        burning, http_server, smtp_server, monkeypatch):  # noqa: F811
    from metrics.alerts import current_state, run_check

    from metrics.errors import ConfigError

    url, received = http_server
    port, mails = smtp_server
    cfg = routed_config(url, port)
    monkeypatch.delenv("TEST_SEARCH_HOOK", raising=False)          # named in [[teams]] but not set
    with pytest.raises(ConfigError, match="TEST_SEARCH_HOOK"):
        run_check(burning, cfg, at=at_minute(1012))
    assert received == [] and mails == [] and current_state(burning) == {}

    monkeypatch.setenv("TEST_SEARCH_HOOK", "http://127.0.0.1:9/refused")     # search's hook is down

    r1 = run_check(burning, cfg, at=at_minute(1012))
    assert sorted(a["key"] for a in r1.firing) == sorted(KEYS.values())
    assert sorted(r1.sent) == ["email", "team risk: email", "webhook"]
    assert len(r1.errors) == 1 and r1.errors[0].startswith("team search: webhook:")
    # the company's generic webhook has batch's alert only
    (path, body), = received
    assert path == "/company" and [a["key"] for a in body["alerts"]] == [KEYS["batch"]]
    got = _mails(mails)
    assert sorted(got) == [("oncall@example.test",), ("risk@example.test",)]
    risk, = got[("risk@example.test",)]
    assert risk["Subject"] == "[onepane] team risk: 1 firing, 0 resolved"
    assert KEYS["fraud"].split(":", 1)[1] in risk.get_payload() and "ranker" not in risk.get_payload()
    oncall, = got[("oncall@example.test",)]
    assert "batch/error_rate" in oncall.get_payload() and "fraud" not in oncall.get_payload()
    # recorded per route: search's failed delivery is not, so the next check retries it
    assert set(current_state(burning)) == {KEYS["fraud"], KEYS["batch"]}

    monkeypatch.setenv("TEST_SEARCH_HOOK", url + "/search")
    r2 = run_check(burning, cfg, at=at_minute(1013))
    assert r2.sent == ["team search: webhook"] and r2.errors == []
    path, body = received[1]
    assert len(received) == 2 and path == "/search"
    assert set(body) == {"text"} and body["text"].startswith("onepane check at ") and "for team search" in body["text"]
    assert f"[FIRING] slo_burn {KEYS['ranker'].split(':', 1)[1]}" in body["text"]
    # a minute later: 1 h still 12·800 / 60,000 / 1 % = 16×, 5 m (minutes 1008..1012) 4·800 / 5000 / 1 % = 64×
    assert "16.0× over 1h and 64.0× over 5m" in body["text"] and "fraud" not in body["text"]
    assert len(mails) == 2                                   # nobody else hears it twice

    # minute 1018: the 5 m windows are clean again; each route gets its own "resolved"
    r3 = run_check(burning, cfg, at=at_minute(1018))
    assert sorted(a["key"] for a in r3.resolved) == sorted(KEYS.values())
    assert sorted(r3.sent) == ["email", "team risk: email", "team search: webhook", "webhook"]
    by_path = {p: b for p, b in received[2:]}
    assert sorted(by_path) == ["/company", "/search"]        # platform owns nothing: silent
    assert [(a["key"], a["status"]) for a in by_path["/company"]["alerts"]] == [(KEYS["batch"], "resolved")]
    assert f"[RESOLVED] slo_burn {KEYS['ranker'].split(':', 1)[1]}" in by_path["/search"]["text"]
    later = _mails(mails[2:])
    assert later[("risk@example.test",)][0]["Subject"] == "[onepane] team risk: 0 firing, 1 resolved"
    assert {v["status"] for v in current_state(burning).values()} == {"resolved"}


def test_owner_of_each_rule_subject():
    """The owner by hand for every subject form `onepane check` emits (and the module's doctests)."""
    import doctest

    import metrics.routing
    from metrics.routing import alert_owner

    assert doctest.testmod(metrics.routing).failed == 0

    cfg = parse_settings({"services": [{"name": "ranker", "team": "search"}, {"name": "batch"}],
                          "teams": [{"name": "search"}]})
    assert [alert_owner(cfg, rule, subject) for rule, subject in [
        ("slo_burn", "ranker/latency/6h-30m"), ("slo_freshness", "ranker"),
        ("slo_cost_per_prediction", "ranker"), ("cost_week_over_week", "ranker"),
        ("budget_forecast", "service/ranker/2026-11"), ("budget_forecast", "team/risk/2026-11"),
        ("cost_anomaly", "service/ranker"), ("cost_anomaly", "team/search"),
        ("cost_anomaly", "sku/GPU A100 hour"), ("cost_day_over_day", "__unallocated__"),
        ("slo_drift_share", "batch"), ("slo_accuracy", "not-configured"),
    ]] == ["search", "search", "search", "search", "search", "risk", "search", "search",
           None, None, "unassigned", None]



def test_a_second_check_while_one_runs_is_refused(store):
    from metrics.alerts import run_check
    from metrics.errors import StoreBusy
    from metrics.locks import run_lock

    cfg = parse_settings({"services": [{"name": "svc"}]})
    with run_lock(store, "check"):
        with pytest.raises(StoreBusy, match="check"):
            run_check(store, cfg, at=at_minute(10))
        assert run_check(store, cfg, at=at_minute(10), notify=False).firing == []   # --no-notify reads only
    assert run_check(store, cfg, at=at_minute(10)).firing == []                      # released
