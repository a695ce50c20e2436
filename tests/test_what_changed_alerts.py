"""Alerts lead to What changed: a firing alert carries the link to the page at its time for its
service and the top three items, in `onepane check --format json`, the webhook and the mail."""
from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

from tests.test_alerts import AT0, BAD, MINUTES, PER_MIN, at_minute, config, http_server, smtp_server  # noqa: F401
from tests.whatchanged_helpers import write_request_counters


def test_firing_alert_links_to_what_changed_with_its_top_items(store, http_server, smtp_server,  # noqa: F811
                                                               monkeypatch, run_cli, tmp_path):
    from metrics.alerts import run_check
    from metrics.analysis.what_changed import what_changed

    url, received = http_server
    port, mails = smtp_server
    monkeypatch.setenv("TEST_SLACK_URL", url + "/slack/T000/B000/secret-token")
    monkeypatch.setenv("TEST_HOOK_URL", url + "/hook")
    # 80 % errors in minutes 1000..1011 (tests/test_alerts.py): the fast-burn page fires at 1012;
    # 60 % of the requests of those minutes are also slow (no latency SLO: the same single page),
    # so what changed has three items (errors, p95 and p50 latency) for the message
    write_request_counters(store, "svc", AT0, MINUTES, PER_MIN, BAD, slow_at={m: 600 for m in BAD})
    r = run_check(store, config(port), at=at_minute(1012))
    alert = r.firing[0]
    link = "what_changed?" + urlencode({"at": at_minute(1012).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                        "wc_window": "1h", "service": "svc"})
    assert alert["details"]["what_changed_link"] == link
    top = alert["details"]["what_changed"]
    every = what_changed(store, "svc", at_minute(1012), timedelta(hours=1))
    assert len(every) >= 3
    assert [(i["kind"], i["subject"]) for i in top] == [(i["kind"], i["subject"]) for i in every[:3]]
    assert len(top) == 3
    assert (top[0]["kind"], top[0]["subject"]) == ("error_rate", "svc")
    # every message carries each of the (up to three) top items, in rank order
    hook = next(b for p, b in received if p == "/hook")
    assert [i["summary"] for i in hook["alerts"][0]["details"]["what_changed"]] == [i["summary"] for i in top]
    slack = next(b for p, b in received if p.startswith("/slack/"))
    mail = mails[0][2]
    for i in top:
        assert f"{i['rank']}. " + i["summary"] in slack["text"]
        assert f"{i['rank']}. " + i["summary"][:40] in mail
    assert [mail.index(f"{i['rank']}. " + i["summary"][:40]) for i in top] == \
        sorted(mail.index(f"{i['rank']}. " + i["summary"][:40]) for i in top)

    # the CLI's JSON: the same link on the firing alert
    cfg = tmp_path / "onepane.toml"
    cfg.write_text('[[services]]\nname = "svc"\n[services.slo]\nerror_rate = 0.01\nobjective = 0.99\n'
                   'period = "1d"\n', encoding="utf-8")
    p = run_cli("check", "--no-notify", "--at", at_minute(1012).isoformat(), "--format", "json",
                "--db", store.db_path, "--config", cfg)
    out = json.loads(p.stdout)
    assert out["firing"][0]["details"]["what_changed_link"] == link, p.stderr
