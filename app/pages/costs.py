"""Costs: allocation by team and service with shared, idle and unallocated cost as their own lines,
budgets with forecasts, anomalies with their root cause, the price × volume × mix decomposition of
the change against the previous period, estimated vs invoiced, and LLM tokens billed vs self-hosted."""
from datetime import datetime, time, timedelta, timezone

import polars as pl
import streamlit as st

from app import data, run_marker
from app.components import charts, filters

f = filters.current()
st.title("Costs")
rows = data.layer_rows(f.as_of)
if not rows.get("cost"):
    charts.empty_state("cost data", "Load cloud and LLM bills with `onepane ingest billing FILE...` "
                       "(FOCUS, AWS CUR, Azure, GCP, OCI, OpenAI, Anthropic exports), or add a "
                       "`[[source]] type = \"billing\"` and run `onepane collect billing`.")
    run_marker.stop()
start = datetime.combine(f.start, time(), tzinfo=timezone.utc)
end = datetime.combine(f.end, time(), tzinfo=timezone.utc)
# days before the first or after the last bill are unknown, not zero-cost days
first_cost, last_cost = data.first_day("cost", f.as_of), data.first_day("cost", f.as_of, last=True)
data_start = max(start, first_cost) if first_cost else start
data_end = min(end, last_cost + timedelta(days=1)) if last_cost else end
events = data.events(start, end, f.services, f.as_of)

# ---- allocation --------------------------------------------------------------------------
st.subheader("Allocation")
alloc = data.allocation(start, end, f.as_of)
if isinstance(alloc, data.Unavailable) or not alloc.height:
    st.info(f"No allocation for this window. {alloc if isinstance(alloc, data.Unavailable) else ''}")
else:
    if f.services:
        alloc = alloc.filter(pl.col("service").is_in(list(f.services)))
    by = st.radio("Allocate by", ["service", "team"], horizontal=True, key="costs_by")
    for cur in sorted(alloc["currency"].unique().to_list()):
        part = alloc.filter(pl.col("currency") == cur)
        per_day = (part.with_columns((pl.col(by) + " · " + pl.col("line")).alias("bucket"))
                   .group_by("day", "bucket").agg(pl.col("effective_cost").sum()).sort("day"))
        fig = charts.bars(per_day, "day", "effective_cost", "bucket",
                          f"Effective cost per day by {by} and line ({cur})", cur, events)
        charts.show(fig, per_day, f"allocation_{by}_{cur}")
        totals = (part.group_by(by, "line").agg(pl.col("billed_cost").sum(), pl.col("effective_cost").sum())
                  .sort(by, "line"))
        st.dataframe(totals, hide_index=True, key=f"alloc_totals_{cur}", column_config={
            "billed_cost": st.column_config.NumberColumn(f"Billed ({cur})", format="%.2f"),
            "effective_cost": st.column_config.NumberColumn(f"Effective ({cur})", format="%.2f")})
    st.caption("Lines: `allocated` (the service's own cost), `idle` (paid GPU time not used), `shared` "
               "(networking, storage, shared-tagged cost spread by [allocation] shared_basis) and "
               "`__unallocated__` (untagged). Per day they add up to the bill.")

# ---- budgets -----------------------------------------------------------------------------
st.subheader("Budgets and forecasts")
budgets = data.month_forecasts(data.forecast_time(f.end, f.as_of_time))
budgets = [] if isinstance(budgets, data.Unavailable) else budgets
# the month-end forecast of each service shown, as text (the Overview's "Forecast for the month")
shown = [b for b in budgets if b["level"] == "service" and (not f.services or b["name"] in f.services)]
for i in range(0, len(shown), 3):
    for col, b in zip(st.columns(3), shown[i:i + 3]):
        col.metric(f"Forecast for the month: {b['name']} ({b['currency']})",
                   charts.money(b["forecast"], b["currency"]),
                   help="Month-to-date cost + the forecast of the remaining days; the same value as the "
                        "Overview's forecast for this service.")
budgets = [b for b in budgets if b["budget"] is not None]
if not budgets:
    st.info("No budgets configured: add `budget = { monthly = 1000, currency = \"USD\" }` to a "
            "`[[services]]` or `[[teams]]` entry in onepane.toml.")
else:
    b = pl.DataFrame(budgets, infer_schema_length=None).with_columns(
        pl.col(c).cast(pl.Float64) for c in ("budget", "month_to_date", "forecast", "forecast_low", "forecast_high")
    ).with_columns((pl.col("forecast") / pl.col("budget")).alias("forecast_vs_budget"))
    cols = ["level", "name", "month", "currency", "budget", "month_to_date", "forecast", "forecast_low",
            "forecast_high", "forecast_vs_budget", "p_over_budget", "model", "days_of_history"]
    over = b["forecast_vs_budget"].to_list()
    st.dataframe(b.select(cols).to_pandas().style.apply(
        lambda col: ["color: #c62828; font-weight: 600" if o > 1 else "" for o in over], axis=0,
        subset=["forecast", "forecast_vs_budget"]), hide_index=True, key="budgets", column_config={
        **{c: st.column_config.NumberColumn(c.replace("_", " "), format="%.2f")
           for c in ("budget", "month_to_date", "forecast_low", "forecast_high")},
        "forecast": st.column_config.NumberColumn(
            "forecast (month end)", format="%.2f",
            help="Month-to-date cost + the forecast of the remaining days (the model picked on the "
                 "service's own history); the same value as the Overview. Red: above the budget."),
        "forecast_vs_budget": st.column_config.NumberColumn("forecast / budget", format="percent"),
        "p_over_budget": st.column_config.NumberColumn(
            "chance of overrun", format="percent",
            help="Share of simulated month-ends above the budget."),
        "model": st.column_config.TextColumn("model", help="The ETS model picked by its error on the "
                                             "service's own history.")})
    charts.download(b, "budgets")

