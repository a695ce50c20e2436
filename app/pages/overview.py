"""Overview (executives): every service on one screen: health lights, cost this month vs budget
with forecast (and last month's result early in a month), cost per 1k predictions and its trend,
cost per day and request rate, with change events marked."""
from datetime import datetime, time, timedelta, timezone

import polars as pl
import streamlit as st

from app import data, review_data, run_marker
from app.components import charts, filters, governance

f = filters.current()
st.title("Overview")
# the last full week up to the last day shown (a pinned day too); the link keeps the page's state
_week = review_data.weeks(datetime.combine(f.end, time(), tzinfo=timezone.utc), 1)[0]
st.markdown(f"[Weekly review of the last full week{f' to {f.last_day:%Y-%m-%d}' if f.pinned else ''}: "
            f"{_week} →]({filters.page_url('weekly_review', f, week=_week)})")
rows = data.layer_rows(f.as_of)
if not (rows.get("cost") or rows.get("telemetry") or rows.get("requests")):
    if not filters.as_of_empty("cost or traffic data", f):
        charts.empty_state(
            "cost or traffic data",
            "Load cloud and LLM bills with `onepane ingest billing FILE...` and telemetry with "
            "`onepane ingest openmetrics FILE` (or add `[[source]]` entries to onepane.toml and run "
            "`onepane collect`).")
    run_marker.stop()

last_day = f.end - timedelta(days=1)
# forecast: the one month-end forecast (the Costs page and the budget alert show the same value)
month = data.service_month_forecast(last_day, data.forecast_time(f.end, f.as_of_time), f.services, f.as_of)
events = data.events(f.start, f.end, f.services, f.as_of)


def service_link(service: str) -> str:
    """The Details link: the Service page; untagged cost has no service page, so it opens Costs
    (where unallocated cost is a line of its own). The fragment names the link (LinkColumn's regex)."""
    if service == UNALLOCATED:
        return filters.page_url("costs", f) + "#costs"
    return filters.page_url("service", f, service=[service]) + "#open"


UNALLOCATED = "__unallocated__"


st.subheader(f"Health, 7 days to {last_day:%Y-%m-%d}")
# feeds are judged where Data health judges them (as of, else now); a pinned range judges its end
reference = f.as_of_time or data.now()
if f.pinned:
    reference = min(reference, datetime.combine(f.end, time(), tzinfo=timezone.utc))
lights = data.health_lights(f.end, f.as_of, reference)
lights = lights.filter(pl.col("service") != "__unallocated__")
if f.services:
    lights = lights.filter(pl.col("service").is_in(list(f.services)))


def _pct(v, digits=2):
    return charts.NONE if v is None else f"{v:.{digits}%}"


def _cell(state: str, detail: str, age) -> str:
    if state == "stale":
        detail = f"newest data {age:,.0f} h old" if age is not None else detail
    elif state == "no data":
        detail = ""
    return f"{charts.badge(state)} {detail}".strip()


if lights.height:
    table = ["| Service | Technical | Model | Business |", "|---|---|---|---|"]
    for r in lights.iter_rows(named=True):
        table.append("| " + " | ".join((
            f"[{r['service']}]({filters.page_url('service', f, service=[r['service']])})",
            _cell(r["technical"], f"errors {_pct(r['error_rate'])} (SLO {_pct(r['error_rate_slo'])})",
                  r["technical_age_hours"]),
            _cell(r["model"], f"drift share {r['drift_share']:.2f} (SLO {r['drift_share_slo']:.2f})"
                  if r["drift_share"] is not None else "", r["model_age_hours"]),
            _cell(r["business"], f"funnel {r['funnel_rate_change']:+.1%} vs week before"
                  if r["funnel_rate_change"] is not None else "", r["business_age_hours"]),
        )) + " |")
    st.markdown("\n".join(table))
    st.caption(f"Feeds judged at {reference:%Y-%m-%d %H:%M} UTC against each service's `slo.freshness` "
               "(as on Data health): a stale feed greys its light, whatever its last numbers said.")
    charts.download(lights, "health_lights")



def month_totals(month: pl.DataFrame) -> pl.DataFrame:
    return month.group_by("billing_currency").agg(
        pl.col("month_to_date").sum(), pl.col("forecast").sum(), pl.col("budget").sum()).sort("billing_currency")


def _ratio(v, budget) -> float | None:
    return float(v) / float(budget) if v is not None and budget else None


EARLY = 7        # through the 7th, the Overview also shows how last month ended
if last_day.day <= EARLY:
    prev_day = last_day.replace(day=1) - timedelta(days=1)
    prev = data.service_month(prev_day, f.services, f.as_of)
    st.subheader(f"Last month ({prev_day:%B %Y})")
    if prev.height:
        for cur in month_totals(prev).iter_rows(named=True):
            c = cur["billing_currency"]
            share = _ratio(cur["month_to_date"], cur["budget"])
            c1, c2, c3 = st.columns(3)
            c1.metric(f"Cost last month ({c})", charts.money(cur["month_to_date"], c))
            c2.metric(f"Budgets set ({c}, last month)", charts.money(cur["budget"], c) if cur["budget"] else "none")
            c3.markdown("**Budget result**  \n" + (
                charts.badge("over" if share > 1 else "under", f"{share:.0%} of budget: "
                             + ("over budget" if share > 1 else "within budget")) if share is not None
                else "no budget set"))
        over = prev.filter(pl.col("budget").is_not_null() & (pl.col("month_to_date") > pl.col("budget")))
        if over.height:
            st.markdown("Over budget last month: " + ", ".join(
                r["service"] + " " + charts.badge("over", f"{_ratio(r['month_to_date'], r['budget']):.0%}")
                for r in over.iter_rows(named=True)))
    else:
        st.caption(f"No cost recorded in {prev_day:%B %Y}.")

