"""The weekly review pack on a 30-day demo store: numbers against the ledger CLI summed by hand,
reproducible after a bill restatement, offline HTML, sentences with numbers, PDF pages."""
from __future__ import annotations

import csv
import doctest
import json
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from tests.foundation_helpers import built_demo

WEEK, FROM, TO = "2026-W47", "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"
PREV_FROM = "2026-11-09T00:00:00Z"
GENERATED = re.compile(r'<p class="generated">[^<]*</p>')


def test_api_docstrings():
    import metrics.api
    res = doctest.testmod(metrics.api)
    assert res.attempted >= 4 and res.failed == 0


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A private copy of the 30-day demo store (this module restates a bill in it)."""
    out, run = built_demo(tmp_path_factory, "weekly")
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def _cli(run_cli, demo, *args):
    return run_cli(*args, "--db", demo / "onepane.duckdb", "--config", demo / "onepane.toml",
                   cwd=demo, check=True)


def _ledger_week(run_cli, demo, start, end) -> dict[str, tuple[float, float]]:
    """(cost, predictions) per service over [start, end), summed by hand from the ledger's rows."""
    rows = json.loads(_cli(run_cli, demo, "unit-economics", "--from", start, "--to", end,
                           "--format", "json").stdout)
    out: dict[str, list[float]] = {}
    for r in rows:
        acc = out.setdefault(r["service"], [0.0, 0.0])
        acc[0] += float(r["cost"] or 0)
        acc[1] += float(r["predictions"] or 0)
    return {k: (c, p) for k, (c, p) in out.items()}


def test_unit_economics_week_against_the_ledger_rows(demo, run_cli):
    import onepane

    op = onepane.open(demo / "onepane.duckdb", config=demo / "onepane.toml")
    df = op.unit_economics_week(WEEK)
    cur, prev = _ledger_week(run_cli, demo, FROM, TO), _ledger_week(run_cli, demo, PREV_FROM, FROM)
    assert sorted(df["service"].to_list()) == sorted(cur)
    for r in df.to_dicts():
        c, p = cur[r["service"]]
        pc, pp = prev[r["service"]]
        assert r["cost"] == pytest.approx(c, rel=1e-9)
        assert r["cost_per_prediction"] == pytest.approx(c / p, rel=1e-9)
        assert r["cost_per_prediction_change"] == pytest.approx((c / p) / (pc / pp) - 1, rel=1e-6)


def _restate(demo: Path, service: str, day: str, extra: float) -> Path:
    """Rewrite the AWS November bill with `extra` more cost on one line of `service` on `day`."""
    src = demo / "billing" / "aws" / "focus-2026-11.csv"
    with open(src, newline="") as fh:
        rows = list(csv.DictReader(fh))
    hit = next(r for r in rows if f'"service": "{service}"' in r["Tags"]
               and r["ChargePeriodStart"].startswith(day))
    for col in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        hit[col] = repr(float(hit[col]) + extra)
    with open(src, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return src


def _cost_sentence(html: str, service: str) -> float:
    m = re.search(rf"{re.escape(service)} cost ([\d,\.]+) USD this week", html)
    return float(m.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def reports(demo, tmp_path_factory):
    """Build the pack as of T, restate a bill, build again as of T and as of now (+ PDF)."""
    from tests.conftest import cli_env
    import sys

    def build(out: Path, *extra):
        subprocess.run([sys.executable, "-m", "app", "report", "weekly", "--week", WEEK, "--out", str(out),
                        "--db", str(demo / "onepane.duckdb"), "--config", str(demo / "onepane.toml"),
                        *map(str, extra)], cwd=demo, env=cli_env(), check=True, capture_output=True,
                       text=True, timeout=900)
        return out.read_text()

    d = tmp_path_factory.mktemp("reports")
    t = datetime.now(timezone.utc).isoformat()
    first = build(d / "first.html", "--as-of", t)
    _restate(demo, "fraud-detector", "2026-11-18", 100.0)
    subprocess.run([sys.executable, "-m", "app", "ingest", "billing",
                    str(demo / "billing" / "aws" / "focus-2026-11.csv"), "--db", str(demo / "onepane.duckdb"),
                    "--config", str(demo / "onepane.toml")], cwd=demo, env=cli_env(), check=True,
                   capture_output=True, text=True)
    again = build(d / "again.html", "--as-of", t)
    later = build(d / "later.html", "--pdf", d / "later.pdf")
    return {"first": first, "again": again, "later": later, "pdf": d / "later.pdf", "dir": d}


def test_same_as_of_is_byte_identical_after_a_restatement(reports):
    first, again, later = reports["first"], reports["again"], reports["later"]
    assert len(GENERATED.findall(first)) == 1
    assert GENERATED.sub("", first) == GENERATED.sub("", again)
    # the restatement is real: built as of now, fraud-detector's week costs 100 USD more
    assert _cost_sentence(later, "fraud-detector") - _cost_sentence(first, "fraud-detector") == \
        pytest.approx(100.0, abs=0.011)


def test_every_sentence_shows_a_number_and_charts_have_units(reports):
    html = reports["first"]
    items = re.findall(r"<li[^>]*>(.*?)</li>", html, flags=re.S)
    assert len(items) > 20
    assert all(re.search(r"\d", i) for i in items), [i for i in items if not re.search(r"\d", i)]
    titles = [t for t in re.findall(r'"title":\{"text":"([^"]+)"', html) if t.endswith(")") and t != "day (UTC)"]
    assert len(titles) == 4                         # company + one per service (axes end otherwise)
    assert all("USD per" in t for t in titles), titles
    for section in ("What moved", "Budget", "SLOs and error budget", "Model health",
                    "Data freshness and late data", "Open anomalies and alerts",
                    "Decisions since the last review", "Agenda: open questions"):
        assert section in html


def test_html_opens_offline_without_any_request(reports):
    from tests.browser_helpers import browser

    path = reports["dir"] / "first.html"
    requests: list[str] = []
    with browser() as b:
        page = b.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_selector(".chart .main-svg", timeout=60000)
        n_charts = page.locator(".chart .main-svg").count()
    assert [u for u in requests if not u.startswith("file://")] == []
    assert n_charts >= 4


def _frame_rows(img: np.ndarray) -> list[tuple[int, int]]:
    """Horizontal runs of the chart frame colour (#8040c0) spanning most of the page width."""
    r, g, b = (img[..., i].astype(int) for i in range(3))
    frame = (abs(r - 0x80) < 40) & (abs(g - 0x40) < 40) & (abs(b - 0xc0) < 40)
    rows = np.nonzero(frame.mean(axis=1) > 0.5)[0]
    runs, start = [], None
    for i, y in enumerate(rows):
        if start is None:
            start = y
        if i + 1 == len(rows) or rows[i + 1] != y + 1:
            runs.append((start, y))
            start = None
    return runs


def test_pdf_pages_are_neither_blank_nor_cut_mid_chart(reports, tmp_path):
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "50", "-png", str(reports["pdf"]), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) >= 4                          # company + 3 services, each from a new page
    frames = 0
    for p in pages:
        img = np.asarray(Image.open(p).convert("RGB"))
        ink = (img.min(axis=2) < 200).mean()
        assert ink > 0.005, f"{p.name} is blank"
        runs = _frame_rows(img)
        # every chart on a page has both its top and its bottom edge on that page
        assert len(runs) % 2 == 0, f"{p.name}: a chart is cut across pages ({runs})"
        frames += len(runs) // 2
    assert frames == 4
