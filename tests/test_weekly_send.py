"""`onepane report weekly --send`: the digest routed to each service's team and the company,
through a real local HTTP server (Slack-compatible webhook) and a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import email

import pytest

from tests import app_helpers as fx
from tests.delivery_helpers import free_port, http_server, smtp_server  # noqa: F401

WEEK = "2026-W45"


def test_digest_goes_to_each_team_and_the_company(tmp_path, http_server, smtp_server, run_cli):
    url, posts = http_server
    port, mails = smtp_server
    f = fx.build(tmp_path)
    cfg = tmp_path / "send.toml"
    cfg.write_text(fx.CONFIG + f"""
[[teams]]
name = "search"
webhook_url = "{url}/search"

[[teams]]
name = "risk"
mail_to = ["risk@example.test"]

[alerts]
webhook_url = "{url}/company"
smtp_host = "127.0.0.1"
smtp_port = {port}
mail_from = "onepane@example.test"
mail_to = ["leads@example.test"]
""")
    out = tmp_path / "review.html"
    r = run_cli("report", "weekly", "--week", WEEK, "--send", "--out", out, "--db", f.store.db_path,
                "--config", cfg, check=True)
    assert "sent team search: webhook" in r.stdout and "sent company: webhook" in r.stdout
    by_path = {p["path"]: p["body"] for p in posts}
    assert sorted(by_path) == ["/company", "/search"]          # team support has no channel
    search = by_path["/search"]
    assert [h["service"] for h in search["headline"]] == ["ranker"]
    # ranker's week: seven days of its fixed daily bill, by hand
    assert search["headline"][0]["cost"] == f"{fx.RANKER_DAILY * 7:.2f} USD"
    assert f"{fx.RANKER_DAILY * 7:.2f} USD" in search["text"] and search["text"].startswith(
        f"onepane weekly review {WEEK} for team search")
    assert {h["service"] for h in by_path["/company"]["headline"]} == {"ranker", "assistant", "fraud"}   # fraud: traffic, no bill
    got = {tuple(rcpt): email.message_from_bytes(raw) for rcpt, raw in mails}
    assert sorted(got) == [("leads@example.test",), ("risk@example.test",)]
    for msg in got.values():
        att = [p for p in msg.walk() if p.get_filename() == "review.html"]
        assert len(att) == 1 and f"Weekly review {WEEK}" in att[0].get_payload(decode=True).decode()
    assert got[("leads@example.test",)]["Subject"] == f"onepane weekly review {WEEK} for company"


def test_overlapping_digest_runs_are_refused(store):
    from metrics.errors import StoreBusy
    from metrics.review.send import run_lock

    with run_lock(store, "digest"):
        with pytest.raises(StoreBusy):
            with run_lock(store, "digest"):
                pass
    with run_lock(store, "digest"):        # released: the next run goes ahead
        pass


def test_refused_deliveries_end_in_one_typed_error_naming_each_channel(tmp_path, http_server, smtp_server,
                                                                       run_cli):
    """An SMTP server refusing a recipient (550), a webhook answering 500 and a closed port: the
    other channels are still delivered and recorded, the run exits 1 with one `error:` line naming
    every refused route and channel (no traceback), and the next run retries only the refused ones."""
    hooks, box = http_server, smtp_server
    closed = free_port()
    f = fx.build(tmp_path)
    cfg = tmp_path / "send.toml"
    cfg.write_text(fx.CONFIG + f"""
[[teams]]
name = "search"
webhook_url = "{hooks.url}/search"

[[teams]]
name = "support"
webhook_url = "{hooks.url}/support"

[[teams]]
name = "risk"
mail_to = ["risk@example.test"]

[alerts]
webhook_url = "http://127.0.0.1:{closed}/company"
smtp_host = "127.0.0.1"
smtp_port = {box.port}
mail_from = "onepane@example.test"
mail_to = ["leads@example.test"]
""")
    hooks.status["/support"] = 500
    box.refuse.add("risk@example.test")
    args = ("report", "weekly", "--week", WEEK, "--send", "--out", tmp_path / "review.html",
            "--db", f.store.db_path, "--config", cfg)
    r = run_cli(*args)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    err = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(err) == 1, r.stderr
    assert err[0].startswith("error: delivery failed on 3 channel(s): ")
    assert (f"{WEEK} team support webhook 1: webhook host 127.0.0.1:{hooks.url.rsplit(':', 1)[1]}: "
            "HTTP 500 Internal Server Error") in err[0]
    assert (f"{WEEK} team risk mail: SMTP 127.0.0.1:{box.port}: risk@example.test refused "
            "(550 5.1.1 mailbox unavailable)") in err[0]
    assert f"{WEEK} company webhook 1: webhook host 127.0.0.1:{closed}: [Errno 111] Connection refused" in err[0]
    assert "2 other delivery(ies) went out" in err[0]
    assert "sent team search: webhook" in r.stdout and "sent company: mail to leads@example.test" in r.stdout
    assert [p["path"] for p in hooks.received] == ["/search"]
    assert [rcpt for rcpt, _ in box.messages] == [["leads@example.test"]]
    log = f.store.query("SELECT route, channel, status, detail FROM raw_digest_log ORDER BY route, channel")
    assert [tuple(x[:3]) for x in log.iter_rows()] == [
        ("company", "mail", "sent"), ("company", "webhook 1", "failed"), ("team risk", "mail", "failed"),
        ("team search", "webhook 1", "sent"), ("team support", "webhook 1", "failed")]
    assert all(d and "refused" in d or "HTTP 500" in d for _, _, s, d in log.iter_rows() if s == "failed")

    # support and risk are back, the company webhook is still down: only the refused ones are tried
    hooks.status.clear()
    box.refuse.clear()
    r = run_cli(*args)
    assert r.returncode == 1 and "error: delivery failed on 1 channel(s): " \
        f"{WEEK} company webhook 1: webhook host 127.0.0.1:{closed}" in r.stderr
    assert "sent team support: webhook" in r.stdout and "sent team risk: mail to risk@example.test" in r.stdout
    assert [p["path"] for p in hooks.received] == ["/search", "/support"]
    assert [rcpt for rcpt, _ in box.messages] == [["leads@example.test"], ["risk@example.test"]]
