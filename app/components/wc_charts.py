"""What changed: one evidence chart per item (the signal over the read range, the reference and
current windows shaded, the onset marked, change events drawn), from the item's `chart` data."""
from __future__ import annotations

import streamlit as st

from app.components.charts import EVENT_COLORS, _go, layout


def item_chart(chart: dict, key: str) -> None:
    go = _go()
    kind = chart.get("kind")
    fig = go.Figure()
    unit = chart.get("unit") or ""
    title = f"{chart.get('signal', '')} · {chart.get('subject', '')}" + (f" ({unit})" if unit else "")
    if kind == "bars":
        fig.add_trace(go.Bar(x=chart["labels"], y=chart["v"], name=chart.get("signal", ""),
                             hovertemplate=f"%{{x}}: %{{y:,.2f}} {unit}<extra></extra>"))
    else:
        if kind == "series":
            fig.add_trace(go.Scatter(x=chart["t"], y=chart["v"], mode="lines+markers", marker=dict(size=3),
                                     name=chart.get("signal", ""), connectgaps=False,
                                     hovertemplate=f"%{{x}}: %{{y:.4g}} {unit}<extra></extra>"))
        for name, color in (("reference", "rgba(113,128,150,0.15)"), ("current", "rgba(221,107,32,0.15)")):
            span = chart.get(name)
            if span:
                fig.add_vrect(x0=span[0], x1=span[1], fillcolor=color, line_width=0,
                              annotation_text=name, annotation_position="top left")
        if chart.get("onset"):
            fig.add_vline(x=chart["onset"], line_color="#c53030", line_width=2)
            fig.add_annotation(x=chart["onset"], y=0, yref="paper", text="onset", showarrow=False,
                               font=dict(size=10, color="#c53030"), yanchor="bottom")
        for e in chart.get("events") or []:
            color = EVENT_COLORS.get(e["kind"], "#718096")
            fig.add_vline(x=e["at"], line_dash="dot", line_color=color)
            fig.add_annotation(x=e["at"], y=1, yref="paper", showarrow=False, yanchor="bottom",
                               text=f"{e['kind']} {e.get('model_version') or e['service']}",
                               font=dict(size=10, color=color))
    st.plotly_chart(layout(fig, title, unit, height=260), key=f"wc_chart_{key}")


def freshness_over_time(hist, reference, expected_h: float) -> None:
    """Per source, the age of its newest data at each arrival (hours), and now; a dashed line at
    the age it is expected to have at most. A feed that stops climbs off the chart's right edge."""


    go = _go()
    fig = go.Figure()
    for (layer, source), g in hist.sort("arrived_at").group_by(["layer", "source"], maintain_order=True):
        x = g["arrived_at"].to_list() + [reference]
        newest = g["newest_data_at"].max()
        age = ((g["arrived_at"] - g["newest_data_at"]).dt.total_seconds() / 3600).to_list()
        age.append((reference - newest).total_seconds() / 3600)
        fig.add_trace(go.Scatter(x=x, y=age, mode="lines+markers", name=f"{layer} · {source}",
                                 line=dict(shape="hv"),
                                 hovertemplate=f"{source}: %{{y:.1f}} h old at %{{x}}<extra></extra>"))
    fig.add_hline(y=expected_h, line_dash="dash", line_color="#c53030",
                  annotation_text=f"expected ≤ {expected_h:g} h", annotation_position="top left")
    fig.update_yaxes(type="log")
    st.plotly_chart(layout(fig, "Age of each source's newest data when it arrived, and now (hours, log scale)",
                           "hours", height=380), key="freshness_over_time")
