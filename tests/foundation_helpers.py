"""Fixtures shared by the foundation's tests: one 30-day demo store built by `onepane demo`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env

DEMO_END = "2026-11-25T00:00:00Z"
DEMO_ARGS = ("demo", "--no-serve", "--days", "30", "--end", DEMO_END)


def run_demo(out: Path, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *DEMO_ARGS, "--out", str(out), *extra],
                          cwd=out.parent, env=cli_env(), capture_output=True, text=True, timeout=timeout)


_BUILT: dict[str, tuple[Path, subprocess.CompletedProcess]] = {}


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """(output folder, the completed `onepane demo --no-serve` run) for a 30-day demo, built once
    per test session even though several modules import this fixture."""
    if "demo" not in _BUILT:
        out = tmp_path_factory.mktemp("demo30") / "demo"
        _BUILT["demo"] = (out, run_demo(out))
    return _BUILT["demo"]
