"""`onepane exporter`: a real Prometheus scrapes /metrics and PromQL returns what the CLI reports
(and what the fixture's bills give by hand)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from tests import app_helpers as fx
from tests.conftest import cli_env
from tests.prom_helpers import PromServer, binaries, free_port

AT = "2026-11-11T06:00:00Z"          # last full day 2026-11-10; the fixture's data ends that day


class ScrapingProm(PromServer):
    """The Debian Prometheus, scraping one target every second."""

    def __init__(self, workdir, target: str):
        super().__init__(workdir / "tsdb", workdir)
        self.target = target

    def start(self):
        prom, _ = binaries()
        cfg = self.workdir / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                       f"  - job_name: onepane\n    static_configs:\n      - targets: ['{self.target}']\n")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [prom, f"--config.file={cfg}", f"--storage.tsdb.path={self.tsdb}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=open(self.workdir / "prometheus.log", "w"), stderr=subprocess.STDOUT)
        if not self._wait_ready():
            self.stop()
            raise RuntimeError((self.workdir / "prometheus.log").read_text()[-2000:])
        return self


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("exporter")
    f = fx.build(d)
    port = free_port()
    log = open(d / "exporter.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "app", "exporter", "--db", str(f.store.db_path),
                             "--config", str(f.config_path), "--port", str(port), "--at", AT, "--ttl", "5"],
                            env=cli_env(), stdout=log, stderr=subprocess.STDOUT, cwd=d)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
                    body = r.read().decode()
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((d / "exporter.log").read_text()[-2000:])
                time.sleep(0.5)
        (d / "prom").mkdir()
        prom = ScrapingProm(d / "prom", f"127.0.0.1:{port}").start()
        try:
            yield f, prom, body
        finally:
            prom.stop()
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def _promql(prom, expr: str, timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        res = prom.query(expr)["data"]["result"]
        if res or time.monotonic() > deadline:
            return res
        time.sleep(1)


def test_promql_returns_the_cli_unit_economics(served, run_cli):
    f, prom, body = served
    assert "# TYPE onepane_cost_per_prediction gauge" in body
    rows = json.loads(run_cli("unit-economics", "--db", f.store.db_path, "--config", f.config_path,
                              "--from", "2026-11-10T00:00:00Z", "--to", "2026-11-11T00:00:00Z",
                              "--format", "json", check=True).stdout)
    expected = {(r["service"], r["model_version"] or ""): float(r["cost_per_prediction"])
                for r in rows if r["cost_per_prediction"] is not None}
    assert ("ranker", "ranker-v2") in expected
    got = {(s["metric"]["service"], s["metric"]["model_version"]): float(s["value"][1])
           for s in _promql(prom, "onepane_cost_per_prediction")}
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k
    labels = _promql(prom, 'onepane_cost_per_prediction{service="ranker"}')[0]["metric"]
    assert labels["team"] == "search" and labels["currency"] == "USD" and labels["job"] == "onepane"


def test_promql_budget_and_freshness_by_hand(served):
    f, prom, _ = served
    # November to date: ten days of ranker's fixed bill, against its 400 USD budget
    burn = _promql(prom, 'onepane_budget_burn_ratio{service="ranker"}')
    assert float(burn[0]["value"][1]) == pytest.approx(float(fx.RANKER_DAILY) * 10 / 400, rel=1e-9)
    assert burn[0]["metric"]["team"] == "search"
    mtd = _promql(prom, 'onepane_budget_month_to_date{service="ranker"}')
    assert float(mtd[0]["value"][1]) == pytest.approx(float(fx.RANKER_DAILY) * 10, rel=1e-9)
    # the last bill line ends 2026-11-11 00:00, six hours before AT
    age = _promql(prom, 'onepane_data_freshness_age_seconds{service="ranker",layer="cost"}')
    assert float(age[0]["value"][1]) == pytest.approx(6 * 3600)
    windows = {s["metric"]["window"] for s in _promql(prom, 'onepane_slo_burn_rate{service="ranker"}')}
    assert {"1h", "5m", "6h", "30m"} <= windows
