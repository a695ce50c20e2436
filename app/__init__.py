"""The two ways in: the Streamlit app (app/main.py) and the `onepane` command line (app/cli.py).

Started as plain `streamlit run app/main.py`, Streamlit runs a deep link's page (e.g.
/data_health) alone - without app/main.py's login and address checks - until the entrypoint
first calls st.navigation (the old `pages/` folder mode). Every page imports this package first,
so on that very first import inside such a run the old mode is switched off and the run restarts
through app/main.py: no page ever renders before the checks (app/launch.py does the same at start).
"""


def _route_through_main() -> None:
    import sys

    if "streamlit" not in sys.modules:
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:                 # another Streamlit layout: app/launch.py still applies
        return
    if not PagesManager.uses_pages_directory or get_script_run_ctx() is None:
        return
    PagesManager.uses_pages_directory = False
    import streamlit as st

    st.rerun()                          # this import fails; the rerun runs app/main.py


_route_through_main()
