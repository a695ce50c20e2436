"""Soak (3 minutes in CI; ONEPANE_SOAK_S=1800 for the documented 30-minute run): collectors on a
schedule against a real Prometheus, new billing files ingested, `onepane compact` as cron would
run it, while a real browser walks every page again and again. Zero user-visible errors, the app's
RSS flat within 10% and its open file handles flat after warm-up, and every lake partition within
what compaction keeps."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests import app_helpers as fx
from tests.billing_helpers import focus_row, write_csv
from tests.browser_helpers import browser, free_port, wait_for_app
from tests.conftest import ROOT, cli_env
from tests.prom_helpers import prometheus_from_openmetrics

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.prometheus]

SOAK_S = float(os.environ.get("ONEPANE_SOAK_S", "180"))
MIN_CYCLES = 3            # warm-up, then at least two walks to compare (a slow machine runs longer)
MIN_STEADY = 4            # walks after the warm-up, two halves to compare
FROM, TO = 1795527966, 1795528507
# Streamlit keeps the session of a reloaded tab (its own asyncio loop: an epoll and a socket pair)
# for server.disconnectedSessionTTL, 120 s by default, so open files climb ~3 per reload until the
# first sessions expire. The soak sets it to SESSION_TTL_S and judges only samples taken after it
# (plus a walk's margin): a leak keeps growing past that, an expiring session does not.
SESSION_TTL_S = 30
PAGES = ("Overview", "Unit economics", "Costs", "Service", "What changed", "Model health", "Data health")


def _proc_stats(pid: int) -> tuple[int, int]:
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def _lake_files(lake: Path) -> int:
    return sum(1 for _ in lake.rglob("*.parquet"))


def test_soak_collectors_and_browser_together(tmp_path, shared, artifacts):
    from metrics.lake import COMPACT_AFTER_FILES

    (tmp_path / "app").mkdir()
    f = fx.build(tmp_path / "app")
    with prometheus_from_openmetrics([shared / "gpu-serving-capture" / "telemetry.om"],
                                     tmp_path / "prom") as prom:
        cfg = f.config_path
        cfg.write_text(cfg.read_text() + f'\n[[source]]\nname = "prom"\ntype = "prometheus"\n'
                       f'url = "{prom.url}"\nstep = "5s"\n')
        env = cli_env(ONEPANE_DB=str(f.store.db_path), ONEPANE_CONFIG=str(cfg))
        port = free_port()
        log = open(tmp_path / "streamlit.log", "w")
        app = subprocess.Popen([sys.executable, "-m", "app.launch", "run", str(ROOT / "app" / "main.py"),
                                "--server.address", "127.0.0.1", "--server.port", str(port),
                                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                                "--server.fileWatcherType", "none",
                                "--server.disconnectedSessionTTL", str(SESSION_TTL_S)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        errors: list[str] = []
        jobs: list[subprocess.Popen] = []
        samples: list[tuple[float, int, int]] = []      # (seconds since the first walk, RSS kB, open files)
        lake_files: list[int] = []
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.3)
            start, cycle, window = time.monotonic(), 0, FROM
            with browser() as b:
                page = b.new_page(viewport={"width": 1300, "height": 900})
                page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
                page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}")
                        if r.status >= 500 else None)
                page.goto(url)
                wait_for_app(page, 120000)
                while True:
                    # the schedule: a Prometheus window, a new bill, a compaction - in the background
                    if all(j.poll() is not None for j in jobs):
                        for j in jobs:
                            assert j.returncode == 0, (j.args, Path(j.err).read_text()[-2000:])
                        jobs = []
                        bill = write_csv(tmp_path / f"bill-{cycle}.csv",
                                         [focus_row(cost=f"{cycle}.5", day=f"{d:02d}", resource=f"c{cycle}")
                                          for d in (1, 2)])
                        w_end = min(window + 60, TO)
                        cmds = [["collect", "prom", "--from", str(window), "--to", str(w_end)],
                                ["ingest", "billing", str(bill)], ["compact"]]
                        window = FROM if w_end >= TO else w_end
                        jobs = []
                        for k, c in enumerate(cmds[:2]):
                            err = tmp_path / f"job-{cycle}-{k}.err"
                            with open(err, "w") as fh:
                                jobs.append(subprocess.Popen([sys.executable, "-m", "app", *c], cwd=tmp_path,
                                                             env=env, stdout=subprocess.DEVNULL, stderr=fh))
                            jobs[-1].err = err
                        subprocess.run([sys.executable, "-m", "app", *cmds[2]], cwd=tmp_path, env=env,
                                       check=True, capture_output=True)
                    for name in PAGES:
                        page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
                        wait_for_app(page, 180000)
                        if page.locator('[data-testid="stException"]').count():
                            errors.append(f"{name}: " + page.locator('[data-testid="stException"]').first.inner_text())
                    page.reload()
                    wait_for_app(page, 180000)
                    samples.append((round(time.monotonic() - start, 1), *_proc_stats(app.pid)))
                    lake_files.append(_lake_files(f.store.lake))
                    cycle += 1
                    steady = sum(1 for t, *_ in samples if t > SESSION_TTL_S + 30)
                    if time.monotonic() - start > SOAK_S and cycle >= MIN_CYCLES and steady >= MIN_STEADY:
                        break
            for j in jobs:
                j.wait(300)
        finally:
            app.terminate()
            app.wait(20)
    report = {"seconds": round(time.monotonic() - start), "cycles": cycle,
              "rss_kb_fds": samples, "lake_parquet_files": lake_files, "errors": errors}
    (artifacts / f"soak-{int(SOAK_S)}s.json").write_text(json.dumps(report, indent=1))
    print("\nsoak:", report)
    assert errors == [] and cycle >= MIN_CYCLES
    # flat after warm-up: caches, sessions and pooled files fill during the first walks and the
    # first reloaded tabs' sessions expire after SESSION_TTL_S; from then on the later half of the
    # walks may not grow past the earlier half (a leak keeps growing)
    steady = [s for s in samples if s[0] > SESSION_TTL_S + 30]
    half = len(steady) // 2
    earlier, later = steady[:half], steady[half:]
    assert max(s[1] for s in later) <= max(s[1] for s in earlier) * 1.10, samples
    assert max(s[2] for s in later) <= max(s[2] for s in earlier) + 4, samples
    lake = f.store.lake
    for part in (p for p in lake.glob("*/*") if p.is_dir() and not p.parent.name.startswith("_")):
        assert sum(1 for _ in part.glob("*.parquet")) <= COMPACT_AFTER_FILES + 2, part
