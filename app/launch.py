"""`python -m app.launch run app/main.py ...`: the streamlit CLI, with the old multipage mode off
and the serving rule checked before anything listens.

Streamlit treats a `pages/` folder beside the entrypoint as a v1 multipage app until the
entrypoint first calls `st.navigation`, so the very first visit of a fresh server to a deep link
(e.g. /data_health) would run that page alone, without the sidebar filters. Our app/pages/ belongs
to st.navigation in app/main.py, so the v1 mode is switched off before the server starts.
A non-loopback `--server.address` without `[auth]` exits 1 here (app/main.py checks it again).
"""
import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.cli import main

PagesManager.uses_pages_directory = False


def _address(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--server.address" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--server.address="):
            return a.split("=", 1)[1]
    return None


def _check(argv: list[str]) -> None:
    from app.serve import check_address
    from metrics.config import load_settings
    from metrics.errors import OnepaneError

    try:
        check_address(_address(argv), load_settings(None))
    except OnepaneError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


# Streamlit's default accent is red; here red means "bad" (a breach, over budget), so selected
# services, toggles and tabs use the palette's blue unless the caller sets a theme colour.
PRIMARY = "--theme.primaryColor=#2b6cb0"


def _with_theme(argv: list[str]) -> list[str]:
    return argv if any(a.startswith("--theme.primaryColor") for a in argv) else [*argv, PRIMARY]


if __name__ == "__main__":
    _check(sys.argv[1:])
    if sys.argv[1:2] == ["run"]:
        sys.argv = _with_theme(sys.argv)
    main(prog_name="streamlit")
