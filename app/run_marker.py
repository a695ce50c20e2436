"""The run marker: an invisible last element of every script run, for the browser tests.

A browser cannot tell "the run my click asked for has not started yet" from "it has finished": the
page reads idle in both. So each run that is not cut short ends with a hidden
`<div data-onepane-run="N">`, N counting this session's runs; a test that saw run N waits for a
marker above N and for Streamlit to read idle (tests/browser_helpers.py::wait_for_app). Elements
arrive in the order the script draws them, so the marker's arrival means the run's elements have
too. Users see nothing (an empty hidden div).

app/main.py writes it when the script ends, with or without an exception. Nothing can be drawn
after `st.stop()`, so pages stop through `stop()` below, which writes it first. A run cut short
for a rerun writes none: the rerun writes its own.
"""
from __future__ import annotations

import streamlit as st

KEY = "_onepane_run"


def mark() -> None:
    """Draw the marker: the run's number in this session (1, 2, ...)."""
    n = st.session_state.get(KEY, 0) + 1
    st.session_state[KEY] = n
    st.html(f'<div data-onepane-run="{n}" hidden></div>')


def stop() -> None:
    """`st.stop()` for pages: mark the run, then stop it."""
    mark()
    st.stop()
