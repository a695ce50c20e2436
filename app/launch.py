"""`python -m app.launch run app/main.py ...`: the streamlit CLI, with the old multipage mode off.

Streamlit treats a `pages/` folder beside the entrypoint as a v1 multipage app until the
entrypoint first calls `st.navigation`, so the very first visit of a fresh server to a deep link
(e.g. /data_health) would run that page alone, without the sidebar filters. Our app/pages/ belongs
to st.navigation in app/main.py, so the v1 mode is switched off before the server starts.
"""
from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.cli import main

PagesManager.uses_pages_directory = False

if __name__ == "__main__":
    main(prog_name="streamlit")
