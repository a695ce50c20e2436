"""Plotly charts with titles that carry units and currency, hover values, change-event
annotations, and a CSV download of the data behind every chart (formula injection neutralized)."""
from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl
import streamlit as st

if TYPE_CHECKING:
    import plotly.graph_objects as go


def _go():
    """plotly.graph_objects, imported on first use (keeps the app's import fast)."""
    import plotly.graph_objects as go

    return go


# A spreadsheet treats a cell starting with one of these as a formula (OWASP CSV injection);
# some also take the full-width forms, and a locale that splits on `;` starts a cell after it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_AFTER_SEMICOLON = re.compile(r";(\s*)(?=[=+\-@\t\r\uff1d\uff0b\uff0d\uff20])")

EVENT_COLORS = {"deploy": "#2b6cb0", "rollback": "#c53030", "config": "#805ad5",
                "price_change": "#b7791f", "incident": "#e53e3e"}


def neutralize(value):
    """Prefix a text cell that a spreadsheet would run as a formula with a quote."""
    if not isinstance(value, str):
        return value
    if ";" in value:                 # `a;=cmd()` read with `;` as separator: quote that cell too
        value = _AFTER_SEMICOLON.sub(r";\1'", value)
    if value.lstrip(" ").startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(df: pl.DataFrame) -> str:
    """CSV of a frame with every text cell neutralized; money keeps its exact decimal digits."""
    text_cols = [c for c, t in df.schema.items() if t == pl.Utf8 or t == pl.Categorical]
    safe = df.with_columns(pl.col(c).cast(pl.Utf8).map_elements(neutralize, return_dtype=pl.Utf8)
                           for c in text_cols)
    safe = safe.rename({c: neutralize(c) for c in safe.columns})
    buf = io.StringIO()
    safe.write_csv(buf)
    return buf.getvalue()


def download(df: pl.DataFrame, name: str, label: str = "Download CSV") -> None:
    st.download_button(label, to_csv(df), file_name=f"{name}.csv", mime="text/csv", on_click="ignore",
                       key=f"csv_{name}", help="The data behind this chart, as CSV.")


def floats(df: pl.DataFrame) -> pl.DataFrame:
    """Decimals become floats for plotting only (money stays exact everywhere else)."""
    return df.with_columns(pl.col(c).cast(pl.Float64) for c, t in df.schema.items()
                           if isinstance(t, pl.Decimal))


def money(v, currency: str | None = None, digits: int = 2) -> str:
    if v is None:
        return "–"
    text = f"{Decimal(v):,.{digits}f}" if not isinstance(v, float) else f"{v:,.{digits}f}"
    return f"{text} {currency}" if currency else text


def add_events(fig: go.Figure, events: pl.DataFrame | None, label: bool = True) -> go.Figure:
    """Draw change events as dashed vertical lines (with their kind and version on hover)."""
    go = _go()
    if events is None or not events.height:
        return fig
    for n, e in enumerate(events.iter_rows(named=True)):
        color = EVENT_COLORS.get(e["kind"], "#718096")
        fig.add_vline(x=e["occurred_at"], line_dash="dot", line_color=color, opacity=0.8)
        text = " ".join(str(x) for x in (e["kind"], e.get("model_version") or e.get("service") or "") if x)
        # an invisible marker carries the hover text, because vlines have none
        fig.add_trace(go.Scatter(x=[e["occurred_at"]], y=[0], mode="markers",
                                 marker=dict(symbol="triangle-up", size=10, color=color),
                                 name=text, showlegend=False, yaxis="y",
                                 hovertemplate=f"{text}<br>{e.get('detail') or ''}<br>%{{x}}<extra></extra>"))
        if label:
            fig.add_annotation(x=e["occurred_at"], y=1, yref="paper", text=e["kind"], showarrow=False,
                               font=dict(size=10, color=color), yanchor="bottom",
                               yshift=11 * (n % 3))       # neighbours' labels do not overprint
    return fig


def layout(fig: go.Figure, title: str, y_title: str, height: int = 340) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10),
                      hovermode="x unified", legend=dict(orientation="h", y=-0.2),
                      yaxis_title=y_title, xaxis_title=None)
    return fig


def bars(df: pl.DataFrame, x: str, y: str, color: str, title: str, y_title: str,
         events: pl.DataFrame | None = None, hover_format: str = ",.2f") -> go.Figure:
    """Stacked bars of y by x, one colour per value of `color`."""
    go = _go()
    df = floats(df)
    fig = go.Figure()
    for key in sorted(df[color].unique().to_list(), key=str):
        part = df.filter(pl.col(color) == key)
        fig.add_trace(go.Bar(x=part[x].to_list(), y=part[y].to_list(), name=str(key),
                             hovertemplate=f"{key}: %{{y:{hover_format}}}<extra></extra>"))
    fig.update_layout(barmode="stack")
    return add_events(layout(fig, title, y_title), events)


