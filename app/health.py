"""The two health definitions the dashboard shows in more than one place, as pure functions over
frames (app/data.py feeds them; pages never compute either on their own):

- **freshness**: a layer of a service is *fresh* when the age of its newest data at the reference
  time is at most the service's `slo.freshness` (default 1 day); the event log is sparse, so it is
  never stale. Data health shows this table; the Overview's lights read the same rows.
- **lights**: technical (error rate vs `slo.error_rate`), model (newest drift share vs
  `slo.drift_share`, or a `drifted` status) and business (funnel rate vs the week before). A light
  whose layer has no rows for the service says "no data"; one whose feed is stale says "stale":
  a number computed from data that stopped arriving is never reported as "ok".
"""
from __future__ import annotations

from datetime import datetime

import polars as pl

from metrics.times import parse_duration

DEFAULT_FRESHNESS_SLO = "1d"
DEFAULT_ERROR_RATE_SLO = 0.01      # when a service sets no slo.error_rate
DEFAULT_DRIFT_SHARE_SLO = 0.5      # when a service sets no slo.drift_share
KPI_WARN, KPI_BREACH = 0.01, 0.05  # relative drop of the funnel rate week over week

# which freshness layers feed which light (technical: telemetry or request logs, the fresher wins)
LIGHT_LAYERS = {"technical": ("telemetry", "requests"), "model": ("model_health",), "business": ("kpis",)}
STATES = ("ok", "warn", "breach", "stale", "no data")


def freshness_status(fresh: pl.DataFrame, slo: dict[str, str], reference: datetime) -> pl.DataFrame:
    """Add freshness_slo, age_hours and status (fresh | stale | n/a ...) to the `freshness` query's
    rows (layer, service, newest_data_at, rows, late_rows), judged at `reference`."""
    if not fresh.height:
        return fresh.with_columns(pl.lit(None, pl.Utf8).alias("freshness_slo"),
                                  pl.lit(None, pl.Float64).alias("age_hours"),
                                  pl.lit(None, pl.Utf8).alias("status"))
    return fresh.with_columns(
        pl.col("service").replace_strict(slo, default=DEFAULT_FRESHNESS_SLO).alias("freshness_slo"),
        ((pl.lit(reference) - pl.col("newest_data_at")).dt.total_seconds() / 3600).alias("age_hours"),
    ).with_columns(
        pl.col("freshness_slo").map_elements(lambda s: parse_duration(s).total_seconds() / 3600,
                                             return_dtype=pl.Float64).alias("slo_hours"),
    ).with_columns(
        pl.when(pl.col("layer") == "events").then(pl.lit("n/a (events are sparse)"))
        .when(pl.col("age_hours") <= pl.col("slo_hours")).then(pl.lit("fresh"))
        .otherwise(pl.lit("stale")).alias("status"),
    ).drop("slo_hours")


def _light(value, warn, breach, higher_is_bad: bool = True) -> str:
    if value is None:
        return "no data"
    bad = (value > breach) if higher_is_bad else (value < breach)
    meh = (value > warn) if higher_is_bad else (value < warn)
    return "breach" if bad else ("warn" if meh else "ok")


def _feed(status: pl.DataFrame, service: str, layers: tuple[str, ...]) -> tuple[str, float | None]:
    """("fresh" | "stale" | "no data", age in hours of the freshest of the layers)."""
    rows = status.filter((pl.col("service") == service) & pl.col("layer").is_in(list(layers))
                         & (pl.col("rows") > 0)) if status.height else status
    if not rows.height:
        return "no data", None
    age = rows["age_hours"].min()
    return ("fresh" if (rows["status"] == "fresh").any() else "stale"), age


LIGHT_SCHEMA = {"service": pl.Utf8, "technical": pl.Utf8, "error_rate": pl.Float64,
                "error_rate_slo": pl.Float64, "model": pl.Utf8, "drift_share": pl.Float64,
                "drift_share_slo": pl.Float64, "business": pl.Utf8, "funnel_rate_change": pl.Float64,
                "technical_age_hours": pl.Float64, "model_age_hours": pl.Float64,
                "business_age_hours": pl.Float64}


def lights(health: pl.DataFrame, status: pl.DataFrame) -> pl.DataFrame:
    """Per service of the `service_health` query: the three lights (one of STATES), the numbers
    behind them and the age of each light's feed; `status` is freshness_status()'s frame."""
    rows = []
    for r in health.iter_rows(named=True):
        slo_err = r["slo_error_rate"] or DEFAULT_ERROR_RATE_SLO
        slo_drift = r["slo_drift_share"] or DEFAULT_DRIFT_SHARE_SLO
        change = (r["funnel_rate"] / r["funnel_prev_rate"] - 1
                  if r["funnel_rate"] is not None and r["funnel_prev_rate"] else None)
        model = _light(r["drift_share"], slo_drift / 2, slo_drift)
        if r["drift_status"] == "drifted":
            model = "breach"
        row = {"service": r["service"],
               "technical": _light(r["error_rate"], slo_err / 2, slo_err),
               "error_rate": r["error_rate"], "error_rate_slo": slo_err,
               "model": model, "drift_share": r["drift_share"], "drift_share_slo": slo_drift,
               "business": _light(change, -KPI_WARN, -KPI_BREACH, higher_is_bad=False),
               "funnel_rate_change": change}
        for light, layers in LIGHT_LAYERS.items():
            feed, age = _feed(status, r["service"], layers)
            row[f"{light}_age_hours"] = age
            if feed == "no data" and row[light] != "no data" and status.height:
                row[light] = "no data"
            elif feed == "stale":
                row[light] = "stale"      # a number from a feed that stopped is not a health verdict
        rows.append(row)
    return pl.DataFrame(rows, schema=LIGHT_SCHEMA)
