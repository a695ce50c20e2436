"""Shared fixtures: a real migrated DuckDB store under tmp_path, the shared data folder, the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
