"""Plotly charts with titles that carry units and currency, hover values, change-event
annotations, and a CSV download of the data behind every chart (formula injection neutralized)."""
from __future__ import annotations

import io
from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl
import streamlit as st

from app.csv_safe import FORMULA_START, neutralize  # noqa: F401 - FORMULA_START re-exported

if TYPE_CHECKING:
    import plotly.graph_objects as go


def _go():
    """plotly.graph_objects, imported on first use (keeps the app's import fast)."""
    import plotly.graph_objects as go

    return go


# One colour per service and per model version on every chart: the position of the name in the
# store's list of services then configured versions (stable for a store), else a hash of the name.
# No red in the palette: red means "bad" (over budget, breach, rollback).
PALETTE = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d69e2e", "#319795", "#5a67d8", "#b83280",
           "#2c7a7b", "#975a16", "#4a5568", "#9f7aea"]
UNALLOCATED_COLOR = "#a0aec0"


def color_for(name) -> str:
    """The colour of a service or model version (the same on every chart and tab)."""
    name = str(name)
    if name == "__unallocated__":
        return UNALLOCATED_COLOR
    try:
        from app import data

        names = data.palette_names()
    except Exception:        # no store or config (a chart built outside the app)
        names = ()
    if name in names:
        return PALETTE[names.index(name) % len(PALETTE)]
    import hashlib

    return PALETTE[int(hashlib.md5(name.encode()).hexdigest(), 16) % len(PALETTE)]


EVENT_COLORS = {"deploy": "#2b6cb0", "rollback": "#c53030", "config": "#805ad5",
                "price_change": "#b7791f", "incident": "#e53e3e", "decision": "#2f855a"}


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
    # the CSV is made when the button is clicked (a callable), not on every run: a file made per
    # run is served from Streamlit's media store, which drops it at the next run, so a browser
    # still fetching the previous run's (a slider moved a few times) got a 404
    st.download_button(label, lambda: to_csv(df), file_name=f"{name}.csv", mime="text/csv",
                       on_click="ignore", key=f"csv_{name}", help="The data behind this chart, as CSV.")


def floats(df: pl.DataFrame) -> pl.DataFrame:
    """Decimals become floats for plotting only (money stays exact everywhere else)."""
    return df.with_columns(pl.col(c).cast(pl.Float64) for c, t in df.schema.items()
                           if isinstance(t, pl.Decimal))


NONE = "—"      # what a missing number shows (never "None")
NO_VERSION = "all versions"   # the legend of rows without a model version (never "None")
BAD = "#c53030"  # red: kept for "bad" (over budget, breach, rollback); never a series colour


def money(v, currency: str | None = None, digits: int = 2) -> str:
    """1234.5 -> "1,234.50 USD"; None (or NaN) -> "—"."""
    if v is None or (isinstance(v, float) and v != v):
        return NONE
    text = f"{Decimal(v):,.{digits}f}" if not isinstance(v, float) else f"{v:,.{digits}f}"
    return f"{text} {currency}" if currency else text


# A light's word and its colour (Streamlit's markdown badges): red only for what is bad,
# grey when the light cannot say (a stale feed, or none).
BADGES = {"ok": ("green", "● ok"), "warn": ("orange", "▲ warn"), "breach": ("red", "✖ breach"),
          "stale": ("gray", "◷ stale"), "no data": ("gray", "– no data"),
          "over": ("red", "over budget"), "under": ("green", "within budget")}


def badge(state: str, text: str | None = None) -> str:
    """Markdown for a coloured pill with a word, e.g. ':red-badge[✖ breach]'."""
    color, word = BADGES.get(state, ("gray", state))
    return f":{color}-badge[{text or word}]"


TEXT = "_text"    # suffix of a column holding what a cell shows (see with_text)


def with_text(df: pl.DataFrame, money_cols: list[str] = (), percent: list[str] = (), counts: list[str] = (),
              currency: str = "billing_currency", digits: dict[str, int] | None = None) -> pl.DataFrame:
    """Add `<col>_text` beside each listed column: money with separators and its row's currency,
    percentages, counts, and "—" for a missing value. Show these (the data grid draws a missing
    number as "None" whatever a Styler says); the numbers stay in the frame for downloads and tests.
    `digits` adds money columns with more decimals than 2 (e.g. {"cost_per_1k_predictions": 4})."""
    cur = df[currency].to_list() if currency in df.columns else [None] * df.height
    places = {**{c: 2 for c in money_cols}, **(digits or {})}
    out = [pl.Series(c + TEXT, [money(v, k, d) for v, k in zip(df[c].to_list(), cur)], pl.Utf8)
           for c, d in places.items()]
    out += [pl.Series(c + TEXT, [NONE if v is None or v != v else f"{v:.1%}" for v in df[c].to_list()], pl.Utf8)
            for c in percent]
    out += [pl.Series(c + TEXT, [NONE if v is None or v != v else f"{v:,.0f}" for v in df[c].to_list()], pl.Utf8)
            for c in counts]
    return df.with_columns(out)


