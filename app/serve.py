"""Start the Streamlit server for the dashboard."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from metrics.config import Settings
from metrics.store import Store

MAIN = Path(__file__).parent / "main.py"


def serve(store: Store, config: Settings, port: int = 8501, headless: bool = True) -> None:
    env = dict(os.environ, ONEPANE_DB=str(store.db_path))
    if config.path:
        env["ONEPANE_CONFIG"] = str(Path(config.path).absolute())
    address = "127.0.0.1"
    if config.auth and config.auth.provider:
        click.echo(f"login required through OIDC provider {config.auth.provider!r}", err=True)
    else:
        click.echo(f"no [auth] configured: serving on http://{address}:{port} (loopback only)", err=True)
    cmd = [sys.executable, "-m", "app.launch", "run", str(MAIN), "--server.address", address,
           "--server.port", str(port), "--server.headless", str(headless).lower(),
           "--browser.gatherUsageStats", "false"]
    # exec: the server replaces this process, so its PID is the server's (stop it by that PID)
    os.execve(sys.executable, cmd, env)
