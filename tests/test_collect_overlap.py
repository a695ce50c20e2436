"""Two overlapping `onepane collect` runs of one source (cron plus a manual run): the second waits
for the first and then starts from the watermark it left, so no point is fetched or stored twice
(without the source lock both read the same watermark and both loaded the whole range).
A real Prometheus (backfilled from the real capture) behind a slow local proxy keeps the first
run busy long enough for the second to start during it."""
from __future__ import annotations

import subprocess
import sys
import time

from tests.conftest import ROOT, cli_env
from tests.prom_helpers import ProxyServer, prometheus_from_openmetrics

FROM, TO = 1795527966, 1795528507


def test_overlapping_collects_of_one_source_run_one_after_the_other(tmp_path, shared):
    from metrics.store import Store

    with prometheus_from_openmetrics([shared / "gpu-serving-capture" / "telemetry.om"],
                                     tmp_path / "prom") as prom, \
            ProxyServer(upstream=prom.url, behave=lambda n, p: ("sleep", 2.0)) as proxy:
        (tmp_path / "onepane.toml").write_text(f"""
[[source]]
name = "prom"
type = "prometheus"
url = "{proxy.url}"
step = "15s"
initial = "{TO - FROM + 120}s"
max_in_flight = 2
""")
        args = [sys.executable, "-m", "app", "-v", "collect", "prom"]
        env = dict(cli_env(), ONEPANE_NOW=str(TO + 60))   # the collectors' clock: just after the capture
        first = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        while not proxy.requests and first.poll() is None:   # the first run is fetching
            time.sleep(0.05)
        second = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        out1, out2 = first.communicate(timeout=600), second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, (out1, out2)
    assert "being collected by another process; waiting" in out2[1]
    store = Store(tmp_path / "onepane.duckdb")
    runs = store.query("SELECT started_at, finished_at, rows FROM _onepane_loads "
                       "WHERE source = 'prom' ORDER BY started_at")
    assert runs.height == 2
    assert runs["started_at"][1] >= runs["finished_at"][0]            # one after the other
    # the second started from the first's watermark: the capture is in the past, nothing is new
    assert runs["rows"][0] > 0 and runs["rows"][1] == 0
