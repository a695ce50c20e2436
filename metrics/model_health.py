"""Query functions for the app's model-health views: (store, ...) -> polars.DataFrame.

Each reads stg_model_health (newest value per window, metric and feature) through a named query in
metrics/sql/queries/; `as_of` shows what the store knew at that time (e.g. before late labels).
Trace: page -> these functions -> metrics/sql/queries/model_health_*.sql -> stg_model_health
-> raw_model_health -> collectors.evidently.
"""
from __future__ import annotations

import base64
import logging
import re
from datetime import datetime
from pathlib import Path

from metrics.errors import OnepaneError

log = logging.getLogger(__name__)

QUERIES = Path(__file__).parent / "sql" / "queries"
QUALITY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "mape",
                   "label_coverage")
FAIRNESS_METRICS = ("selection_rate_ratio", "tpr_gap", "selection_rate", "tpr")
DATA_QUALITY_METRICS = ("row_count", "null_rate", "latest_event_at", "late_rows")


def _sql(name: str) -> str:
    return (QUERIES / f"{name}.sql").read_text(encoding="utf-8")


def _params(service, model_version, start, end, **extra) -> dict:
    return {"service": service, "model_version": model_version, "start": start, "end": end, **extra}


def drift_heatmap(store, service: str | None = None, model_version: str | None = None,
                  start: datetime | None = None, end: datetime | None = None, as_of=None):
    """Per-feature drift, features x windows: service, model_version, window_start, window_end,
    feature, score, status, method, threshold, sample_size, report_path (relative to the lake)."""
    return store.query(_sql("model_health_drift"), _params(service, model_version, start, end),
                       as_of=as_of)


def series(store, metrics: tuple[str, ...] | list[str], service: str | None = None,
           model_version: str | None = None, start: datetime | None = None,
           end: datetime | None = None, as_of=None):
    """Time series of whole-model or per-feature metrics (drift_share, prediction_drift, quality,
    ece, fairness gaps, data quality): service, model_version, window_start, window_end, metric,
    feature, value, threshold, status, method, sample_size, computed_at, team."""
    return store.query(_sql("model_health_series"),
                       _params(service, model_version, start, end, metrics=list(metrics)), as_of=as_of)


def quality_series(store, service=None, model_version=None, start=None, end=None, as_of=None):
    return series(store, QUALITY_METRICS + ("ece",), service, model_version, start, end, as_of)


def fairness_series(store, service=None, model_version=None, start=None, end=None, as_of=None):
    return series(store, FAIRNESS_METRICS, service, model_version, start, end, as_of)


def data_quality_series(store, service=None, model_version=None, start=None, end=None, as_of=None):
    return series(store, DATA_QUALITY_METRICS, service, model_version, start, end, as_of)


def reliability_curve(store, service: str, window_start: datetime, model_version: str | None = None,
                      as_of=None):
    """The reliability diagram of one window: bin, lo, hi, mean_predicted, observed, count."""
    return store.query(_sql("model_health_reliability"),
                       {"service": service, "model_version": model_version,
                        "window_start": window_start}, as_of=as_of)


def report_links(store, service: str | None = None, model_version: str | None = None,
                 start=None, end=None, as_of=None):
    """One row per window with an Evidently HTML report: window, drift_share, status, report_path
    and report_file (absolute path, for the app to serve)."""
    df = store.query(_sql("model_health_reports"), _params(service, model_version, start, end),
                     as_of=as_of)
    import polars as pl

    return df.with_columns(pl.col("report_path").map_elements(
        lambda p: str(store.lake / p), return_dtype=pl.Utf8).alias("report_file"))


_SCRIPT_SRC = re.compile(r'<script src="([^"]+\.js)"></script>')
_FONT_URL = re.compile(r"url\(([^)]+\.woff2)\)")


def report_html(store, report_path: str) -> str:
    """A stored report as one self-contained HTML string (for st.components.v1.html): reports are
    saved with Evidently's JavaScript and font beside them (<lake>/_reports/js/), inlined here."""
    path = (store.lake / report_path).resolve()
    if store.lake.resolve() not in path.parents:
        raise OnepaneError(f"report path outside the store: {report_path}")
    html = path.read_text(encoding="utf-8")

    def script(m: re.Match) -> str:
        return "<script>" + (path.parent / m.group(1)).read_text(encoding="utf-8") + "</script>"

    def font(m: re.Match) -> str:
        data = base64.b64encode((path.parent / m.group(1)).read_bytes()).decode()
        return f"url(data:font/ttf;base64,{data})"

    return _FONT_URL.sub(font, _SCRIPT_SRC.sub(script, html, count=1), count=1)
