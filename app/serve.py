"""Start the Streamlit server for the dashboard, and the one serving rule every way in applies.

The rule: the app serves a non-loopback address only when `[auth] provider` is configured (then
every page requires login). `onepane serve --address`, `python -m app.launch` and a plain
`streamlit run app/main.py --server.address ...` all check it (`check_address`); app/main.py
checks the address the server was really started with, so no launcher can skip it.
"""
from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import click

from metrics.config import Settings
from metrics.errors import ConfigError
from metrics.store import Store

MAIN = Path(__file__).parent / "main.py"


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost. Unset/empty means every interface: False."""
    if not address:
        return False
    if address.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:                  # a host name: it may resolve anywhere
        return False


def auth_configured(config: Settings) -> bool:
    return bool(config.auth and config.auth.provider)


def check_address(address: str | None, config: Settings) -> None:
    """Refuse a non-loopback address unless [auth] is configured."""
    if not is_loopback(address) and not auth_configured(config):
        shown = address or "every interface (no --server.address)"
        raise ConfigError(f"refusing to serve on {shown} without [auth]: set [auth] provider in "
                          "onepane.toml (every page then requires login) or serve on 127.0.0.1",
                          path=config.path)


def serve(store: Store, config: Settings, port: int = 8501, headless: bool = True,
          address: str = "127.0.0.1") -> None:
    check_address(address, config)
    env = dict(os.environ, ONEPANE_DB=str(store.db_path))
    if config.path:
        env["ONEPANE_CONFIG"] = str(Path(config.path).absolute())
    if auth_configured(config):
        click.echo(f"login required through OIDC provider {config.auth.provider!r}; "
                   f"serving on http://{address}:{port}", err=True)
    else:
        click.echo(f"no [auth] configured: serving on http://{address}:{port} (loopback only)", err=True)
    cmd = [sys.executable, "-m", "app.launch", "run", str(MAIN), "--server.address", address,
           "--server.port", str(port), "--server.headless", str(headless).lower(),
           "--browser.gatherUsageStats", "false"]
    # exec: the server replaces this process, so its PID is the server's (stop it by that PID)
    os.execve(sys.executable, cmd, env)
