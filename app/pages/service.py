"""Service: the technical, model and business dashboards of one service, plus its cost, on one
shared time axis; change events and the review's decisions drawn across every panel; split by model version; optional
week-over-week overlay. The tab and both toggles live in the URL (`tab`, `split`, `wow`), so a
link (e.g. from What changed: filters.service_link) opens the view it names."""
from datetime import datetime, time, timezone

import polars as pl
import streamlit as st

from app import data, health, review_data, run_marker
from app.components import charts, filters

f = filters.current()
st.title("Service")
known = data.services_known(f.as_of)
services = [s for s in (known["service"].to_list() if known.height else []) if s != "__unallocated__"]
if not services:
    charts.empty_state("services", "Describe your services in onepane.toml (`[[services]]`) and run "
                       "`onepane init`, or load telemetry with `onepane ingest openmetrics FILE`.")
    run_marker.stop()

chosen = f.services[0] if len(f.services) == 1 and f.services[0] in services else services[0]


def _pick():
    st.query_params["service"] = st.session_state["svc_pick"]


st.session_state["svc_pick"] = chosen
c1, c2, c3 = st.columns([2, 1, 1])
service = c1.selectbox("Service", services, key="svc_pick", on_change=_pick)
split = c2.toggle("Split by model version", value=True, key="split", bind="query-params")
wow = c3.toggle("Week-over-week overlay", value=False, key="wow", bind="query-params",
                help="Draw the week before as dotted lines on the same axis.")

cfg = data.settings().service(service)
slo_error_rate = (cfg.slo.error_rate if cfg and cfg.slo and cfg.slo.error_rate else None) or \
    health.DEFAULT_ERROR_RATE_SLO
if cfg:
    st.caption(f"Team **{cfg.team}** · kind {cfg.kind} · versions {', '.join(cfg.model_versions) or 'n/a'}"
               + (f" · baseline {cfg.baseline_version}" if cfg.baseline_version else ""))
start = datetime.combine(f.start, time(), tzinfo=timezone.utc)
end = datetime.combine(f.end, time(), tzinfo=timezone.utc)
events = data.events(start, end, (service,), f.as_of)
decisions = review_data.service_decisions(service, start, end, f.as_of)
if decisions.height:            # drawn on every chart like change events, labelled with their text
    events = pl.concat([events, decisions], how="diagonal_relaxed").sort("occurred_at")
if events.height:
    with st.expander(f"{events.height} change event(s) and decision(s) in this window", expanded=False):
        st.dataframe(events.drop("label", strict=False), hide_index=True, key="svc_events")

tech_tab, model_tab, biz_tab, cost_tab = st.tabs(["Technical", "Model", "Business", "Cost"], key="tab",
                                                 bind="query-params")
bucket = data.bucket_for(start, end)

with tech_tab:
    tech = data.service_technical(service, start, end, split, f.as_of)
    if wow:
        tech = pl.concat([tech, data.service_technical_week_before(service, start, end, split, f.as_of)],
                         how="vertical_relaxed")
    # the three quantiles share one latency panel: one line per version and quantile
    tech = tech.with_columns(
        pl.when(pl.col("metric").is_in(["p50_s", "p95_s", "p99_s"]))
        .then(pl.col("model_version").fill_null("") + " " + pl.col("metric").str.replace("_s", ""))
        .otherwise(pl.col("model_version")).alias("model_version"),
        pl.when(pl.col("metric").is_in(["p50_s", "p95_s", "p99_s"])).then(pl.lit("latency_s"))
        .otherwise(pl.col("metric")).alias("metric"))
    fig = charts.panels(tech, [("latency_s", "Latency p50 / p95 / p99 (s)", 1),
                               ("requests", f"Throughput (predictions per {bucket})", 1),
                               ("error_rate", "Error rate (%)", 100),
                               ("fallback_rate", "Fallback rate (%)", 100),
                               ("gpu_util_pct", "GPU utilisation (%)", 1)],
                        f"Technical health of {service}", start, end, events,
                        slo={"error_rate": 100 * slo_error_rate})
    if fig is None:
        filters.empty(f"telemetry for {service}", f, ("telemetry", "requests"), service,
                           "Load it with `onepane ingest openmetrics FILE` or `onepane ingest requests "
                           "FILE`, or scrape Prometheus with a `[[source]] type = \"prometheus\"` and "
                           "`onepane collect`.")
    else:
        charts.show(fig, tech, f"technical_{service}")

with model_tab:
    mh = data.service_model(service, start, end, f.as_of)
    whole = mh.filter(pl.col("feature").is_null())
    if not mh.height:
        filters.empty(f"model health results for {service}", f, ("model_health",), service,
                           "Add a `[[source]] type = \"drift\"` (reference and current batches) to "
                           "onepane.toml and run `onepane collect drift`.")
    else:
        metrics = sorted(set(whole["metric"].to_list()), key=lambda m: (m != "drift_share", m))[:6]
        fig = charts.panels(whole.rename({"window_start": "bucket_at"}),
                            [(m, m.replace("_", " "), 1) for m in metrics],
                            f"Model health of {service} (per window)", start, end, events)
        if fig is not None:
            charts.show(fig, whole, f"model_{service}")
        feats = mh.filter(pl.col("feature").is_not_null())
        if feats.height:
            latest = feats["window_start"].max()
            top = (feats.filter(pl.col("window_start") == latest).sort("value", descending=True)
                   .select("feature", "model_version", "metric", "value", "threshold", "status").head(10))
            st.markdown(f"**Top drifted features** in the window starting {latest:%Y-%m-%d %H:%M} UTC")
            st.dataframe(top, hide_index=True, key="svc_top_features")

with biz_tab:
    kpis = data.service_kpis(service, start, end, f.as_of)
    if not kpis.height:
        filters.empty(f"business KPIs for {service}", f, ("kpis",), service,
                           "Load a KPI export with `onepane ingest kpis FILE` (columns: time, service, "
                           "model_version or variant, kpi, value).")
    else:
        names = sorted(set(kpis["kpi"].to_list()), key=lambda k: (k != "conversion", k))[:6]
        fig = charts.panels(kpis, [(k, "conversion (%)" if k == "conversion" else k,
                                    100 if k == "conversion" else 1) for k in names],
                            f"Business KPIs of {service} by version / variant", start, end, events,
                            color="arm", key="kpi")
        charts.show(fig, kpis, f"kpis_{service}")

with cost_tab:
    cost = data.service_cost(service, start, end, f.as_of)
    if not cost.height:
        filters.empty(f"cost for {service}", f, ("cost",), service,
                           "Load bills with `onepane ingest billing FILE...`; line items are matched to "
                           "services by their tags (`[allocation]` in onepane.toml).")
    else:
        for cur in sorted(cost["billing_currency"].unique().to_list()):
            part = cost.filter(pl.col("billing_currency") == cur)
            fig = charts.bars(part, "day", "effective_cost", "model_version" if split else "charge",
                              f"Effective cost per day of {service} ({cur})", cur, events)
            fig.update_xaxes(range=[start, end])
            charts.show(fig, part, f"cost_{service}_{cur}")
