"""Secrets stay secret: a password in a Prometheus URL, a bearer token and a basic-auth password
leave no trace in the DuckDB file, the lake, the run log, the logs or the command's output.

Runs against a real Prometheus (backfilled from the real capture), once successfully and once
against a closed port (so the error text, which quotes the URL, is stored too). Every byte of the
store and the lake is searched for each secret, raw and URL-encoded.
"""
from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from tests.prom_helpers import ProxyServer, free_port, prometheus_from_openmetrics

FROM, TO = "1795527966", "1795528200"
URL_PASSWORD = "Url-Pa55word-7f3a"
TOKEN = "tok-9c1d2e3f4a5b6c7d"
BASIC_PASSWORD = "Basic-Pa55-e8b2"
SECRETS = (URL_PASSWORD, TOKEN, BASIC_PASSWORD)


@pytest.fixture(scope="module")
def prom(tmp_path_factory, shared):
    with prometheus_from_openmetrics([shared / "gpu-serving-capture" / "telemetry.om"],
                                     tmp_path_factory.mktemp("prom")) as server:
        yield server


def _leaks(blob: bytes) -> list[str]:
    found = []
    for s in SECRETS:
        for form in {s, urllib.parse.quote(s, safe="")}:
            if form.encode() in blob:
                found.append(s)
    return found


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_no_secret_reaches_store_logs_or_output(prom, run_cli, tmp_path):
    with ProxyServer(upstream=prom.url) as proxy:       # records what the server was sent
        host = proxy.url.split("://", 1)[1]
        dead = f"127.0.0.1:{free_port()}"
        (tmp_path / "onepane.toml").write_text(f"""
[[source]]
name = "url-creds"
type = "prometheus"
url = "http://alice:{URL_PASSWORD}@{host}"
step = "15s"
[[source]]
name = "token"
type = "prometheus"
url = "http://{host}"
bearer_token_env = "PROM_TOKEN"
step = "15s"
[[source]]
name = "basic"
type = "prometheus"
url = "http://{host}"
basic_user = "bob"
basic_password_env = "PROM_PASSWORD"
step = "15s"
[[source]]
name = "dead-url-creds"
type = "prometheus"
url = "http://carol:{URL_PASSWORD}@{dead}/?token={TOKEN}"
retries = 0
timeout_s = 1
""")
        env = {"PROM_TOKEN": TOKEN, "PROM_PASSWORD": BASIC_PASSWORD}
        r = run_cli("-vv", "collect", "--from", FROM, "--to", TO, env=env)
        assert r.returncode == 1                                  # the dead source failed
        assert "url-creds (prometheus):" in r.stdout and "dead-url-creds" in r.stderr
        listing = run_cli("sql", "select source, status, error from _onepane_loads", "--format",
                          "csv", env=env, check=True)
        # the credentials were used: the server got them (so the test would see a leak)
        auth = [h.get("Authorization", "") for h in proxy.headers]
        assert any(a.startswith("Basic ") for a in auth) and f"Bearer {TOKEN}" in auth
    assert "cannot reach" in listing.stdout                      # the stored error, redacted
    out = r.stdout + r.stderr + listing.stdout + listing.stderr
    assert "alice" not in listing.stdout
    assert _leaks(out.encode()) == [], out
    store = tmp_path / "onepane.duckdb"
    assert store.exists()
    assert _leaks(_all_bytes(tmp_path / "onepane.lake")) == []
    assert _leaks(store.read_bytes()) == []
    rows = run_cli("sql", "select count(*) as n from raw_telemetry", "--format", "csv", check=True)
    assert int(rows.stdout.split()[1]) > 0                       # the secret-bearing sources loaded


def test_redact_and_strip_url_by_hand():
    from metrics.redact import redact, strip_url, url_credentials

    assert strip_url("https://u:p%40ss@h.example:9090/x?token=abc&step=1") == \
        "https://h.example:9090/x?token=REDACTED&step=1"
    assert url_credentials("http://u:p%40ss@h") == ("u", "p@ss")
    text = "cannot reach http://u:pw@10.0.0.1:9090/api/v1 (Authorization: Bearer abcdef123)"
    assert redact(text) == "cannot reach http://10.0.0.1:9090/api/v1 (Authorization: Bearer REDACTED)"
