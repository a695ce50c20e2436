"""The sidebar filters every page honours, kept in `st.query_params` so URLs are shareable.

    ?service=ranker&service=fraud&window=30&as_of=2026-11-05T12:00:00Z
    ?service=ranker&from=2026-10-26&to=2026-11-01          (an absolute range, both days shown)
    ?service=ranker&window=7&to=2026-11-04                 (the 7 days ending on a pinned day)

Two different clocks, never mixed:
- the **range** (`window`, or `from`/`to`) picks which days the charts show; without `from`/`to`
  it is the last `window` days up to the newest data (capped at "as of"), so a store whose data
  stopped a while ago still opens on its data; a pinned range shows as a clearable chip;
- **time travel** (`as_of`) shows only what the store had loaded by that moment.

`current()` reads them with defaults, so a page also runs on its own (tests, bookmarks).
Page-local state (the Service page's tab and toggles, ...) is bound to the URL by its widgets.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlencode

import streamlit as st

from app import data
from metrics.errors import OnepaneError
from metrics.times import parse_time

WINDOWS = {7: "last 7 days", 30: "last 30 days", 90: "last 90 days", 365: "last 365 days"}
CUSTOM = "custom"
DEFAULT_WINDOW = 30
EXPLAIN = ("**Days to show** pick the time axis. **Time travel** shows only what the store had "
           "loaded by that moment (a past view of the store, not a past range of days).")


@dataclass(frozen=True)
class Filters:
    services: tuple[str, ...]         # empty = all services
    as_of: str | None                 # ISO 8601 UTC, or None = now
    window: int                       # days
    start: date                       # first day shown
    end: date                         # first day not shown (half-open)
    pinned: bool = False              # the range was set by from/to (a link or the date pickers)

    @property
    def as_of_time(self) -> datetime | None:
        return parse_time(self.as_of) if self.as_of else None

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def only(self, service: str | None) -> "Filters":
        return Filters((service,) if service else self.services, self.as_of, self.window,
                       self.start, self.end, self.pinned)


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


def _date_param(name: str) -> date | None:
    raw = st.query_params.get(name)
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        st.warning(f"ignoring {name}={raw!r}: not a date (use YYYY-MM-DD)")
        return None


def current() -> Filters:
    """The filters of this run, from the query parameters (defaults when absent)."""
    as_of = _as_of_param()
    window = _window_param()
    services = tuple(sorted(set(st.query_params.get_all("service"))))
    first, last_day = _date_param("from"), _date_param("to")
    if first and last_day and first > last_day:
        first, last_day = last_day, first
    if last_day is None:
        newest = data.data_end(as_of)
        cap = parse_time(as_of) if as_of else data.now()
        last = min(newest, cap) if newest else cap
        last_day = last.date()
    end = last_day + timedelta(days=1)
    if first is not None:
        window = (end - first).days
    return Filters(services, as_of, window, first or end - timedelta(days=window), end,
                   pinned=bool(st.query_params.get("from") or st.query_params.get("to")))


def page_url(page: str, f: Filters | None = None, **params) -> str:
    """A relative link to `page` ("service", "costs", ...) carrying the sidebar's filters of `f`
    (range and as of; services only when not overridden) plus `params` (None drops a key)."""
    q: dict = {}
    if f is not None:
        q["service"] = list(f.services)
        q["window"] = f.window
        if f.pinned:
            q["from"], q["to"] = f.start.isoformat(), f.last_day.isoformat()
        if f.as_of:
            q["as_of"] = f.as_of
    q.update(params)
    return page + "?" + urlencode({k: v for k, v in q.items() if v is not None and v != []}, doseq=True)


LAYER_TABS = {"technical": "Technical", "data": "Technical", "model": "Model", "business": "Business",
              "cost": "Cost"}


def service_view(service: str, at: datetime, layer: str | None = None, days: int = 7,
                 as_of: str | None = None) -> dict[str, str]:
    """The query parameters of the Service page centred on `at` (`days` days, `at`'s day in the
    middle), on the tab of `layer` (technical | model | business | cost; others: Technical)."""
    half = timedelta(days=days // 2)
    q = {"service": service, "from": (at - half).date().isoformat(),
         "to": (at - half + timedelta(days=days - 1)).date().isoformat(), "window": str(days)}
    tab = LAYER_TABS.get(layer or "", "Technical")
    if tab != "Technical":
        q["tab"] = tab
    if as_of:
        q["as_of"] = as_of
    return q


def service_link(service: str, at: datetime, layer: str | None = None, days: int = 7,
                 as_of: str | None = None) -> str:
    """The relative URL of service_view() (for markdown or a LinkColumn)."""
    return "service?" + urlencode(service_view(service, at, layer, days, as_of))


def link_to_service(label: str, service: str, at: datetime, layer: str | None = None, days: int = 7,
                    as_of: str | None = None) -> None:
    """A link to the Service page centred on `at`, on `layer`'s tab, opened in the same tab."""
    st.page_link("pages/service.py", label=label,
                 query_params=service_view(service, at, layer, days, as_of))


