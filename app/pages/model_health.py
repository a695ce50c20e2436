"""Model health: the drift heatmap (features × time) per model version, quality and calibration over
time, fairness gaps, and the stored Evidently HTML reports."""
from datetime import datetime, time, timezone
from pathlib import Path

import polars as pl
import streamlit as st

from app import data, run_marker
from app.components import charts, filters

f = filters.current()
st.title("Model health")
rows = data.layer_rows(f.as_of)
if not rows.get("model_health"):
    charts.empty_state("model health results",
                       "Add a `[[source]] type = \"drift\"` with `reference` and `current` feature "
                       "batches to onepane.toml and run `onepane collect drift` (Evidently computes "
                       "drift, quality, calibration and fairness per window).")
    run_marker.stop()
start = datetime.combine(f.start, time(), tzinfo=timezone.utc)
end = datetime.combine(f.end, time(), tzinfo=timezone.utc)
known = data.services_known(f.as_of)
services = [s for s in known["service"].to_list() if s != "__unallocated__"]
pick = f.services[0] if len(f.services) == 1 and f.services[0] in services else None
drift_all = data.drift_heatmap(None, start, end, f.as_of)
with_drift = sorted(set(drift_all["service"].to_list())) if not isinstance(drift_all, data.Unavailable) else []
options = with_drift or services


def _pick():
    st.query_params["service"] = st.session_state["mh_service"]      # the URL keeps the service


st.session_state["mh_service"] = pick if pick in options else options[0]
service = st.selectbox("Service", options, key="mh_service", on_change=_pick)
events = data.events(start, end, (service,), f.as_of)

# ---- drift heatmap -----------------------------------------------------------------------
drift = data.drift_heatmap(service, start, end, f.as_of)
if isinstance(drift, data.Unavailable) or not drift.height:
    st.info(f"No per-feature drift scores for {service} in this window.")
else:
    versions = sorted(set(drift["model_version"].drop_nulls().to_list())) or [None]
    version = (st.radio("Model version", versions, horizontal=True, key="version", bind="query-params")
               if len(versions) > 1 else versions[0])
    part = drift.filter(pl.col("model_version") == version) if version else drift
    grid = part.pivot(on="window_start", index="feature", values="score", aggregate_function="max").sort("feature")
    windows = [c for c in grid.columns if c != "feature"]
    fig = charts.heatmap(grid.select(windows).to_numpy(), [str(w) for w in windows], grid["feature"].to_list(),
                         f"Drift score per feature and window — {service} {version or ''} "
                         f"(method {part['method'].drop_nulls().first() or 'n/a'})", "drift score", "feature",
                         hover="feature %{y}<br>window %{x}<br>drift score %{z:.4f}",
                         threshold=part["threshold"].drop_nulls().mode().sort().first()
                         if "threshold" in part.columns else None)
    charts.show(fig, part.drop("report_path"), f"drift_heatmap_{service}")

# ---- quality, calibration, fairness over time --------------------------------------------
for title, loader, name in (("Quality and calibration (ECE) per window", data.quality_series, "quality"),
                            ("Fairness per window", data.fairness_series, "fairness")):
    s = loader(service, start, end, f.as_of)
    if isinstance(s, data.Unavailable) or not s.height:
        st.caption(f"No {name} metrics for {service} in this window (they need labels / sensitive columns).")
        continue
    s = s.filter(pl.col("feature").is_null()) if "feature" in s.columns and s.filter(pl.col("feature").is_null()).height else s
    s = s.with_columns((pl.col("metric") + " " + pl.col("model_version").fill_null("")).alias("line"))
    fig = charts.lines(s.select("window_start", "line", "value"), "window_start", "value", "line",
                       f"{title} — {service} (ratio)", "value", events, hover_format=",.4f")
    charts.show(fig, s.select("window_start", "window_end", "model_version", "metric", "feature", "value",
                              "threshold", "status"), f"{name}_{service}")

# ---- Evidently reports -------------------------------------------------------------------
st.subheader("Evidently reports")
reports = data.report_links(service, start, end, f.as_of)
if isinstance(reports, data.Unavailable) or not reports.height:
    st.caption("No stored HTML reports for this service in this window.")
else:
    reports = reports.sort("window_start", descending=True)
    st.dataframe(reports.select("window_start", "model_version", "drift_share", "status", "report_path"),
                 hide_index=True, key="mh_reports")
    labels = [f"{r['window_start']:%Y-%m-%d %H:%M} · {r['model_version'] or ''} · {r['status']}"
              for r in reports.iter_rows(named=True)]
    i = st.selectbox("Report", range(len(labels)), format_func=labels.__getitem__, key="mh_report")
    path = Path(reports["report_file"][i])
    if path.exists():
        st.download_button("Open the Evidently report (HTML)", data=path.read_bytes, file_name=path.name,
                           mime="text/html", on_click="ignore", key="mh_report_dl")
    else:
        st.warning(f"The report file {reports['report_path'][i]} is missing from the store's lake folder.")
