"""Governance (risk, compliance): the AI inventory's services x NIST AI RMF controls, each computed
from the store's data at the window's end (and as of the sidebar's time), with drill-down to the
evidence of one service and the evidence pack as HTML and JSON."""
import json

import streamlit as st

from app import data, data_governance, run_marker
from app.components import charts, filters
from app.components import governance as gov

f = filters.current()
st.title("Governance")
if not data_governance.inventoried():
    charts.empty_state(
        "AI services in the inventory",
        "Declare each service with a `[services.governance]` table (risk tier, intended use, links, "
        "fallback, rollback) in onepane.toml, then `onepane governance report` shows its control coverage.")
    run_marker.stop()

rep = data_governance.report(f.end, f.as_of, f.services)
if isinstance(rep, data.Unavailable):
    charts.empty_state("governance evidence", f"{rep}. Build a store with `onepane init` and `onepane collect`.")
    run_marker.stop()

st.caption(f"{rep['framework']}: controls judged at {rep['at']}, store as of {rep['as_of'] or 'latest'}; "
           f"evidence window {rep['window']}. Statuses are computed from data and recorded decisions "
           "(`onepane decision add`), never declared.")
st.subheader("AI inventory")
gov.show_inventory(rep, key="governance_inventory")
st.subheader("Services × controls")
gov.show_matrix(rep, key="governance_matrix")

names = [s["service"] for s in rep["services"]]
wanted = st.query_params.get("service")
chosen = st.selectbox("Evidence for service", names, index=names.index(wanted) if wanted in names else 0,
                      key="governance_service")
svc = next(s for s in rep["services"] if s["service"] == chosen)
meta = {c["id"]: c for c in rep["controls"]}
st.subheader(f"{svc['service']}: {gov.LIGHT[svc['light']]}")
st.write(f"Risk tier **{svc['tier'] or 'unclassified'}**, owner team **{svc['owner_team']}**; "
         f"gaps: **{', '.join(svc['gaps']) or 'none'}**")
with st.expander("Inventory entry", expanded=False):
    st.json(svc["inventory"])
for item in svc["controls"]:
    c = meta[item["id"]]
    label = f"{gov.MARK[item['status']]} · {item['id']} · {c['category']}"
    with st.expander(label, expanded=item["status"] in ("gap", "error")):
        st.write(f"**{c['title']}** (required for tiers: {', '.join(c['tiers'])}; window {c['window']})")
        st.write(item["detail"] or "")
        if item["evidence"]:
            st.json(item["evidence"])
        st.caption(f"rule: {c['query']}")

st.subheader("Evidence pack")
from metrics.governance.render import to_html  # noqa: E402 - the renderer only, no store access

c1, c2 = st.columns(2)
c1.download_button("Download HTML", to_html(rep), file_name="governance.html", mime="text/html")
c2.download_button("Download JSON", json.dumps(rep, indent=2), file_name="governance.json",
                   mime="application/json")