def styled(df: pl.DataFrame, money_cols: list[str] = (), percent: list[str] = (), counts: list[str] = (),
           currency: str = "billing_currency", over_one: str | None = None):
    """A pandas Styler for st.dataframe: money with thousands separators and its row's currency,
    percentages, counts with separators, "—" for missing values, and the `over_one` cell red
    (white text) where it is above 1 (e.g. forecast / budget). The numbers stay numbers."""
    import pandas as pd

    view = df.to_pandas()
    sty = view.style
    curs = view[currency].unique().tolist() if currency in view.columns else [None]
    for cur in curs:
        rows = view.index[view[currency] == cur] if cur is not None else view.index
        sty = sty.format(lambda v, c=cur: money(v, c), subset=pd.IndexSlice[rows, list(money_cols)],
                         na_rep=NONE)
    sty = sty.format(lambda v: f"{v:.1%}", subset=list(percent), na_rep=NONE)
    sty = sty.format(lambda v: f"{v:,.0f}", subset=list(counts), na_rep=NONE)
    if over_one:
        red = [v is not None and v == v and v > 1 for v in view[over_one].tolist()]
        for col in [over_one] + ([over_one + TEXT] if over_one + TEXT in view.columns else []):
            sty = sty.apply(lambda c: [f"background-color: {BAD}; color: white" if r else "" for r in red],
                            subset=[col], axis=0)
    return sty


def add_events(fig: go.Figure, events: pl.DataFrame | None, label: bool = True,
               services=None) -> go.Figure:
    """Draw change events as dashed vertical lines (with their kind and version on hover), only
    those of `services` (the chart's services; None = all given). Labels sit inside the plot's
    top edge, never over the title."""
    go = _go()
    if events is not None and events.height and services is not None:
        events = events.filter(pl.col("service").is_in([str(x) for x in services]))
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
            fig.add_annotation(x=e["occurred_at"], y=1, yref="paper", text=e.get("label") or e["kind"],
                               showarrow=False,
                               font=dict(size=10, color=color), yanchor="top", xanchor="left",
                               yshift=-11 * (n % 3))      # inside the plot; neighbours do not overprint
    return fig


def layout(fig: go.Figure, title: str, y_title: str, height: int = 340) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=60, b=10),
                      hovermode="x unified", legend=dict(orientation="h", y=-0.2),
                      yaxis_title=y_title, xaxis_title=None)
    return fig


def bars(df: pl.DataFrame, x: str, y: str, color: str, title: str, y_title: str,
         events: pl.DataFrame | None = None, hover_format: str = ",.2f") -> go.Figure:
    """Stacked bars of y by x, one colour per value of `color`."""
    go = _go()
    df = floats(df)
    fig = go.Figure()
    df = df.with_columns(pl.col(color).cast(pl.Utf8).fill_null(NO_VERSION))
    for key in sorted(df[color].unique().to_list(), key=str):
        part = df.filter(pl.col(color) == key)
        fig.add_trace(go.Bar(x=part[x].to_list(), y=part[y].to_list(), name=str(key),
                             marker_color=color_for(key),
                             hovertemplate=f"{key}: %{{y:{hover_format}}}<extra></extra>"))
    fig.update_layout(barmode="stack")
    return add_events(layout(fig, title, y_title), events,
                      services=df[color].unique().to_list() if color == "service" else None)