# ---- anomalies ---------------------------------------------------------------------------
st.subheader("Anomalies")
anomalies = data.cost_anomalies(data_start, data_end, f.as_of)
if isinstance(anomalies, data.Unavailable) or not anomalies:
    st.success("No anomalous cost days in this window.")
else:
    a = pl.DataFrame([{**{k: v for k, v in x.items() if k != "root_cause"},
                       "root_cause": (" ".join(f"{k}={v}" for k, v in (x["root_cause"] or {}).items()))}
                      for x in anomalies], infer_schema_length=None)
    if f.services:
        a = a.filter((pl.col("level") != "service") | pl.col("key").is_in(list(f.services)))
    st.dataframe(a, hide_index=True, key="anomalies")
    charts.download(a, "cost_anomalies")

# ---- decomposition -----------------------------------------------------------------------
st.subheader("What moved cost: price × volume × mix, month over month")
# this month so far against the same days of the month before
month_start = (data_end - timedelta(days=1)).replace(day=1)
prev_start = (month_start - timedelta(days=1)).replace(day=1)
after = (month_start, data_end)
before = (prev_start, min(prev_start + (data_end - month_start), month_start))
st.caption(f"{after[0]:%Y-%m-%d} to {after[1] - timedelta(days=1):%Y-%m-%d} against "
           f"{before[0]:%Y-%m-%d} to {before[1] - timedelta(days=1):%Y-%m-%d}.")
service = f.services[0] if len(f.services) == 1 else None
dec = data.cost_decomposition(service, before, after, f.as_of)
if isinstance(dec, data.Unavailable) or not dec:
    st.info("No cost lines in either month to decompose.")
else:
    cur = dec["currency"]
    c = st.columns(5)
    for col, (label, key) in zip(c, [("Before", "before"), ("After", "after"), ("Price", "price_effect"),
                                    ("Volume", "volume_effect"), ("Mix", "mix_effect")]):
        col.metric(f"{label} ({cur})", charts.money(dec[key], cur))
    dims = dec.get("dimensions") or []
    if dims:
        st.caption("Where the change sits: per dimension, the value carrying most of it.")
        table = pl.DataFrame([{"dimension": d["dimension"], "top_value": d["top_value"],
                               "top_delta": float(d["top_delta"]), "top_share": d["top_share"],
                               "largest_changes": str(d["deltas"])} for d in dims])
        st.dataframe(table, hide_index=True, key="decomposition", column_config={
            "top_delta": st.column_config.NumberColumn(f"Change ({cur})", format="%.2f"),
            "top_share": st.column_config.NumberColumn("Share of the change", format="percent")})
        charts.download(table, "cost_decomposition")

# ---- estimated vs invoiced ---------------------------------------------------------------
st.subheader("Estimated vs invoiced")
inv = data.cost_invoiced(start, end, f.as_of)
if inv.height:
    st.dataframe(inv, hide_index=True, key="invoiced", column_config={
        "invoiced": st.column_config.NumberColumn("Invoiced", format="%.2f"),
        "estimated": st.column_config.NumberColumn("Estimated (no invoice yet)", format="%.2f")})
    charts.download(inv, "estimated_vs_invoiced")

# ---- tokens ------------------------------------------------------------------------------
st.subheader("LLM tokens: vendor-billed vs self-hosted")
tokens = data.token_economics(service, start, end, f.as_of)
if isinstance(tokens, data.Unavailable) or not tokens.height:
    st.info("No token counts: LLM vendor bills (`onepane ingest billing`) and `inference_tokens_total` "
            "telemetry or request logs with token columns give cost per 1k tokens.")
else:
    long = pl.concat([
        tokens.select("day", "service", "currency", pl.lit("vendor").alias("how"),
                      pl.col("vendor_cost_per_1k_tokens").cast(pl.Float64).alias("cost_per_1k_tokens")),
        tokens.select("day", "service", "currency", pl.lit("self-hosted").alias("how"),
                      pl.col("self_hosted_cost_per_1k_tokens").cast(pl.Float64).alias("cost_per_1k_tokens")),
    ]).drop_nulls("cost_per_1k_tokens").with_columns((pl.col("service") + " " + pl.col("how")).alias("arm"))
    for cur in sorted(long["currency"].unique().to_list()):
        part = long.filter(pl.col("currency") == cur)
        fig = charts.lines(part, "day", "cost_per_1k_tokens", "arm",
                           f"Cost per 1k tokens, vendor vs self-hosted ({cur} per 1k tokens)",
                           f"{cur} / 1k tokens", events, hover_format=",.5f")
        charts.show(fig, part, f"tokens_{cur}")
