"""Governance on the demo company, end to end through the CLI in a temporary store.

The high-tier fraud-detector is collected without its fairness measurement (its drift source's
`sensitive` columns removed from onepane.toml) and has no rollback drill; the governance team
records the release approval and a review with `onepane decision add` and ingests the rules
engine's fallback log. At the audit time the report shows exactly two gaps; collecting the fairness
data and recording a rollback drill turns them green, and `--as-of` still shows the old evidence.
The JSON pack validates against docs/governance-report.schema.json; the app shows the same.
"""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "governance-report.schema.json"
MAIN = str(ROOT / "app" / "main.py")
UTC = timezone.utc
DEMO_END = "2026-11-25T00:00:00Z"          # 30 days from 2026-10-26; fraud KPIs stop on day 28
AUDIT = "2026-11-22T00:00:00Z"             # day 27: before the planted stale feed
SENSITIVE_LINE = 'sensitive = ["customer_region"]\n'
FALLBACKS = 4                              # of 20 requests in the fallback log below


def report(run_cli, cfg: Path, *args) -> dict:
    p = run_cli("governance", "report", "--config", cfg, "--service", "fraud-detector", "--format", "json",
                *args, check=True)
    return json.loads(p.stdout)


def fraud(rep: dict) -> dict:
    (s,) = rep["services"]
    assert s["service"] == "fraud-detector" and s["tier"] == "high"
    return s


