"""The weekly-review and cost-investigation notebooks on the 30-day demo: their key numbers
against the demo's own files (events, LLM bills) and the ledger's rows summed by hand."""
from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.foundation_helpers import demo_store  # noqa: F401 - a fixture

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, out: Path, monkeypatch) -> dict:
    monkeypatch.setenv("ONEPANE_DB", str(out / "onepane.duckdb"))
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOKS.parent))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    line = next(x for x in text.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def ledger_week(run_cli, out: Path, start: datetime, end: datetime, service: str | None = None):
    args = ["unit-economics", "--db", out / "onepane.duckdb", "--config", out / "onepane.toml",
            "--from", start.isoformat(), "--to", end.isoformat(), "--format", "json"]
    rows = json.loads(run_cli(*args, *(["--service", service] if service else []), check=True).stdout)
    acc: dict[str, list[float]] = {}
    for r in rows:
        a = acc.setdefault(r["service"], [0.0, 0.0])
        a[0] += float(r["cost"] or 0)
        a[1] += float(r["predictions"] or 0)
    return acc


def monday(d: date) -> datetime:
    m = d - timedelta(days=d.weekday())
    return datetime(m.year, m.month, m.day, tzinfo=timezone.utc)


@pytest.mark.slow
def test_cost_investigation_finds_the_price_change(demo_store, monkeypatch, run_cli):
    out, run = demo_store
    assert run.returncode == 0, run.stderr[-3000:]
    res = execute("cost_investigation.ipynb", out, monkeypatch)
    events = [json.loads(x) for x in (out / "events" / "changes.jsonl").read_text().splitlines() if x.strip()]
    ev = next(e for e in events if e["kind"] == "price_change" and e["service"] == "support-assistant")
    changed = datetime.fromisoformat(str(ev["ts"]).replace("Z", "+00:00")) if not isinstance(ev["ts"], (int, float)) \
        else datetime.fromtimestamp(ev["ts"], timezone.utc)
    assert datetime.fromisoformat(res["changed_at"]) == changed
    y, w, _ = changed.isocalendar()
    assert res["week"] == f"{y}-W{w:02d}"
    # the bills: the SKU whose unit price moved, and by how much (+50% in the demo's truth)
    prices: dict[bool, set[str]] = {False: set(), True: set()}
    for f in sorted((out / "billing" / "openai").glob("*.csv")):
        for r in csv.DictReader(open(f, newline="")):
            if r["SkuId"] == res["price_sku"]:
                t = datetime.fromisoformat(r["ChargePeriodStart"].replace("Z", "+00:00"))
                prices[t >= changed].add(r["ListUnitPrice"])
    before, after = (sorted(float(p) for p in prices[k]) for k in (False, True))
    assert after[0] / before[0] == pytest.approx(1.5) and after[-1] / before[-1] == pytest.approx(1.5)
    # cost per prediction that week and the week before, from the ledger's rows by hand
    w0 = monday(changed.date())
    cur = ledger_week(run_cli, out, w0, w0 + timedelta(days=7), "support-assistant")["support-assistant"]
    prev = ledger_week(run_cli, out, w0 - timedelta(days=7), w0, "support-assistant")["support-assistant"]
    assert res["cost_per_prediction"] == pytest.approx(cur[0] / cur[1], rel=1e-9)
    assert res["prev_cost_per_prediction"] == pytest.approx(prev[0] / prev[1], rel=1e-9)
    assert res["cost_per_prediction_change"] > 0.05          # it rose
    assert res["price_share_of_delta"] > 0.8                 # and the price is why


@pytest.mark.slow
def test_weekly_review_notebook_numbers(demo_store, monkeypatch, run_cli):
    out, run = demo_store
    res = execute("weekly_review.ipynb", out, monkeypatch)
    end = json.loads((out / "ground_truth.json").read_text())["end"]
    w0 = monday(datetime.fromisoformat(end.replace("Z", "+00:00")).date()) - timedelta(days=7)
    y, w, _ = w0.isocalendar()
    assert res["week"] == f"{y}-W{w:02d}"
    by_hand = ledger_week(run_cli, out, w0, w0 + timedelta(days=7))
    assert set(res["cost"]) == set(by_hand)
    for s, (cost, preds) in by_hand.items():
        assert res["cost"][s] == pytest.approx(cost, rel=1e-9)
        assert res["cost_per_prediction"][s] == pytest.approx(cost / preds, rel=1e-9)
