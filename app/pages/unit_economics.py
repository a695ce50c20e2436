"""Unit economics: the ledger per service and version (cost per prediction, per 1k predictions, per
improved funnel action), the marginal cost per basis point of KPI lift with its interval, and
what-if controls that recompute instantly."""
from datetime import datetime, time, timezone

import polars as pl
import streamlit as st

from app import data, run_marker
from app.components import charts, filters

f = filters.current()
st.title("Unit economics")
start = datetime.combine(f.start, time(), tzinfo=timezone.utc)
end = datetime.combine(f.end, time(), tzinfo=timezone.utc)
service = f.services[0] if len(f.services) == 1 else None
ledger = data.unit_economics(service, start, end, f.as_of)
if isinstance(ledger, data.Unavailable) or not ledger.height:
    charts.empty_state("unit economics",
                       "The ledger needs cost (`onepane ingest billing FILE...`) and predictions "
                       "(`onepane ingest openmetrics FILE` or request logs) for the same services; "
                       "funnel KPIs (`onepane ingest kpis FILE`) add cost per improved action."
                       + (f" ({ledger})" if isinstance(ledger, data.Unavailable) else ""))
    run_marker.stop()

per_version = (ledger.group_by("service", "model_version", "currency").agg(
    pl.col("cost").sum(), pl.col("predictions").sum(), pl.col("funnel_actions").sum(),
    pl.col("improved_actions").sum(), pl.col("funnel_denominator").sum(), pl.col("day").n_unique().alias("days"))
    .with_columns(
        pl.when(pl.col("predictions") > 0)
          .then(pl.col("cost").cast(pl.Float64) / pl.col("predictions")).alias("cost_per_prediction"),
        pl.when(pl.col("predictions") > 0)
          .then(1000 * pl.col("cost").cast(pl.Float64) / pl.col("predictions")).alias("cost_per_1k_predictions"),
        pl.when(pl.col("improved_actions") > 0)
          .then(pl.col("cost").cast(pl.Float64) / pl.col("improved_actions")).alias("cost_per_improved_action"),
        pl.when(pl.col("funnel_denominator") > 0)
          .then(pl.col("funnel_actions") / pl.col("funnel_denominator")).alias("kpi_rate"))
    .sort("service", "model_version", nulls_last=True))
st.subheader("Ledger per service and version")
st.caption(f"{f.start} to {f.end} (UTC days, end exclusive). Cost is effective (amortised) cost; "
           "a row with no version holds cost that is not tagged with one.")
# shown as text: thousands separators, the row's currency, "—" for a missing value (numbers kept
# in the frame for the download)
T = charts.TEXT
ledger_view = charts.with_text(per_version, money_cols=["cost"], counts=["predictions", "improved_actions"],
                               percent=["kpi_rate"], currency="currency", digits={
                                   "cost_per_1k_predictions": 4, "cost_per_improved_action": 4})
st.dataframe(ledger_view, hide_index=True, key="ue_ledger", column_order=[
    "service", "model_version", "cost" + T, "predictions" + T, "cost_per_1k_predictions" + T,
    "improved_actions" + T, "cost_per_improved_action" + T, "kpi_rate" + T], column_config={
    "service": st.column_config.TextColumn("Service"),
    "model_version": st.column_config.TextColumn("Version"),
    "cost" + T: st.column_config.TextColumn("Cost"),
    "predictions" + T: st.column_config.TextColumn("Predictions"),
    "cost_per_1k_predictions" + T: st.column_config.TextColumn("Cost / 1k predictions"),
    "improved_actions" + T: st.column_config.TextColumn("Improved actions"),
    "cost_per_improved_action" + T: st.column_config.TextColumn("Cost / improved action"),
    "kpi_rate" + T: st.column_config.TextColumn("KPI rate"),
})                                  # days and cost per prediction: in the download (fits at 1280 px)
charts.download(per_version, "unit_economics")

daily = ledger.drop_nulls("cost_per_prediction").with_columns(
    (pl.col("service") + " " + pl.col("model_version").fill_null("(untagged)")).alias("arm"))
events = data.events(start, end, f.services, f.as_of)
for cur in sorted(daily["currency"].drop_nulls().unique().to_list()):
    part = daily.filter(pl.col("currency") == cur).select("day", "arm", "cost_per_prediction")
    fig = charts.lines(part, "day", "cost_per_prediction", "arm",
                       f"Cost per prediction by service and version ({cur} per prediction)",
                       f"{cur} / prediction", events, hover_format=",.6f")
    charts.show(fig, part, f"cost_per_prediction_by_version_{cur}")

