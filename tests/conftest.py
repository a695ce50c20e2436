"""Shared fixtures: a real migrated DuckDB store under tmp_path, the shared data folder, the CLI."""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ONEPANE_SHARED", ROOT.parent / "shared")) / "data"
ARTIFACTS = Path(os.environ.get("ONEPANE_ARTIFACTS", ROOT / "artifacts"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared/data: real data nobody on the team wrote (never copied into the project)."""
    if not SHARED.exists():
        pytest.fail(f"shared data folder missing: {SHARED} (set ONEPANE_SHARED)")
    return SHARED


@pytest.fixture
def store(tmp_path):
    """A migrated, empty store in a temporary folder."""
    from metrics.store import Store

    return Store(tmp_path / "test.duckdb").ensure()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder `name`, made by `build(folder)` once per test run: the first worker of a parallel
    run (pytest-xdist) builds it under a lock in the run's shared temp folder, the others wait and
    reuse it. Treat it as read-only: `private_copy` gives a test its own."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                       # popen-gwN/.. is shared by the run's workers
    folder, done = root / f"built-{name}", root / f"built-{name}.done"
    with open(root / f"built-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)      # a half-built folder from a failed build
            build(folder)
            done.touch()
    return folder


def private_copy(src: Path, dst: Path) -> Path:
    """Copy a built demo folder: its onepane.toml names its own files by absolute path (rewritten
    to the copy's) and the store's views embed the lake's path (re-created by `Store.ensure`)."""
    from metrics.store import Store

    shutil.copytree(src, dst)
    for cfg in dst.glob("*.toml"):
        cfg.write_text(cfg.read_text(encoding="utf-8").replace(str(src), str(dst)), encoding="utf-8")
    for db in dst.glob("*.duckdb"):
        Store(db).ensure()
    return dst


def ingested_demo(tmp_path_factory, name: str, *, seed: int = 7, days: int = 30,
                  end: str = "2026-11-01T00:00:00Z") -> Path:
    """A private copy (folder `name`/demo-data) of the demo company generated and ingested in
    process through its configured collectors (as `onepane demo` does), built once per test run
    for each (seed, days, end) and shared by the parallel workers."""
    def build(folder: Path) -> None:
        from collectors.demo import generate
        from collectors.runner import publish_services, run_sources
        from metrics.config import load_settings
        from metrics.store import Store

        out = generate(folder / "demo-data", seed=seed, days=days, end=end)
        config = load_settings(out / "onepane.toml")
        store = Store(out / "onepane.duckdb").ensure()
        publish_services(store, config)
        results = run_sources(store, config)
        assert all(r.ok for r in results), [(r.source, r.error) for r in results if not r.ok]

    key = f"demo-{seed}-{days}d-{end[:10]}"
    folder = built_once(tmp_path_factory, key, build)
    return private_copy(folder / "demo-data", tmp_path_factory.mktemp(name) / "demo-data")


def cli_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("ONEPANE_CONFIG", None)
    env.update(extra)
    return env


@pytest.fixture
def run_cli(tmp_path):
    """Run `onepane ARGS...` in a subprocess (cwd = tmp_path); returns CompletedProcess."""
    def run(*args, cwd=None, env=None, check=False, timeout=300):
        proc = subprocess.run([sys.executable, "-m", "app", *map(str, args)], cwd=cwd or tmp_path,
                              env=cli_env(**(env or {})), capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"onepane {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc
    return run


# `make test` runs the files on parallel workers (pytest-xdist, `--dist loadfile`: a file's tests and
# its module fixtures stay on one worker). Files start longest first, so the 3-minute soak and the
# modules that build a demo store never become the run's tail. Seconds per file from the merged
# suite's last parallel run (junit.xml); unlisted files follow in their usual order. A serial run
# keeps the usual order.
SLOW_FILES = {
    "test_soak.py": 199, "test_engines.py": 149, "test_engines_scale.py": 148,
    "test_governance_demo.py": 130, "test_browser.py": 117, "test_engines_demo_compare.py": 111,
    "test_weekly_report.py": 108, "test_cli.py": 97, "test_load_races.py": 91,
    "test_browser_dashboard.py": 84, "test_engines_storage.py": 76, "test_what_changed_demo.py": 68,
    "test_telemetry_rollups.py": 56, "test_billing.py": 56, "test_model_health_collector.py": 51,
    "test_weekly_send.py": 45, "test_serving.py": 38, "test_app.py": 38,
    "test_telemetry_prometheus.py": 36, "test_concurrency.py": 36, "test_engines_telemetry.py": 36,
    "test_model_health_ingest.py": 36, "test_inputs_fuzz.py": 36, "test_weekly_review_page.py": 33,
    "test_telemetry_scale.py": 32, "test_model_health_inputs.py": 31
}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: -SLOW_FILES.get(item.path.name, 0))     # stable within a file
