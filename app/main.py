"""The dashboard's only entrypoint: `streamlit run app/main.py` (started by `onepane serve`).

Builds `st.navigation` over the pages in app/pages/, renders the sidebar filters every page
honours (services, window, "as of"), and runs the chosen page. The store comes from $ONEPANE_DB
(set by app/serve.py), else the config's [store] path. With [auth] configured, a visitor must
log in through Streamlit's OIDC support (st.login) before any page runs. Without [auth], a server
listening on anything but loopback shows only a refusal, however it was started (the serving
rule of app/serve.py, checked here against the address the server really uses).
Every run that is not cut short ends with an invisible run marker (app/run_marker.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:          # `streamlit run app/main.py` puts app/ first, not the root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.runtime.scriptrunner import RerunException, StopException  # noqa: E402

from app import data, run_marker  # noqa: E402
from app.components import filters  # noqa: E402

PAGES = Path(__file__).parent / "pages"

# No page icons: Streamlit fetches a page's material icon as the favicon from a CDN, which
# fails offline (a console error in the browser).
SECTIONS = {
    "Business": [("overview.py", "Overview", True),
                 ("unit_economics.py", "Unit economics", False),
                 ("costs.py", "Costs", False),
                 ("weekly_review.py", "Weekly review", False)],
    "Health": [("service.py", "Service", False),
               ("what_changed.py", "What changed", False),
               ("model_health.py", "Model health", False),
               ("data_health.py", "Data health", False)],
    "Compliance": [("governance.py", "Governance", False)],
}


def serving_allowed() -> bool:
    """False (and a refusal shown) when this server listens beyond loopback without [auth]."""
    from streamlit.runtime import Runtime

    from app.serve import check_address
    from metrics.errors import OnepaneError

    # no server: bare mode, or AppTest (whose runtime is a stand-in, not a Runtime): nothing listens
    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:
        return True
    try:
        check_address(st.get_option("server.address"), data.settings())
    except OnepaneError as e:
        def refusal() -> None:
            st.title("onepane")
            st.error(str(e))
        only(refusal)
        return False
    return True


def require_login() -> bool:
    """True when the visitor may see the pages ([auth] unset, or logged in through OIDC)."""
    auth = data.settings().auth
    if not (auth and auth.provider):
        return True
    if st.user.get("is_logged_in", False):
        with st.sidebar:
            st.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'user'}")
            st.button("Log out", on_click=st.logout)
        return True

    def login_screen() -> None:
        st.title("onepane")
        st.write("This dashboard requires a login.")
        st.button("Log in", on_click=st.login, args=(auth.provider,))

    only(login_screen)
    return False


def only(screen) -> None:
    """Render one screen as the app's only (hidden) page: no page list, whatever the URL asked."""
    st.navigation([st.Page(screen, title="onepane", url_path="signin", default=True)],
                  position="hidden").run()


def main() -> None:
    st.set_page_config(page_title="onepane", layout="wide")   # no page_icon: it would load from a CDN
    if not serving_allowed() or not require_login():
        return
    nav = {section: [st.Page(str(PAGES / f), title=t, default=d)
                     for f, t, d in pages if (PAGES / f).exists()]
           for section, pages in SECTIONS.items()}
    page = st.navigation({k: v for k, v in nav.items() if v})
    if not data.store_exists():
        st.sidebar.warning(f"No store at {data.db_path()} yet: run `onepane init` or `onepane demo`.")
    filters.sidebar()
    page.run()


try:
    main()
except (RerunException, StopException):  # a rerun marks its own run; pages stop via run_marker.stop()
    raise
except Exception:
    run_marker.mark()                       # Streamlit draws the error after it
    raise
else:
    run_marker.mark()
