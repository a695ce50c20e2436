"""Data health: freshness per source against its SLO, the last successful collector run, failures
with their error text, row counts and late data. The "as of" picker in the sidebar applies here too."""

import polars as pl
import streamlit as st

from app import data, run_marker
from app.components import charts, filters, wc_charts
from metrics.times import parse_duration

f = filters.current()
st.title("Data health")
runs = data.load_runs(f.as_of)
if not runs.height:
    charts.empty_state("collector runs",
                       "Nothing has been loaded into this store. Run `onepane collect` for the sources in "
                       "onepane.toml, or `onepane ingest KIND FILE...` for files.")
    run_marker.stop()

DEFAULT_SLO = "1d"
reference = f.as_of_time or data.now()
fresh = data.freshness_status(reference, f.as_of)     # the one freshness definition (app/health.py)

st.subheader("Freshness")
st.caption(f"Age of the newest data per layer and service at {reference:%Y-%m-%d %H:%M} UTC, against the "
           f"service's `slo.freshness` (default {DEFAULT_SLO}). Late rows arrived more than a day after "
           "their data time while their source was already being collected (a source's first backfill "
           "is never late).")
if fresh.height:
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

st.subheader("Removed loads")
removals = data.load_removals(f.as_of)
if removals.height:
    st.dataframe(removals, hide_index=True, key="removals", column_config={
        "removed_at": st.column_config.DatetimeColumn("Removed (UTC)"),
        "reason": st.column_config.TextColumn("Reason", width="large"),
    })
    charts.download(removals, "load_removals")
else:
    st.caption("No load was removed (`onepane loads rm LOAD_ID --reason TEXT` takes one back).")

st.subheader("Expired by retention")
expiries = data.retention_expiries(f.as_of)
later = expiries.filter(pl.col("after_as_of"))
if later.height:
    st.warning("As of this time the store still held rows that `[retention]` has dropped since: "
               + "; ".join(f"{r['target_table']} before {r['expired_before']:%Y-%m-%d %H:%M}Z "
                           f"({r['expired_rows']:,} rows, expired {r['expired_at']:%Y-%m-%d})"
                           for r in later.iter_rows(named=True))
               + ". Answers on these pages lack them.")
if expiries.height:
    st.dataframe(expiries.drop("after_as_of"), hide_index=True, key="expiries", column_config={
        "expired_at": st.column_config.DatetimeColumn("Expired (UTC)"),
        "expired_before": st.column_config.DatetimeColumn("Nothing older than (UTC)"),
    })
    charts.download(expiries, "retention_expiries")
else:
    st.caption("Nothing was expired (`[retention]` in onepane.toml, applied by `onepane compact`).")
