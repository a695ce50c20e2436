"""Overview (executives): every service on one screen: cost this month vs budget with forecast,
cost per prediction and its trend, cost per day and request rate, with change events marked."""
from datetime import timedelta
from urllib.parse import urlencode

import polars as pl
import streamlit as st

from app import data, review_data
from app.components import charts, filters, governance

f = filters.current()
st.title("Overview")
st.markdown("[Weekly review of the latest week: {0} →](weekly_review?week={0})".format(
    review_data.weeks(data.data_end(f.as_of), 1)[0]))
rows = data.layer_rows(f.as_of)
if not (rows.get("cost") or rows.get("telemetry") or rows.get("requests")):
    charts.empty_state(
        "cost or traffic data",
        "Load cloud and LLM bills with `onepane ingest billing FILE...` and telemetry with "
        "`onepane ingest openmetrics FILE` (or add `[[source]]` entries to onepane.toml and run "
        "`onepane collect`).")
    st.stop()

last_day = f.end - timedelta(days=1)
# forecast: the one month-end forecast (the Costs page and the budget alert show the same value)
month = data.service_month_forecast(last_day, data.forecast_time(f.end, f.as_of_time), f.services, f.as_of)
events = data.events(f.start, f.end, f.services, f.as_of)


def service_link(service: str) -> str:
    params = {"service": service, "window": f.window, **({"as_of": f.as_of} if f.as_of else {})}
    return "service?" + urlencode(params)


st.subheader("Health, last 7 days")
lights = data.health_lights(f.end, f.as_of)
if f.services:
    lights = lights.filter(pl.col("service").is_in(list(f.services)))
if lights.height:
    MARK = {"ok": "● ok", "warn": "▲ warn", "breach": "✖ breach", "no data": "– no data"}
    shown = lights.with_columns(pl.col(c).replace_strict(MARK) for c in ("technical", "model", "business")).with_columns(
        pl.col("service").map_elements(service_link, return_dtype=pl.Utf8).alias("open"))
    st.dataframe(shown, hide_index=True, key="overview_health", column_config={
        "technical": st.column_config.TextColumn("Technical", help="error rate against slo.error_rate"),
        "model": st.column_config.TextColumn("Model", help="newest drift share against slo.drift_share"),
        "business": st.column_config.TextColumn("Business", help="funnel rate against the week before"),
        "error_rate": st.column_config.NumberColumn("Error rate", format="percent"),
        "error_rate_slo": st.column_config.NumberColumn("SLO", format="percent"),
        "drift_share": st.column_config.NumberColumn("Drift share", format="%.2f"),
        "drift_share_slo": st.column_config.NumberColumn("SLO", format="%.2f"),
        "funnel_rate_change": st.column_config.NumberColumn("Funnel rate vs week before", format="percent"),
        "open": st.column_config.LinkColumn("Details", display_text="open service"),
    })

governance.overview_lights(f)   # governance light per service (app/components/governance.py)

st.subheader(f"This month ({last_day:%B %Y}, through {last_day:%Y-%m-%d})")
if month.height:
    totals = month.group_by("billing_currency").agg(
        pl.col("month_to_date").sum(), pl.col("forecast").sum(), pl.col("budget").sum()).sort("billing_currency")
    for cur in totals.iter_rows(named=True):
        c1, c2, c3 = st.columns(3)
        c1.metric(f"Cost this month ({cur['billing_currency']})", charts.money(cur["month_to_date"], cur["billing_currency"]))
        c2.metric(f"Forecast for the month ({cur['billing_currency']})", charts.money(cur["forecast"], cur["billing_currency"]))
        budget = cur["budget"]
        over = bool(budget) and float(cur["forecast"]) > float(budget)
        c3.metric(f"Budgets set ({cur['billing_currency']})",
                  charts.money(budget, cur["billing_currency"]) if budget else "none",
                  delta=(f"forecast {float(cur['forecast']) / float(budget):.0%} of budget" if budget else None),
                  delta_color="inverse" if over else "off")     # red only when over budget
    table = month.with_columns(
        (pl.col("forecast").cast(pl.Float64) / pl.col("budget").cast(pl.Float64)).alias("forecast_vs_budget"),
        (pl.col("cost_per_prediction") / pl.col("prev_cost_per_prediction") - 1).alias("cost_per_prediction_change"),
        pl.col("service").map_elements(service_link, return_dtype=pl.Utf8).alias("open"),
    ).select("service", "billing_currency", "month_to_date", "budget", "forecast", "forecast_vs_budget",
             "requests", "cost_per_prediction", "cost_per_prediction_change", "open")
    over = [(v or 0) > 1 for v in table["forecast_vs_budget"].to_list()]
    st.dataframe(table.to_pandas().style.apply(
        lambda col: ["color: #c62828; font-weight: 600" if o else "" for o in over], axis=0,
        subset=["forecast", "forecast_vs_budget"]), hide_index=True, key="overview_services", column_config={
        "service": "Service", "billing_currency": "Currency",
        "month_to_date": st.column_config.NumberColumn("Cost this month", format="%.2f"),
        "budget": st.column_config.NumberColumn("Monthly budget", format="%.2f"),
        "forecast": st.column_config.NumberColumn(
            "Forecast (month end)", format="%.2f",
            help="Month-to-date cost + the forecast of the remaining days (metrics.analysis.budgets."
                 "month_end_forecasts; the same value as the Costs page). Red: above the budget."),
        "forecast_vs_budget": st.column_config.NumberColumn("Forecast / budget", format="percent"),
        "requests": st.column_config.NumberColumn("Predictions this month", format="%d"),
        "cost_per_prediction": st.column_config.NumberColumn("Cost per prediction", format="%.6f"),
        "cost_per_prediction_change": st.column_config.NumberColumn("vs last month", format="percent"),
        "open": st.column_config.LinkColumn("Details", display_text="open service"),
    })
    charts.download(table.drop("open"), "cost_this_month")
else:
    st.caption("No cost recorded this month yet.")

cost = data.cost_daily(f.start, f.end, f.services, f.as_of)
if cost.height:
    for cur in sorted(cost["billing_currency"].unique().to_list()):
        part = cost.filter(pl.col("billing_currency") == cur)
        fig = charts.bars(part, "day", "effective_cost", "service",
                          f"Effective cost per day by service ({cur})", cur, events)
        charts.show(fig, part, f"cost_per_day_{cur}")
else:
    charts.empty_state("cost in this window", "Load bills with `onepane ingest billing FILE...`.")

reqs = data.requests_daily(f.start, f.end, f.services, f.as_of)
if reqs.height:
    per_service = reqs.group_by("day", "service").agg(pl.col("requests").sum()).sort("day", "service")
    fig = charts.lines(per_service, "day", "requests", "service",
                       "Request rate by service (predictions per day)", "predictions / day", events,
                       hover_format=",.0f")
    charts.show(fig, per_service, "requests_per_day")
else:
    charts.empty_state("traffic in this window",
                       "Load telemetry with `onepane ingest openmetrics FILE` or request logs with "
                       "`onepane ingest requests FILE`.")

unit = data.unit_cost_daily(f.start, f.end, f.services, f.as_of).drop_nulls("cost_per_prediction")
if unit.height:
    for cur in sorted(unit["billing_currency"].unique().to_list()):
        part = unit.filter(pl.col("billing_currency") == cur)
        fig = charts.lines(part, "day", "cost_per_prediction", "service",
                           f"Cost per prediction by service ({cur} per prediction)", f"{cur} / prediction",
                           events, hover_format=",.6f")
        charts.show(fig, part, f"cost_per_prediction_{cur}")
