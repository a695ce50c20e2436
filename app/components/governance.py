"""Rendering of governance results: status words with colours, the services x controls matrix and
the per-service governance light on the Overview."""
from __future__ import annotations

from urllib.parse import urlencode

import polars as pl
import streamlit as st

MARK = {"pass": "● pass", "gap": "✖ gap", "error": "✖ error", "not applicable": "– n/a",
        "not required": "· not required"}
LIGHT = {"green": "● green", "amber": "▲ amber", "red": "✖ red"}
COLOUR = {"pass": "#d1f0d8", "gap": "#ffd7d5", "error": "#e9d8fd", "not applicable": "#eaeef2",
          "not required": "#f6f8fa", "green": "#d1f0d8", "amber": "#fff1c2", "red": "#ffd7d5"}


def _colour(cell) -> str:
    if not isinstance(cell, str):
        return ""
    for word, colour in COLOUR.items():
        if cell.endswith(" " + word):
            return f"background-color: {colour}"
    return ""


def matrix_frame(report: dict) -> pl.DataFrame:
    """One row per service; each control column holds its status as mark + word."""
    rows = []
    for s in report["services"]:
        row = {"service": s["service"], "tier": s["tier"] or "unclassified",
               "light": LIGHT[s["light"]], "gaps": len(s["gaps"])}
        row.update({i["id"]: MARK[i["status"]] for i in s["controls"]})
        rows.append(row)
    return pl.DataFrame(rows)


def show_matrix(report: dict, key: str) -> pl.DataFrame:
    df = matrix_frame(report)
    help_ = {c["id"]: f"{c['category']}: {c['title']} (tiers {', '.join(c['tiers'])})" for c in report["controls"]}
    st.dataframe(df.to_pandas().style.map(_colour), hide_index=True, key=key,
                 column_config={k: st.column_config.TextColumn(k, help=v) for k, v in help_.items()})
    return df


def show_inventory(report: dict, key: str) -> None:
    """The AI inventory: one row per service with its declared entry and links."""
    rows = [{"service": s["service"], "tier": s["tier"] or "unclassified", "owner team": s["owner_team"],
             "intended use": s["inventory"]["intended_use"], "model class": s["inventory"]["model_class"],
             "model versions": ", ".join(s["inventory"]["model_versions"]),
             "model card": s["inventory"]["model_card"], "runbook": s["inventory"]["runbook"],
             "data contracts": ", ".join(s["inventory"]["data_contracts"]),
             "fallback": s["inventory"]["fallback"], "rollback": s["inventory"]["rollback_procedure"],
             "last review (declared)": s["inventory"]["declared_last_review"]} for s in report["services"]]
    st.dataframe(pl.DataFrame(rows), hide_index=True, key=key, column_config={
        "model card": st.column_config.LinkColumn("model card"),
        "runbook": st.column_config.LinkColumn("runbook")})


def governance_link(service: str, as_of: str | None) -> str:
    return "governance?" + urlencode({"service": service, **({"as_of": as_of} if as_of else {})})


def lights_frame(report: dict, as_of: str | None) -> pl.DataFrame:
    return pl.DataFrame([{"service": s["service"], "tier": s["tier"] or "unclassified",
                          "governance": LIGHT[s["light"]], "gaps": ", ".join(s["gaps"]) or "none",
                          "open": governance_link(s["service"], as_of)} for s in report["services"]])


def overview_lights(f) -> None:
    """The Overview's governance light per service (a separate block under the health lights)."""
    from app import data_governance

    if not data_governance.inventoried():         # no AI inventory declared: nothing to judge
        return
    rep = data_governance.report(f.end, f.as_of, f.services)
    if isinstance(rep, str) or not rep["services"]:
        return
    st.subheader("Governance")
    df = lights_frame(rep, f.as_of)
    st.dataframe(df.to_pandas().style.map(_colour, subset=["governance"]), hide_index=True,
                 key="overview_governance", column_config={
                     "governance": st.column_config.TextColumn(
                         "Governance", help="green: every control its risk tier requires passes; red: a gap "
                                            "in a high-severity control; amber: other gaps"),
                     "gaps": st.column_config.TextColumn("Gaps"),
                     "open": st.column_config.LinkColumn("Evidence", display_text="open governance")})