# ---- marginal cost per basis point and what-if, for one service -----------------------------
st.subheader("Marginal cost of lift and what-if")
funnel_services = [s.name for s in data.settings().services if s.funnel]
if not funnel_services:
    st.info("No service has a funnel yet: add `funnel = { action = \"...\", denominator = \"...\" }` "
            "and a `baseline_version` to a `[[services]]` entry in onepane.toml.")
    run_marker.stop()
pick = service if service in funnel_services else funnel_services[0]
svc = st.selectbox("Service", funnel_services, index=funnel_services.index(pick), key="ue_service")
# the experiment's own days (its start/stop events), whatever the sidebar window: the same figure
# as `onepane marginal-cost`
m = data.marginal_cost_per_bp(svc, None, None, f.as_of)
if isinstance(m, data.Unavailable):
    st.warning(f"Marginal cost per bp: {m}")
else:
    w = m["window"]
    span = (f"{w['start']:%Y-%m-%d} to {w['end']:%Y-%m-%d}" if w.get("start") and w.get("end")
            else f"from {w['start']:%Y-%m-%d}" if w.get("start") else "all days")
    st.caption(f"Experiment window: {span} ({w['basis']}); the sidebar's window does not change these figures.")
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Lift of {m['b']} over {m['a']} ({m['kpi']} per {m['denominator']})",
              f"{m['lift_bp']:,.1f} bp", help=f"Lift = ({m['kpi']} ÷ {m['denominator']} of {m['b']} − the same "
              f"of {m['a']}) × 10,000, over the experiment window. {m['confidence']:.0%} interval "
              f"{m['lift_ci_bp'][0]:,.1f} .. {m['lift_ci_bp'][1]:,.1f} bp ({m['method']}).")
    c2.metric(f"Extra daily cost ({m['currency']})", charts.money(m["delta_daily_cost"], m["currency"]),
              help=f"Cost per day of traffic of {m['b']} − the same of {m['a']}, over the experiment window.")
    c3.metric(f"Marginal cost per bp ({m['currency']} per day)",
              "not significant" if m["marginal_cost_per_bp"] is None else
              charts.money(m["marginal_cost_per_bp"], m["currency"], 4),
              help="Marginal cost per bp = extra daily cost ÷ lift in bp (the same as `onepane marginal-cost`).")
    if m["marginal_cost_per_bp_ci"]:
        lo, hi = m["marginal_cost_per_bp_ci"]
        st.caption(f"{m['confidence']:.0%} interval: {lo:,.4f} .. {hi:,.4f} {m['currency']} per bp per day "
                   f"({m['method']}).")
    else:
        st.caption("The lift's interval includes zero, so no marginal cost is claimed.")

base = data.service_baseline(svc, start, end, f.as_of)
if isinstance(base, data.Unavailable):
    st.warning(f"What-if: {base}")
    run_marker.stop()
baseline, info = base
c1, c2, c3 = st.columns(3)
kpi_drop = c1.slider("Model underperforms by (%)", 0, 100, 0, key="ue_kpi_drop") / 100
price = c2.slider("Prices change by (%)", -50, 100, 0, key="ue_price") / 100
traffic = c3.slider("Traffic changes by (%)", -50, 200, 0, key="ue_traffic") / 100
out = data.scenario(baseline, kpi_drop, price, traffic)
cur = info["currency"] or ""
rows = [("Daily cost", "daily_cost", 2), ("Predictions per day", "predictions", 0),
        ("Cost per prediction", "cost_per_prediction", 6), ("Cost per 1k predictions", "cost_per_1k_predictions", 4),
        ("Improved actions per day", "improved_actions", 1), ("Cost per improved action", "cost_per_improved_action", 4),
        ("Lift of B over A (bp)", "lift_bp", 1), ("Marginal cost per bp", "marginal_cost_per_bp", 4)]
table = pl.DataFrame({
    "measure": [r[0] for r in rows],
    "today": [out["today"][r[1]] for r in rows],
    "scenario": [out["scenario"][r[1]] for r in rows],
}, schema={"measure": pl.Utf8, "today": pl.Float64, "scenario": pl.Float64})
st.dataframe(table, hide_index=True, key="ue_whatif", column_config={
    "today": st.column_config.NumberColumn(f"Today (average day, {cur})", format="%.6g"),
    "scenario": st.column_config.NumberColumn(f"Scenario ({cur})", format="%.6g"),
})
st.caption(f"Average of {info['days']} day(s) of the sidebar window; cost split: {info['cost_split']}. "
           "Cost = fixed + variable × predictions, so traffic moves only the variable part. "
           "Lift of B over A and marginal cost per bp are the experiment's figures above (today), "
           "with the lift × (1 − underperformance) and the marginal cost × scenario cost ÷ today's cost "
           "÷ (1 − underperformance) in the scenario.")
charts.download(table, f"what_if_{svc}")
