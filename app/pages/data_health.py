"""Data health: freshness per source against its SLO, the last successful collector run, failures
with their error text, row counts and late data. The "as of" picker in the sidebar applies here too."""
from datetime import timedelta

import polars as pl
import streamlit as st

from app import data
from app.components import charts, filters, wc_charts
from metrics.times import parse_duration

f = filters.current()
st.title("Data health")
runs = data.load_runs(f.as_of)
if not runs.height:
    charts.empty_state("collector runs",
                       "Nothing has been loaded into this store. Run `onepane collect` for the sources in "
                       "onepane.toml, or `onepane ingest KIND FILE...` for files.")
    st.stop()

# Freshness SLO per service from the config (slo.freshness); the default is one day.
DEFAULT_SLO = "1d"
slo = {s.name: (s.slo.freshness if s.slo and s.slo.freshness else DEFAULT_SLO)
       for s in data.settings().services}
reference = f.as_of_time or data.now()
fresh = data.freshness("1d", f.as_of)

st.subheader("Freshness")
st.caption(f"Age of the newest data per layer and service at {reference:%Y-%m-%d %H:%M} UTC, against the "
           f"service's `slo.freshness` (default {DEFAULT_SLO}). Late rows arrived more than a day after "
           "their data time (backfills and restatements).")
if fresh.height:
    fresh = fresh.with_columns(
        pl.col("service").replace_strict(slo, default=DEFAULT_SLO).alias("freshness_slo"),
        ((pl.lit(reference) - pl.col("newest_data_at")).dt.total_seconds() / 3600).alias("age_hours"),
    ).with_columns(
        pl.col("freshness_slo").map_elements(lambda s: parse_duration(s).total_seconds() / 3600,
                                             return_dtype=pl.Float64).alias("slo_hours"),
    ).with_columns(
        pl.when(pl.col("layer") == "events").then(pl.lit("n/a (events are sparse)"))
        .when(pl.col("age_hours") <= pl.col("slo_hours")).then(pl.lit("fresh"))
        .otherwise(pl.lit("stale")).alias("status"),
    ).drop("slo_hours")
    stale = fresh.filter(pl.col("status") == "stale").height
    c1, c2, c3 = st.columns(3)
    c1.metric("Layers × services", fresh.height)
    c2.metric("Stale", stale)
    c3.metric("Late rows", int(fresh["late_rows"].sum()))
    st.dataframe(fresh.select("layer", "service", "status", "newest_data_at", "age_hours", "freshness_slo",
                              "rows", "late_rows"), hide_index=True, key="freshness", column_config={
        "age_hours": st.column_config.NumberColumn("Age (hours)", format="%.1f"),
        "newest_data_at": st.column_config.DatetimeColumn("Newest data (UTC)"),
    })
    charts.download(fresh, "freshness")

st.subheader("Freshness over time")
hist = data.freshness_history(f.as_of)
if hist.height:
    st.caption("Each point is a load: how old the newest data it brought was when it arrived; the last "
               "point of each source is its age now. Above the dashed line the data came later than "
               f"expected (the default freshness SLO, {DEFAULT_SLO}).")
    wc_charts.freshness_over_time(hist, reference, parse_duration(DEFAULT_SLO).total_seconds() / 3600)

st.subheader("Collector runs")
ok = runs.filter(pl.col("last_status") == "ok").height
c1, c2, c3 = st.columns(3)
c1.metric("Sources", runs.height)
c2.metric("Last run failed", runs.height - ok)
c3.metric("Rows loaded", f"{int(runs['rows_loaded'].fill_null(0).sum()):,}")
st.dataframe(runs, hide_index=True, key="runs", column_config={
    "last_run_at": st.column_config.DatetimeColumn("Last run (UTC)"),
    "last_ok_at": st.column_config.DatetimeColumn("Last success (UTC)"),
    "rows_loaded": st.column_config.NumberColumn("Rows loaded", format="%d"),
})
charts.download(runs, "collector_runs")

st.subheader("Failures")
failures = data.load_failures(f.as_of)
if failures.height:
    st.dataframe(failures, hide_index=True, key="failures", column_config={
        "finished_at": st.column_config.DatetimeColumn("When (UTC)"),
        "error": st.column_config.TextColumn("Error", width="large"),
    })
    charts.download(failures, "load_failures")
else:
    st.success("No failed collector runs.")