governance.overview_lights(f)   # governance light per service (app/components/governance.py)

st.subheader(f"This month ({last_day:%B %Y}, through {last_day:%Y-%m-%d})")
if month.height:
    for cur in month_totals(month).iter_rows(named=True):
        c = cur["billing_currency"]
        c1, c2, c3 = st.columns(3)
        c1.metric(f"Cost this month ({c})", charts.money(cur["month_to_date"], c))
        c2.metric(f"Forecast for the month ({c})", charts.money(cur["forecast"], c))
        budget = cur["budget"]
        over = bool(budget) and float(cur["forecast"]) > float(budget)
        c3.metric(f"Budgets set ({c})", charts.money(budget, c) if budget else "none",
                  delta=(f"forecast {_ratio(cur['forecast'], budget):.0%} of budget" if budget else None),
                  delta_color="inverse" if over else "off")     # red only when over budget
    table = month.with_columns(
        (pl.col("forecast").cast(pl.Float64) / pl.col("budget").cast(pl.Float64)).alias("forecast_vs_budget"),
        (pl.col("cost_per_prediction").cast(pl.Float64) * 1000).alias("cost_per_1k_predictions"),
        (pl.col("cost_per_prediction") / pl.col("prev_cost_per_prediction") - 1).alias("cost_per_prediction_change"),
        pl.col("service").map_elements(service_link, return_dtype=pl.Utf8).alias("open"),
        pl.col("service").replace({UNALLOCATED: "untagged cost"}).alias("shown"),
    ).select("service", "shown", "billing_currency", "month_to_date", "budget", "forecast",
             "forecast_vs_budget", "requests", "cost_per_1k_predictions", "cost_per_prediction_change", "open")
    kinds = dict(money_cols=["month_to_date", "budget", "forecast", "cost_per_1k_predictions"],
                 percent=["forecast_vs_budget", "cost_per_prediction_change"], counts=["requests"])
    shown = charts.with_text(table, **kinds)
    styled = charts.styled(shown, **kinds, over_one="forecast_vs_budget")
    T = charts.TEXT
    st.dataframe(styled, hide_index=True, key="overview_services", column_order=[
        "shown", "month_to_date" + T, "budget" + T, "forecast" + T, "forecast_vs_budget" + T, "requests" + T,
        "cost_per_1k_predictions" + T, "cost_per_prediction_change" + T, "open"], column_config={
        "shown": st.column_config.TextColumn("Service", width=120),    # names fit at 1280 px
        "month_to_date" + T: st.column_config.TextColumn("Month to date"),
        "budget" + T: st.column_config.TextColumn("Budget"),
        "forecast" + T: st.column_config.TextColumn(
            "Forecast", help="Month-to-date cost + the forecast of the remaining days (metrics.analysis."
                             "budgets.month_end_forecasts; the same value as the Costs page)."),
        "forecast_vs_budget" + T: st.column_config.TextColumn("% budget", width="small",
                                                              help="Red: forecast over the monthly budget."),
        "requests" + T: st.column_config.TextColumn("Predictions"),     # sized to fit 225,269,639
        "cost_per_1k_predictions" + T: st.column_config.TextColumn("Per 1k predictions"),
        "cost_per_prediction_change" + T: st.column_config.TextColumn(
            "vs last mo.", width="small", help="Cost per prediction against last month."),
        "open": st.column_config.LinkColumn("Details", display_text=r"#(\w+)$", width=52,
                                            help="open: the service's page; costs: the Costs page "
                                                 "(untagged cost has no service)."),
    })
    charts.download(table.drop("open", "shown"), "cost_this_month")
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
    filters.range_empty("cost", f, "Load bills with `onepane ingest billing FILE...`.")

reqs = data.requests_daily(f.start, f.end, f.services, f.as_of)
if reqs.height:
    per_service = reqs.group_by("day", "service").agg(pl.col("requests").sum()).sort("day", "service")
    fig = charts.lines(per_service, "day", "requests", "service",
                       "Request rate by service (predictions per day)", "predictions / day", events,
                       hover_format=",.0f")
    charts.show(fig, per_service, "requests_per_day")
else:
    filters.range_empty("traffic", f,
                        "Load telemetry with `onepane ingest openmetrics FILE` or request logs with "
                        "`onepane ingest requests FILE`.")

unit = data.unit_cost_daily(f.start, f.end, f.services, f.as_of).drop_nulls("cost_per_prediction").with_columns(
    (pl.col("cost_per_prediction").cast(pl.Float64) * 1000).alias("cost_per_1k_predictions"))
if unit.height:
    for cur in sorted(unit["billing_currency"].unique().to_list()):
        part = unit.filter(pl.col("billing_currency") == cur)
        fig = charts.lines(part, "day", "cost_per_1k_predictions", "service",
                           f"Cost per 1k predictions by service ({cur} per 1,000 predictions)",
                           f"{cur} / 1k predictions", events, hover_format=",.4f")
        charts.show(fig, part, f"cost_per_1k_predictions_{cur}")
