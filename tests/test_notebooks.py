"""Every notebook in notebooks/ executes top to bottom on a demo store, prints its key numbers (a
RESULT line) that a test checks against the demo's own files, and is committed clean."""
from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.foundation_helpers import demo_store  # noqa: F401 - a fixture

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear outputs"


# executed with their key numbers checked in tests/test_notebooks_review.py (once per suite)
CHECKED_ELSEWHERE = {"cost_investigation.ipynb", "weekly_review.ipynb"}


def check_demo_tour(res: dict, out: Path) -> None:
    """Cost per service against the bill files summed here, the events against the event file."""
    cost: dict[str, Decimal] = {}
    for p in sorted((out / "billing").rglob("*.csv")):
        with open(p, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                svc = r["Tags"] and json.loads(r["Tags"]).get("service")
                if svc:
                    cost[svc] = cost.get(svc, Decimal(0)) + Decimal(r["EffectiveCost"])
    assert cost and {s: Decimal(res["cost_by_service"][s]) for s in cost} == cost
    lines = [json.loads(x) for x in (out / "events" / "changes.jsonl").read_text().splitlines() if x.strip()]
    assert res["events"] == len(lines)
    pc = next(e for e in lines if e["kind"] == "price_change")
    assert datetime.fromisoformat(res["price_change_at"]) == _t(pc["ts"])
    assert res["cost_per_1k_after"] > res["cost_per_1k_before"] > 0


CHECKS = {"demo_tour.ipynb": check_demo_tour}


def _t(v) -> datetime:
    if isinstance(v, (int, float)):
        return datetime.fromtimestamp(v, timezone.utc)
    return datetime.fromisoformat(str(v).replace("Z", "+00:00"))


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name not in CHECKED_ELSEWHERE], ids=lambda p: p.name)
def test_notebook_executes_on_the_demo_store_and_its_key_numbers_hold(path, demo_store, monkeypatch):
    out, run = demo_store
    assert run.returncode == 0, run.stderr[-3000:]
    monkeypatch.setenv("ONEPANE_DB", str(out / "onepane.duckdb"))
    monkeypatch.setenv("PYTHONPATH", str(path.parents[1]))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    line = next(x for x in text.splitlines() if x.startswith("RESULT "))     # every notebook prints one
    CHECKS[path.name](json.loads(line[len("RESULT "):]), out)                # and says how it is checked


def test_notebooks_checked_elsewhere_are_executed_there():
    text = (Path(__file__).parent / "test_notebooks_review.py").read_text()
    assert all(f'execute("{name}"' in text for name in CHECKED_ELSEWHERE)