def _set_services():
    st.query_params["service"] = st.session_state["f_services"]


def _set_range():
    choice = st.session_state["f_range"]
    if choice == CUSTOM:             # start from the days shown now, as from/to
        f = current()
        st.query_params["from"], st.query_params["to"] = f.start.isoformat(), f.last_day.isoformat()
        return
    st.query_params["window"] = str(choice)
    st.query_params.pop("from", None)
    st.query_params.pop("to", None)


def _set_dates():
    first, last = st.session_state.get("f_from"), st.session_state.get("f_to")
    if first and last and first > last:
        first, last = last, first
    if first:
        st.query_params["from"] = first.isoformat()
    if last:
        st.query_params["to"] = last.isoformat()


def clear_pin():
    st.query_params.pop("from", None)
    st.query_params.pop("to", None)


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


_KEYS = ("service", "window", "as_of", "from", "to")


def _restore_after_navigation() -> None:
    """Streamlit clears the query parameters when the user switches pages; put the filters back.
    `window` is always written, so no filter key at all means a page switch (or a bare URL)."""
    saved = st.session_state.get("_filters")
    if saved and not any(k in st.query_params for k in _KEYS):
        for k, v in saved.items():
            st.query_params[k] = v


def sidebar() -> Filters:
    """Render the services, days-to-show and time-travel controls; returns the resulting filters."""
    _restore_after_navigation()
    f = current()
    st.query_params["window"] = str(f.window if f.window in WINDOWS else _window_param())
    st.session_state["_filters"] = {k: st.query_params.get_all(k) for k in _KEYS if k in st.query_params}
    known = data.services_known(f.as_of)
    options = sorted(set(known["service"].to_list() if known.height else []) | set(f.services))
    options = [s for s in options if s != "__unallocated__"] + [s for s in f.services if s == "__unallocated__"]
    # The query parameters are the truth: widgets are re-synced from them on every run (a page
    # may change them, e.g. the Service page's own service picker, or a shared link).
    at = f.as_of_time
    custom = bool(st.query_params.get("from"))
    ss = st.session_state
    ss["f_services"] = list(f.services)
    ss["f_range"] = CUSTOM if custom else _window_param()
    ss["f_from"], ss["f_to"] = f.start, f.last_day
    ss["f_travel"] = at is not None
    if at is not None:
        ss["f_as_of_date"] = at.date()
        ss["f_as_of_time"] = at.time().replace(microsecond=0)
    with st.sidebar:
        st.multiselect("Services", options, key="f_services", on_change=_set_services,
                       placeholder="all services")
        st.selectbox("Days to show", [*WINDOWS, CUSTOM], key="f_range", on_change=_set_range,
                     format_func=lambda w: WINDOWS.get(w, "from … to …"),
                     help="Which days the charts show (UTC). Presets end on the newest data.")
        if custom:
            c1, c2 = st.columns(2)
            c1.date_input("From", key="f_from", on_change=_set_dates)
            c2.date_input("To", key="f_to", on_change=_set_dates, help="Included.")
        elif f.pinned:                 # a link pinned the last day: say so, and let it go
            st.button(f"× ending {f.last_day:%Y-%m-%d}", key="f_pin", on_click=clear_pin,
                      help="A link pinned the last day shown. Click to show the days up to the "
                           "newest data again.")
        st.caption(f"Showing {f.start:%Y-%m-%d} to {f.last_day:%Y-%m-%d} (UTC days).")
        st.toggle("Time travel (as of)", key="f_travel", on_change=_set_as_of,
                  help="Show exactly what the store knew at a past moment (UTC).")
        if at is not None:
            st.date_input("As of date (UTC)", key="f_as_of_date", on_change=_set_as_of)
            st.time_input("As of time (UTC)", key="f_as_of_time", on_change=_set_as_of)
            st.caption(f"Showing the store as of **{f.as_of}**")
        st.caption(EXPLAIN)
        span = data_span(f.as_of)
        if span:
            st.caption(f"Data from {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}.")
        runs = data.load_runs(f.as_of)
        newest = runs["last_ok_at"].max() if runs.height else None
        if newest is not None:
            st.caption(f"Newest load: {newest:%Y-%m-%d %H:%M} UTC (see Data health)")
    return f