def lines(df: pl.DataFrame, x: str, y: str, color: str, title: str, y_title: str,
          events: pl.DataFrame | None = None, hover_format: str = ",.2f", dash: dict | None = None) -> go.Figure:
    """One line per value of `color`."""
    go = _go()
    df = floats(df)
    fig = go.Figure()
    for key in sorted(df[color].unique().to_list(), key=str):
        part = df.filter(pl.col(color) == key).sort(x)
        fig.add_trace(go.Scatter(x=part[x].to_list(), y=part[y].to_list(), name=str(key),
                                 mode="lines+markers", marker=dict(size=4),
                                 line=dict(dash=(dash or {}).get(key, "solid")),
                                 hovertemplate=f"{key}: %{{y:{hover_format}}}<extra></extra>"))
    return add_events(layout(fig, title, y_title), events)


def show(fig: go.Figure, df: pl.DataFrame, name: str) -> None:
    """Render a chart with the CSV download of its data under it."""
    st.plotly_chart(fig, key=f"chart_{name}")
    download(df, name)


def empty_state(what: str, how: str) -> None:
    """The "no data yet" state: what is missing and the onepane command that collects it."""
    st.info(f"**No {what} yet.** {how}\n\nNew here? `onepane demo` builds a demo company's store "
            "and serves it.", icon="ℹ️")


def panels(df: pl.DataFrame, rows: list[tuple[str, str, float]], title: str, start, end,
           events: pl.DataFrame | None = None, x: str = "bucket_at", color: str = "model_version",
           key: str = "metric", value: str = "value") -> go.Figure | None:
    """Stacked panels on one shared time axis, one per (metric, y-axis title, scale) in `rows`
    that has data; one line per `color`; change events drawn across every panel."""
    go = _go()
    from plotly.subplots import make_subplots

    df = floats(df)
    present = [r for r in rows if df.filter((pl.col(key) == r[0]) & pl.col(value).is_not_null()).height]
    if not present:
        return None
    fig = make_subplots(rows=len(present), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[r[1] for r in present])
    palette = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#718096"]

    def base(arm: str) -> str:         # "v2 p95 (week before)" -> "v2"
        arm = arm.replace(" (week before)", "")
        return arm.rsplit(" ", 1)[0] if arm.endswith((" p50", " p95", " p99")) else arm

    def dash(arm: str) -> str:
        if "week before" in arm:
            return "dot"
        return {"p50": "dash", "p99": "longdashdot"}.get(arm.replace(" (week before)", "")[-3:], "solid")

    bases = sorted({base(str(a)) for a in df[color].to_list()})
    colors = {b: palette[i % len(palette)] for i, b in enumerate(bases)}
    shown: set[str] = set()
    for i, (metric, y_title, scale) in enumerate(present, start=1):
        part = df.filter(pl.col(key) == metric)
        for arm in sorted({str(a) for a in part[color].to_list()}):
            line = part.filter(pl.col(color).cast(pl.Utf8).fill_null("None") == arm).sort(x)
            fig.add_trace(go.Scatter(
                x=line[x].to_list(), y=[None if v is None else v * scale for v in line[value].to_list()],
                name=arm, legendgroup=arm, showlegend=arm not in shown, mode="lines",
                line=dict(color=colors.get(base(arm), "#718096"), dash=dash(arm)),
                hovertemplate=f"{arm}: %{{y:,.4g}}<extra>{y_title}</extra>"), row=i, col=1)
            shown.add(arm)
    fig.update_xaxes(range=[start, end])
    fig.update_layout(title=title, height=170 * len(present) + 120, hovermode="x unified",
                      margin=dict(l=10, r=10, t=60, b=10), legend=dict(orientation="h", y=-0.08))
    if events is not None and events.height:
        for n, e in enumerate(events.iter_rows(named=True)):
            c = EVENT_COLORS.get(e["kind"], "#718096")
            fig.add_vline(x=e["occurred_at"], line_dash="dot", line_color=c, row="all", col=1)
            fig.add_annotation(x=e["occurred_at"], y=1.0, yref="paper", showarrow=False, yanchor="bottom",
                               text=f"{e['kind']} {e.get('model_version') or ''}".strip(),
                               font=dict(size=10, color=c), yshift=11 * (n % 3))
    return fig


def heatmap(z, x: list, y: list, title: str, color_title: str, y_title: str,
            hover: str = "%{y}<br>%{x}<br>%{z:.4f}") -> go.Figure:
    """A heatmap (e.g. features × windows) with its hover values."""
    go = _go()
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, colorscale="YlOrRd", colorbar=dict(title=color_title),
                               hovertemplate=hover + "<extra></extra>"))
    layout(fig, title, y_title, height=max(300, 22 * len(y) + 120))
    fig.update_layout(hovermode="closest")
    return fig
