"""What changed (on-call): all services by default (or one), a time (from the URL, else the latest
firing alert, else the newest data) and a window; the ranked explanations, each with its evidence
as a chart, links into the Service page, and the list as a Markdown incident note."""
from datetime import datetime, timedelta, timezone

import polars as pl
import streamlit as st

from app import data, run_marker
from app.components import charts, filters, wc_charts
from metrics.analysis.wc_stats import LIKELY  # an item explaining at least half of what shifted

f = filters.current()
st.title("What changed")
rows = data.layer_rows(f.as_of)
if not any(rows.get(k) for k in ("telemetry", "requests", "model_health", "kpis", "cost")):
    charts.empty_state("data to explain", "What changed compares telemetry, model health, KPIs, cost "
                       "and change events around a time: load them with `onepane collect` (or "
                       "`onepane ingest ...`), and events with `onepane ingest events FILE`.")
    run_marker.stop()

ALL = "All services"
known = data.services_known(f.as_of)
services = [ALL] + [s for s in known["service"].to_list() if s != "__unallocated__"]
pick = f.services[0] if len(f.services) == 1 and f.services[0] in services else ALL
WINDOWS = {"10m": 600, "1h": 3600, "6h": 21600, "1d": 86400, "7d": 604800}
url_window = st.query_params.get("wc_window")
c1, c2 = st.columns([2, 1])


def _new_service():
    for k in ("wc_date", "wc_time", "wc_event"):
        st.session_state.pop(k, None)


choice = c1.selectbox("Service", services, index=services.index(pick), key="wc_service", on_change=_new_service)
service = None if choice == ALL else choice
window = c2.selectbox("Compare windows of", list(WINDOWS), key="wc_window",
                      index=list(WINDOWS).index(url_window if url_window in WINDOWS else "1d"),
                      help="The window before the time against the one before that (or the same hours "
                           "a day or week earlier); a change that began inside it is compared since its onset.")

alerts = data.alert_state()
firing = sorted((a for a in alerts if a.get("status") == "firing"
                 and (service is None or service in str(a.get("subject", "")))),
                key=lambda a: a["changed_at"], reverse=True) if alerts else []
newest = data.data_end(f.as_of) or data.now()
url_at = st.query_params.get("at")
default = (datetime.fromisoformat(url_at.replace("Z", "+00:00")) if url_at else
           firing[0]["changed_at"] if firing else min(newest + timedelta(seconds=1), f.as_of_time or data.now()))
recent = data.events(f.start, f.end, (service,) if service else (), f.as_of)


def _jump():
    """Put the time one comparison window after the chosen event: the event opens the window."""
    i = st.session_state["wc_event"]
    if i is None:
        return
    t = recent["occurred_at"][i] + timedelta(seconds=WINDOWS[st.session_state["wc_window"]])
    st.session_state["wc_date"], st.session_state["wc_time"] = t.date(), t.time().replace(second=0, microsecond=0)


if recent.height:
    st.selectbox("Or explain a change event", range(recent.height), index=None, key="wc_event",
                 on_change=_jump, placeholder=f"{recent.height} change event(s) in the window",
                 format_func=lambda i: f"{recent['occurred_at'][i]:%Y-%m-%d %H:%M} · {recent['kind'][i]} · "
                                       f"{recent['service'][i] if service is None else ''} "
                                       f"{recent['model_version'][i] or ''} {recent['detail'][i] or ''}")
c3, c4 = st.columns(2)
if "wc_date" not in st.session_state:         # defaults once; the event picker and the user change them
    st.session_state["wc_date"] = default.date()
    st.session_state["wc_time"] = default.time().replace(second=0, microsecond=0)
day = c3.date_input("At (UTC date)", key="wc_date")
clock = c4.time_input("At (UTC time)", key="wc_time", step=timedelta(minutes=5))
at = datetime.combine(day, clock, tzinfo=timezone.utc)
st.caption(("Time from the link. " if url_at else "Default time: the latest firing alert"
            + (" of this service. " if service else ". ") if firing else "Default time: the newest data in the store. ")
           + f"Explaining [{at - timedelta(seconds=WINDOWS[window])}, {at}).")

items = data.what_changed(service, at, WINDOWS[window], f.as_of)
if isinstance(items, data.Unavailable):
    st.warning(str(items))
    run_marker.stop()
if not items:
    st.success("Nothing changed measurably in this window.")
    run_marker.stop()


with st.expander("Copy as incident note"):
    note = data.incident_note(items, at, WINDOWS[window], service)
    st.code(note, language="markdown")
for rank, item in enumerate(items, start=1):
    with st.container(border=True):
        where = f" · {item['service']}" if service is None else ""
        likely = " · **likely**" if item["score"] >= LIKELY else ""
        st.markdown(f"**{rank}. {item['layer']} · {item['kind']} · {item['subject']}**{where} — "
                    f"score {item['score']:.2f}{likely}")
        st.write(item["summary"])
        wc_charts.item_chart(item["chart"], key=str(rank))
        ev = item.get("evidence") or {}
        when = ev.get("occurred_at") or ev.get("onset")
        link_at = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else at
        filters.link_to_service(f"Open the Service page around {link_at:%Y-%m-%d %H:%M}", item["service"],
                                link_at, item["layer"], as_of=f.as_of)  # centred on the change, its layer's tab
        with st.expander("Evidence"):
            st.json(ev, expanded=False)
charts.download(pl.DataFrame([{k: (str(v) if isinstance(v, (dict, list)) else v) for k, v in i.items()
                               if k != "chart"} for i in items]), f"what_changed_{service or 'all'}")
