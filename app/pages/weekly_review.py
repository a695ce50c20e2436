"""Weekly review: the pack the meeting walks (the same HTML as `onepane report weekly`), with
download buttons and a form that records the meeting's decisions."""
import streamlit as st
import streamlit.components.v1 as components

from app import data, review_data, run_marker
from app.components import charts, filters
from metrics.decisions import KINDS
from metrics.errors import OnepaneError

f = filters.current()
st.title("Weekly review")
rows = data.layer_rows(f.as_of)
if not (rows.get("cost") or rows.get("telemetry") or rows.get("requests")):
    charts.empty_state("cost or traffic data to review",
                       "Load bills with `onepane ingest billing FILE...` and telemetry with "
                       "`onepane ingest openmetrics FILE`, or run `onepane collect`.")
    run_marker.stop()
services = [s.name for s in data.settings().services] or sorted(
    data.services_known(f.as_of)["service"].to_list() if data.services_known(f.as_of).height else [])
weeks = review_data.weeks(data.data_end(f.as_of))
asked = st.query_params.get("week")
if asked and asked not in weeks:
    weeks = [asked, *weeks]
week = st.selectbox("Week", weeks, index=weeks.index(asked) if asked else 0, key="review_week")
st.query_params["week"] = week

with st.spinner(f"Building the {week} pack..."):
    html, summary = review_data.report(week, tuple(f.services or ()), f.as_of)
st.caption(f"Week {summary['week']}, store as of {summary['as_of']}: {summary['agenda']} open "
           f"question(s), {summary['decisions']} decision(s) recorded since the week began.")

c1, c2 = st.columns(2)
c1.download_button("Download HTML", html, file_name=f"review-{week}.html", mime="text/html")
if c2.button("Prepare PDF"):
    with st.spinner("Printing with headless chromium..."):
        st.session_state["review_pdf"] = (week, review_data.pdf(html))
if st.session_state.get("review_pdf", (None,))[0] == week:
    c2.download_button("Download PDF", st.session_state["review_pdf"][1],
                       file_name=f"review-{week}.pdf", mime="application/pdf")

st.subheader("Record a decision")
with st.form("decision", clear_on_submit=True):
    service = st.selectbox("Service", services)
    kind = st.selectbox("Kind", KINDS, index=KINDS.index("review"))
    text = st.text_input("Decision")
    by = st.text_input("Decided by")
    expires = st.date_input("Expires (accept-risk only)", value=None)
    if st.form_submit_button("Record decision"):
        try:
            did = review_data.record_decision(service=service, kind=kind, text=text, by=by or None,
                                              expires=expires.isoformat() if expires else None)
            st.success(f"Recorded decision {did}.")
        except OnepaneError as e:
            st.error(str(e))

components.html(html, height=1400, scrolling=True)