def data_span(as_of: str | None = None) -> tuple[datetime, datetime] | None:
    """(first, last) data time over every layer but events, or None for an empty store."""
    df = data.data_range(as_of)
    if not df.height:
        return None
    df = df.filter(df["layer"] != "events")
    firsts = [t for t in df["first_at"].to_list() if t is not None]
    lasts = [t for t in df["last_at"].to_list() if t is not None]
    return (min(firsts), max(lasts)) if firsts and lasts else None


def range_empty(what: str, f: Filters, how: str = "") -> None:
    """The empty state of a range with nothing in it: where the data starts and ends (so the
    reader changes the range, not the store), or what to load when the store has none."""
    span = data_span(f.as_of)
    if span is None:
        st.info(f"**No {what} yet.** {how}", icon="ℹ️")
        return
    st.info(f"**No {what} between {f.start:%Y-%m-%d} and {f.last_day:%Y-%m-%d}.** The store's data "
            f"runs from {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}"
            + (f" (as of {f.as_of})" if f.as_of else "") + ": pick days in that span under "
            "**Days to show**.", icon="ℹ️")


def empty(what: str, f: Filters, layers: tuple[str, ...], service: str | None, how: str) -> None:
    """The right empty state: the range is empty (the store has such data, of `service` when
    given, on other days), time travel hides it (loaded later), or the store has none yet (then
    `how` names the command)."""
    from app.components import charts

    fresh = data.freshness("1d", f.as_of)
    if fresh.height:
        fresh = fresh.filter(fresh["layer"].is_in(list(layers)) & (fresh["rows"] > 0))
        if service:
            fresh = fresh.filter(fresh["service"] == service)
    if fresh.height:
        range_empty(what, f, how)
    elif not as_of_empty(what, f):
        charts.empty_state(what, how)


def as_of_empty(what: str, f: Filters) -> bool:
    """When time travel hides data the store has today, say so (instead of "no data yet"), and
    how to see those days. True when it said so."""
    if not f.as_of:
        return False
    span = data_span(None)
    if span is None:
        return False
    st.info(f"**The store held no {what} as of {f.as_of}:** it was loaded later. Today it has "
            f"data from {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}. Time travel shows what the store knew at a moment; to show the "
            f"days up to {f.as_of[:10]} with today's data, turn time travel off and pick those days "
            "under **Days to show**.", icon="ℹ️")
    return True
