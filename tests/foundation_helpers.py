"""Fixtures shared by the foundation's tests: one 30-day demo store built by `onepane demo`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import built_once, cli_env, private_copy

DEMO_END = "2026-11-25T00:00:00Z"
DEMO_ARGS = ("demo", "--no-serve", "--days", "30", "--end", DEMO_END)


def run_demo(out: Path, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *DEMO_ARGS, "--out", str(out), *extra],
                          cwd=out.parent, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def _build_demo(folder: Path) -> None:
    folder.mkdir(parents=True)
    run = run_demo(folder / "demo")
    (folder / "run.json").write_text(json.dumps(
        {"args": run.args, "returncode": run.returncode, "stdout": run.stdout, "stderr": run.stderr}))


def built_demo(tmp_path_factory, name: str = "demo30") -> tuple[Path, subprocess.CompletedProcess]:
    """A private copy (folder `name`/demo) of the 30-day demo that `onepane demo --no-serve` built
    once for the whole test run (shared by the parallel workers), and that build's completed run."""
    folder = built_once(tmp_path_factory, "demo30", _build_demo)
    out = private_copy(folder / "demo", tmp_path_factory.mktemp(name) / "demo")
    return out, subprocess.CompletedProcess(**json.loads((folder / "run.json").read_text()))


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """(output folder, the completed `onepane demo --no-serve` run) for a 30-day demo, built once
    per test run; each worker of a parallel run gets its own copy of it (test_demo re-runs the
    demo in it)."""
    return built_demo(tmp_path_factory)