def status(s: dict, control: str) -> dict:
    return next(i for i in s["controls"] if i["id"] == control)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """The demo's files, a no-fairness config and a full one over the same store, with the
    governance team's decisions and fallback log recorded through the CLI."""
    import subprocess
    import sys

    from collectors.demo import generate
    from tests.conftest import cli_env

    out = tmp_path_factory.mktemp("govdemo") / "demo"
    generate(out, seed=7, days=30, end=DEMO_END)
    full = out / "onepane.toml"
    text = full.read_text(encoding="utf-8")
    assert text.count(SENSITIVE_LINE) == 1 and 'sensitive_attributes = ["customer_region"]' in text
    partial = out / "no-fairness.toml"
    partial.write_text(text.replace(SENSITIVE_LINE, ""), encoding="utf-8")

    def cli(*args):
        p = subprocess.run([sys.executable, "-m", "app", *map(str, args)], cwd=out, env=cli_env(),
                           capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, f"onepane {' '.join(map(str, args))}:\n{p.stdout}\n{p.stderr}"
        return p

    cli("collect", "--config", partial)
    cli("decision", "add", "--config", partial, "--service", "fraud-detector", "--kind", "approve",
        "--text", "fraud-v7 signed off for production", "--by", "cro", "--at", "2026-10-25T16:00:00Z")
    cli("decision", "add", "--config", partial, "--service", "fraud-detector", "--kind", "review",
        "--text", "monthly model risk review: keep in production", "--by", "model-risk-committee",
        "--at", "2026-11-16T10:00:00Z")
    log = out / "fraud-fallback.csv"
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    lines = ["request_id,timestamp,service,model_version,status,latency_ms,answered_by"]
    for i in range(20):   # one request every 30 min; every 5th answered by the rules engine
        lines.append(f"f{i},{(start + timedelta(minutes=30 * i)).isoformat()},fraud-detector,fraud-v7,200,12,"
                     f"{'fallback' if i % 5 == 0 else 'model'}")
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli("ingest", "requests", log, "--config", partial)
    return {"dir": out, "full": full, "partial": partial, "cli": cli}


def test_missing_fairness_and_rollback_drill_show_exactly_those_gaps_then_turn_green(scenario, run_cli, tmp_path):
    cli, full, partial = scenario["cli"], scenario["full"], scenario["partial"]
    before = fraud(report(run_cli, partial, "--at", AUDIT))
    assert before["gaps"] == ["fairness_measured", "rollback_exercised"]
    assert before["light"] == "red"
    assert status(before, "fairness_measured")["detail"].endswith("for: customer_region")
    assert status(before, "rollback_exercised")["evidence"]["rollbacks"] == 0
    fb = status(before, "fallback_observed")["evidence"]
    assert (fb["requests"], fb["fallbacks"]) == (20, FALLBACKS)
    appr = status(before, "release_approved")["evidence"]
    assert (appr["releases"], appr["unapproved"]) == (1, 0)           # fraud-v7 rollout, 2026-10-26 00:09
    assert status(before, "review_within_cadence")["evidence"]["last_review_at"] == "2026-11-16T10:00:00Z"
    # three days later the planted stale KPI feed (from day 28) breaks the freshness SLO too
    later = fraud(report(run_cli, partial, "--at", DEMO_END))
    assert "data_freshness" in later["gaps"]
    assert "business newest 2026-11-2" in status(later, "data_freshness")["detail"]

    time.sleep(0.05)
    known_before = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    cli("collect", "fraud-drift", "--config", full, "--from", "2026-10-26T00:00:00Z")
    mid = fraud(report(run_cli, full, "--at", AUDIT))
    assert mid["gaps"] == ["rollback_exercised"]
    fair = status(mid, "fairness_measured")
    assert fair["evidence"]["measured"] == "customer_region"
    assert 0 < fair["evidence"]["worst_selection_rate_ratio"] <= 1
    cli("event", "add", "--config", full, "--kind", "rollback", "--service", "fraud-detector",
        "--version", "fraud-v7", "--detail", "rollback drill", "--at", "2026-11-21T09:00:00Z")
    pack = tmp_path / "pack.json"
    run_cli("governance", "report", "--config", full, "--at", AUDIT, "--out", pack, check=True)
    after = json.loads(pack.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")),
                                    format_checker=jsonschema.FormatChecker()).validate(after)
    fd = next(s for s in after["services"] if s["service"] == "fraud-detector")
    assert fd["gaps"] == [] and fd["light"] == "green"
    assert status(fd, "rollback_exercised")["evidence"]["last_rollback_at"] == "2026-11-21T09:00:00Z"
    assert {s["service"]: s["tier"] for s in after["services"]} == {
        "search-ranker": "low", "support-assistant": "medium", "fraud-detector": "high"}
    # the audit as the store knew it before the new evidence arrived: the two gaps again
    old = fraud(report(run_cli, full, "--at", AUDIT, "--as-of", known_before))
    assert old["gaps"] == ["fairness_measured", "rollback_exercised"]


def test_html_pack_is_self_contained_and_json_pack_validates(scenario, run_cli, tmp_path):
    html = tmp_path / "pack.html"
    run_cli("governance", "report", "--config", scenario["partial"], "--at", AUDIT, "--out", html, check=True)
    text = html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text
    for remote in ("<script", "<link", "src=", "@import", "url("):
        assert remote not in text, remote
    for svc in ("fraud-detector", "support-assistant", "search-ranker"):
        assert f'id="{svc}"' in text
    assert "MEASURE 2.11" in text and 'href="https://models.example.com/fraud-detector/card"' in text
    doc = json.loads(run_cli("governance", "report", "--config", scenario["partial"], "--at", AUDIT,
                             "--format", "json", check=True).stdout)
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(doc)
    broken = dict(doc, services=[dict(doc["services"][0], light="purple")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_governance_page_and_overview_light(scenario, run_cli, monkeypatch):
    """The app judges at the end of the data (the demo's last day + 1): it shows what the CLI
    reports for that instant, including the planted stale KPI feed of fraud-detector."""
    monkeypatch.setenv("ONEPANE_CONFIG", str(scenario["full"]))
    monkeypatch.setenv("ONEPANE_DB", str(scenario["dir"] / "onepane.duckdb"))
    cli = json.loads(run_cli("governance", "report", "--config", scenario["full"], "--at", DEMO_END,
                             "--format", "json", check=True).stdout)
    want = {s["service"]: s for s in cli["services"]}
    at = AppTest.from_file(MAIN, default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    lights = next(d.value for d in at.dataframe if "governance" in d.value.columns).set_index("service")
    assert set(lights.index) == {"fraud-detector", "support-assistant", "search-ranker"}
    word = {"green": "● green", "amber": "▲ amber", "red": "✖ red"}
    for name, s in want.items():
        assert lights.loc[name, "governance"] == word[s["light"]]
        assert lights.loc[name, "gaps"] == (", ".join(s["gaps"]) or "none")
    at.switch_page("pages/governance.py").run()
    assert not at.exception, [e.value for e in at.exception]
    matrix = next(d.value for d in at.dataframe if "fairness_measured" in d.value.columns).set_index("service")
    mark = {"pass": "● pass", "gap": "✖ gap", "error": "✖ error", "not applicable": "– n/a",
            "not required": "· not required"}
    for name, s in want.items():
        assert {i["id"]: matrix.loc[name, i["id"]] for i in s["controls"]} == \
            {i["id"]: mark[i["status"]] for i in s["controls"]}
    assert matrix.loc["fraud-detector", "tier"] == "high"
    assert matrix.loc["fraud-detector", "data_freshness"] == "✖ gap"          # KPIs stop on day 28
    assert matrix.loc["search-ranker", "drift_on_schedule"] == "· not required"
    at.selectbox(key="governance_service").set_value("fraud-detector").run()    # drill down
    assert not at.exception, [e.value for e in at.exception]
    gap = next(e for e in at.expander if e.label.startswith("✖ gap · data_freshness · MANAGE 4.1"))
    assert any("older than 1d: business newest" in m.value for m in gap.markdown)


@pytest.mark.browser
def test_governance_page_in_a_browser_drills_down_and_downloads_the_pack(scenario, artifacts):
    from tests.browser_helpers import browser, streamlit_server, wait_for_app
    from tests.test_browser import assert_clean

    errors: list[str] = []
    slow = 180_000      # the first render evaluates every control on a 30-day store (shared machine)
    with streamlit_server(scenario["dir"] / "onepane.duckdb", scenario["full"]) as url, browser() as chrome:
        page = chrome.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        page.goto(url + "/")
        wait_for_app(page, slow)
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Governance", exact=True).click()
        wait_for_app(page, slow)
        page.get_by_text("Services × controls").first.wait_for(timeout=60000)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Evidence for service").click()
        page.get_by_role("option", name="fraud-detector").click()
        wait_for_app(page, slow)
        gap = page.get_by_text("✖ gap · data_freshness · MANAGE 4.1")
        gap.first.wait_for(timeout=60000)
        page.get_by_text("older than 1d: business newest", exact=False).first.wait_for(timeout=30000)
        (artifacts / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "screenshots" / "governance.png"), full_page=True)
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download HTML").click()
        text = Path(dl.value.path()).read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and 'id="fraud-detector"' in text
        assert_clean(page, errors)
