"""The sidebar filters every page honours, kept in `st.query_params` so URLs are shareable.

    ?service=ranker&service=fraud&window=30&as_of=2026-11-05T12:00:00Z&to=2026-11-04

`to` (optional) pins the last day shown; without it the window ends at the newest data.

`current()` reads them with defaults, so a page also runs on its own (tests, bookmarks).
The time window ends at the newest data (capped at "as of"), so a store whose data stopped a
while ago still opens on its data.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import streamlit as st

from app import data
from metrics.errors import OnepaneError
from metrics.times import parse_time

WINDOWS = {7: "last 7 days", 30: "last 30 days", 90: "last 90 days", 365: "last 365 days"}
DEFAULT_WINDOW = 30


@dataclass(frozen=True)
class Filters:
    services: tuple[str, ...]         # empty = all services
    as_of: str | None                 # ISO 8601 UTC, or None = now
    window: int                       # days
    start: date                       # first day shown
    end: date                         # first day not shown (half-open)

    @property
    def as_of_time(self) -> datetime | None:
        return parse_time(self.as_of) if self.as_of else None

    def only(self, service: str | None) -> "Filters":
        return Filters((service,) if service else self.services, self.as_of, self.window,
                       self.start, self.end)


def _as_of_param() -> str | None:
    raw = st.query_params.get("as_of")
    if not raw:
        return None
    try:
        return parse_time(raw).isoformat().replace("+00:00", "Z")
    except OnepaneError:
        st.warning(f"ignoring as_of={raw!r}: not a time (use ISO 8601, e.g. 2026-11-05T12:00:00Z)")
        return None


def _window_param() -> int:
    try:
        w = int(st.query_params.get("window", DEFAULT_WINDOW))
    except ValueError:
        w = DEFAULT_WINDOW
    return w if w in WINDOWS else DEFAULT_WINDOW


def _to_param() -> date | None:
    raw = st.query_params.get("to")
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        st.warning(f"ignoring to={raw!r}: not a date (use YYYY-MM-DD)")
        return None


def current() -> Filters:
    """The filters of this run, from the query parameters (defaults when absent)."""
    as_of = _as_of_param()
    window = _window_param()
    services = tuple(sorted(set(st.query_params.get_all("service"))))
    newest = data.data_end(as_of)
    cap = parse_time(as_of) if as_of else data.now()
    last = min(newest, cap) if newest else cap
    to = _to_param()
    if to is not None:              # an explicit last day (links from What changed)
        last = datetime.combine(to, time(), tzinfo=timezone.utc)
    end = last.date() + timedelta(days=1)
    return Filters(services, as_of, window, end - timedelta(days=window), end)


def _set_services():
    st.query_params["service"] = st.session_state["f_services"]


def _set_window():
    st.query_params["window"] = str(st.session_state["f_window"])


def _set_as_of():
    if not st.session_state.get("f_travel"):
        st.query_params.pop("as_of", None)
        return
    now = data.now().replace(second=0, microsecond=0)
    d = st.session_state.get("f_as_of_date") or now.date()
    t = st.session_state.get("f_as_of_time") or now.time()
    new = datetime.combine(d, t, tzinfo=timezone.utc)
    old = _as_of_param()
    if old and parse_time(old).replace(second=0, microsecond=0) == new.replace(second=0, microsecond=0):
        return        # the widgets only have minutes: keep a link's seconds while the minute is unchanged
    st.query_params["as_of"] = new.isoformat().replace("+00:00", "Z")


_KEYS = ("service", "window", "as_of", "to")


def _restore_after_navigation() -> None:
    """Streamlit clears the query parameters when the user switches pages; put the filters back.
    `window` is always written, so no filter key at all means a page switch (or a bare URL)."""
    saved = st.session_state.get("_filters")
    if saved and not any(k in st.query_params for k in _KEYS):
        for k, v in saved.items():
            st.query_params[k] = v


def sidebar() -> Filters:
    """Render the service, window and "as of" controls; returns the resulting filters."""
    _restore_after_navigation()
    f = current()
    st.query_params["window"] = str(f.window)
    st.session_state["_filters"] = {k: st.query_params.get_all(k) for k in _KEYS if k in st.query_params}
    known = data.services_known(f.as_of)
    options = sorted(set(known["service"].to_list() if known.height else []) | set(f.services))
    # The query parameters are the truth: widgets are re-synced from them on every run (a page
    # may change them, e.g. the Service page's own service picker, or a shared link).
    at = f.as_of_time
    ss = st.session_state
    ss["f_services"] = list(f.services)
    ss["f_window"] = f.window
    ss["f_travel"] = at is not None
    if at is not None:
        ss["f_as_of_date"] = at.date()
        ss["f_as_of_time"] = at.time().replace(microsecond=0)
    with st.sidebar:
        st.multiselect("Services", options, key="f_services", on_change=_set_services,
                       placeholder="all services")
        st.selectbox("Window", list(WINDOWS), format_func=WINDOWS.get, key="f_window",
                     on_change=_set_window)
        st.toggle("Time travel (as of)", key="f_travel", on_change=_set_as_of,
                  help="Show exactly what the store knew at a past moment (UTC).")
        if at is not None:
            st.date_input("As of date (UTC)", key="f_as_of_date", on_change=_set_as_of)
            st.time_input("As of time (UTC)", key="f_as_of_time", on_change=_set_as_of)
            st.caption(f"Showing the store as of **{f.as_of}**")
        st.caption(f"Window: {f.start} to {f.end - timedelta(days=1)} (UTC days)")
        runs = data.load_runs(f.as_of)
        newest = runs["last_ok_at"].max() if runs.height else None
        if newest is not None:
            st.caption(f"Newest load: {newest:%Y-%m-%d %H:%M} UTC (see Data health)")
    return f