def lines(df: pl.DataFrame, x: str, y: str, color: str, title: str, y_title: str,
          events: pl.DataFrame | None = None, hover_format: str = ",.2f", dash: dict | None = None) -> go.Figure:
    """One line per value of `color`."""
    go = _go()
    df = floats(df)
    fig = go.Figure()
    df = df.with_columns(pl.col(color).cast(pl.Utf8).fill_null(NO_VERSION))
    for key in sorted(df[color].unique().to_list(), key=str):
        part = df.filter(pl.col(color) == key).sort(x)
        fig.add_trace(go.Scatter(x=part[x].to_list(), y=part[y].to_list(), name=str(key),
                                 mode="lines+markers", marker=dict(size=4),
                                 line=dict(dash=(dash or {}).get(key, "solid"), color=color_for(key)),
                                 hovertemplate=f"{key}: %{{y:{hover_format}}}<extra></extra>"))
    return add_events(layout(fig, title, y_title), events,
                      services=df[color].unique().to_list() if color == "service" else None)


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
           key: str = "metric", value: str = "value",
           slo: dict[str, float] | None = None) -> go.Figure | None:
    """Stacked panels on one shared time axis, one per (metric, y-axis title, scale) in `rows`
    that has data; one line per `color` (its colour from color_for, the week before dotted);
    change events drawn across every panel. A metric in `slo` (value in the panel's scale) gets a
    y axis from 0 and a dashed SLO line."""
    go = _go()
    from plotly.subplots import make_subplots

    df = floats(df).with_columns(pl.col(color).cast(pl.Utf8).fill_null(NO_VERSION))
    present = [r for r in rows if df.filter((pl.col(key) == r[0]) & pl.col(value).is_not_null()).height]
    if not present:
        return None
    fig = make_subplots(rows=len(present), cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=[r[1] for r in present])

    def base(arm: str) -> str:         # "v2 p95 (week before)" -> "v2"
        arm = arm.replace(" (week before)", "")
        return arm.rsplit(" ", 1)[0] if arm.endswith((" p50", " p95", " p99")) else arm

    def dash(arm: str) -> str:
        if "week before" in arm:
            return "dot"
        return {"p50": "dash", "p99": "longdashdot"}.get(arm.replace(" (week before)", "")[-3:], "solid")

    shown: set[str] = set()
    for i, (metric, y_title, scale) in enumerate(present, start=1):
        part = df.filter(pl.col(key) == metric)
        top = 0.0
        xs = sorted(set(part[x].to_list()))         # the panel's buckets: an arm missing one has a gap
        for arm in sorted(set(part[color].to_list())):
            line = part.filter(pl.col(color) == arm).sort(x)
            at = dict(zip(line[x].to_list(), line[value].to_list()))
            first, last = line[x].min(), line[x].max()
            span = [t for t in xs if first <= t <= last]   # no line across buckets the arm did not serve
            ys = [None if at.get(t) is None else at[t] * scale for t in span]
            top = max([top, *(v for v in ys if v is not None)])
            fig.add_trace(go.Scatter(
                x=span, y=ys,
                name=arm, legendgroup=arm, showlegend=arm not in shown, mode="lines",
                line=dict(color=color_for(base(arm)), dash=dash(arm)),
                hovertemplate=f"{arm}: %{{y:,.4g}}<extra>{y_title}</extra>"), row=i, col=1)
            shown.add(arm)
        if slo and metric in slo and slo[metric] is not None:
            line_at = slo[metric]
            fig.add_hline(y=line_at, line_dash="dash", line_color="#4a5568", row=i, col=1,
                          annotation_text=f"SLO {line_at:g}", annotation_position="top right",
                          annotation_font=dict(size=10, color="#4a5568"))
            fig.update_yaxes(range=[0, max(top, line_at) * 1.15], row=i, col=1)
    fig.update_xaxes(range=[start, end])
    fig.update_layout(title=title, height=170 * len(present) + 120, hovermode="x unified",
                      margin=dict(l=10, r=10, t=70, b=10), legend=dict(orientation="h", y=-0.08))
    if events is not None and events.height:
        for n, e in enumerate(events.iter_rows(named=True)):
            c = EVENT_COLORS.get(e["kind"], "#718096")
            fig.add_vline(x=e["occurred_at"], line_dash="dot", line_color=c, row="all", col=1)
            # inside the top panel's plot area, below its subplot title
            fig.add_annotation(x=e["occurred_at"], y=1, xref="x", yref="y domain", showarrow=False,
                               yanchor="top", xanchor="left",
                               text=e.get("label") or f"{e['kind']} {e.get('model_version') or ''}".strip(),
                               font=dict(size=10, color=c), yshift=-11 * (n % 3))
    return fig


def heatmap(z, x: list, y: list, title: str, color_title: str, y_title: str,
            hover: str = "%{y}<br>%{x}<br>%{z:.4f}", threshold: float | None = None) -> go.Figure:
    """A heatmap (e.g. features × windows) with its hover values. With a `threshold`, the colour
    scale is anchored to it: 0 .. threshold runs white to pale yellow (noise stays light), above it
    orange to red, and the colour bar marks the threshold."""
    go = _go()
    kw: dict = {"colorscale": "YlOrRd"}
    if threshold:
        import math

        values = [v for row in z for v in row if v is not None and not (isinstance(v, float) and math.isnan(v))]
        top = max([2 * threshold, *values])
        cut = threshold / top
        kw = {"zmin": 0, "zmax": top,
              "colorscale": [[0, "#ffffff"], [cut, "#fefcbf"], [min(cut + 1e-6, 1), "#f6ad55"], [1, BAD]]}
        color_title = f"{color_title}<br>(threshold {threshold:g})"
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, colorbar=dict(title=color_title),
                               hovertemplate=hover + "<extra></extra>", **kw))
    layout(fig, title, y_title, height=max(300, 22 * len(y) + 120))
    fig.update_layout(hovermode="closest")
    return fig
