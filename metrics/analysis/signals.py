"""Signals: the per-bucket time series that "what changed" compares, built from every layer.

A `Series` is one signal of one subject (e.g. `latency_p95_s` of `assistant-api`) as values per
time bucket, plus the way to aggregate a whole segment honestly (a p95 over a segment comes from the
summed histogram, a ratio from summed numerator / summed denominator, never a mean of bucket ratios).

Sources, each read by one SQL file in metrics/sql/analysis/:
  technical  stg_telemetry (wc_telemetry.sql): request rate, error rate, latency p50/p95 from the
             histogram, queue depth, fallback rate, tokens/request, GPU utilisation, power and
             GPU-seconds per request (Σ utilisation × seconds / requests).
  model      stg_model_health: whole-model metrics (drift_share, accuracy, ...) and per-feature drift.
  business   stg_kpis: each KPI per bucket, and the funnel rate action/denominator from config.
  cost       GPU-seconds × [pricing] gpu_hour per request (when a price is configured).

GPU series (DCGM) usually carry no service label. They belong to a service when their UUID or
Hostname is listed in the service's `gpus` config, or when no service lists GPUs and the service is
the only one with telemetry in the range (a single-service node, as in the H100 capture).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

from metrics.config import Settings
from metrics.store import Store

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[1] / "sql" / "analysis"

MIN_QUANTILE_COUNT = 10     # observations a bucket needs for its own latency quantile
REQUESTS = "inference_requests_total"
HIST = "inference_request_duration_seconds"
TOKENS = "inference_tokens_total"
FALLBACK = "inference_fallback_total"
QUEUE = "inference_queue_depth"
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
GPU_POWER = "DCGM_FI_DEV_POWER_USAGE"

# Roles: a `cause` moves first and others follow (load, input drift, data problems); a `symptom`
# follows; `cost` findings are reported on their own.
CAUSE, SYMPTOM = "cause", "symptom"
INPUT_DRIFT_METRICS = {"drift_share", "drift_score", "prediction_drift", "dataset_drift",
                       "share_of_drifted_columns"}
DATA_METRICS = {"null_rate", "missing_share", "missing_values_share"}


_INCLUDE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def sql(name: str) -> str:
    """An analysis query; `{other}` outside comments includes metrics/sql/analysis/other.sql as a
    parenthesised subquery (as metrics/queries.py does for page queries)."""
    lines = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8").splitlines()
    return "\n".join(line if line.lstrip().startswith("--") else
                     _INCLUDE.sub(lambda m: "(\n" + sql(m.group(1)) + "\n)", line) for line in lines)


@dataclass
class Series:
    kind: str                               # signal name, e.g. latency_p95_s
    layer: str                              # technical | model | business | cost | data
    subject: str                            # service, service/model_version, feature, source
    role: str                               # cause | symptom
    t: np.ndarray                           # bucket start, epoch seconds
    v: np.ndarray                           # value per bucket (nan = unknown)
    unit: str = ""
    agg: Callable[[np.ndarray], float] | None = None   # whole-segment value from a bucket mask
    load_sign: int = 0                      # +1 rises with request rate, -1 falls with it, 0 neither
    source_key: str = "telemetry"           # which input it comes from (for data-problem credit)
    better: str | None = None               # lower | higher
    ranked: bool = True                     # False: kept for a dedicated finding, not ranked alone
    min_points: int = 3                     # values needed on each side of a comparison
    gate: Callable[[np.ndarray], bool] | None = None   # must hold in the after segment to count

    @property
    def load_sensitive(self) -> bool:
        return self.load_sign != 0

    def value(self, mask: np.ndarray) -> float:
        mask = mask & np.isfinite(self.v)        # buckets without data are not zeros
        if not mask.any():
            return float("nan")
        if self.agg is not None:
            return self.agg(mask)
        x = self.v[mask]
        x = x[np.isfinite(x)]
        return float(x.mean()) if x.size else float("nan")


@dataclass
class Frame:
    """The query range split into buckets: bucket b covers [origin + b·step, origin + (b+1)·step)."""
    start: float
    end: float
    step: float
    t: np.ndarray = field(init=False)

    def __post_init__(self):
        n = max(1, int(np.ceil((self.end - self.start) / self.step)))
        self.t = self.start + self.step * np.arange(n)

    @property
    def n(self) -> int:
        return len(self.t)

    def mask(self, a: float, b: float) -> np.ndarray:
        """Buckets fully or mostly inside [a, b): a bucket counts where its midpoint falls."""
        mid = self.t + self.step / 2
        return (mid >= a) & (mid < b)

    def dense(self, b: pl.Series | np.ndarray, v: pl.Series | np.ndarray) -> np.ndarray:
        out = np.full(self.n, np.nan)
        b = np.asarray(b, dtype=np.int64)
        v = np.asarray(v, dtype=float)
        ok = (b >= 0) & (b < self.n)
        out[b[ok]] = v[ok]
        return out


def ts(x: datetime) -> float:
    return x.timestamp()


def dt(x: float) -> datetime:
    return datetime.fromtimestamp(x, tz=timezone.utc)


# ---- technical ---------------------------------------------------------------------------------
def _hist_quantile(q: float, les: np.ndarray, counts: np.ndarray) -> float:
    """Prometheus histogram_quantile: linear interpolation inside the bucket holding rank q·total."""
    total = counts[-1] if counts.size else 0.0
    if not np.isfinite(total) or total <= 0:
        return float("nan")
    rank = q * total
    i = int(np.searchsorted(counts, rank, side="left"))
    i = min(i, len(les) - 1)
    if np.isinf(les[i]):
        return float(les[i - 1]) if i > 0 else float("nan")
    lo_le = les[i - 1] if i > 0 else 0.0
    lo_c = counts[i - 1] if i > 0 else 0.0
    width = counts[i] - lo_c
    if width <= 0:
        return float(les[i])
    return float(lo_le + (les[i] - lo_le) * (rank - lo_c) / width)


def gpu_ownership(store: Store, config: Settings | None, service: str, start: float, end: float,
                  con=None) -> tuple[list[str], bool]:
    """The GPU ids listed for `service`, and whether unlabelled GPU series count as its own."""
    svc = config.service(service) if config else None
    gpus = list(svc.gpus) if svc else []
    if gpus or (config and any(s.gpus for s in config.services)):
        return gpus, False
    others = store.query(
        "SELECT count(DISTINCT service) AS n, bool_or(service = ?) AS mine FROM raw_telemetry "
        "WHERE service IS NOT NULL AND sampled_at >= ? AND sampled_at < ?",
        [service, dt(start), dt(end)], con=con)
    n, mine = others.row(0) if others.height else (0, False)
    return [], bool(mine) and n == 1


def technical(store: Store, config: Settings | None, service: str, fr: Frame,
              price_per_gpu_s: float | None = None, con=None,
              skip: tuple[float, float] | None = None) -> list[Series]:
    """Technical series; `skip` = [a, b) is not read (the days between a week-earlier reference and
    the analysed range), its buckets stay empty."""
    gpus, own = gpu_ownership(store, config, service, fr.start, fr.end, con)
    gap = skip or (fr.start, fr.start)
    df = store.query(sql("wc_telemetry"), {
        "service": service, "start": dt(fr.start), "end": dt(fr.end), "origin": fr.start,
        "bucket_s": fr.step, "gpus": gpus, "own_unlabelled": own,
        "gap_start": dt(gap[0]), "gap_end": dt(gap[1])}, con=con)
    if df.is_empty():
        return []
    out: list[Series] = []

    def by_b(frame: pl.DataFrame, col: str, how: str = "sum") -> np.ndarray:
        if frame.is_empty():
            return np.full(fr.n, np.nan)
        g = frame.group_by("b").agg(getattr(pl.col(col), how)().alias("x"))
        return fr.dense(g["b"], g["x"])

    req, has_req, req_series = _request_series(df, service, fr, by_b, per_version=False)
    out += req_series
    # per model version, when more than one served in the range (canaries, A/B, rollouts)
    rv = df.filter((pl.col("metric") == REQUESTS) & (pl.col("delta") > 0))["model_version"]
    versions = sorted(rv.drop_nulls().unique().to_list())
    if len(versions) > 1:
        for v in versions:
            out += _request_series(df.filter(pl.col("model_version") == v), f"{service}/{v}", fr, by_b,
                                   per_version=True)[2]
    queue = df.filter(pl.col("metric") == QUEUE)
    if not queue.is_empty():
        out.append(Series("queue_depth", "technical", service, SYMPTOM, fr.t, by_b(queue, "mean", "mean"),
                          "requests", load_sign=1, better="lower"))
    if has_req:
        req0 = np.nan_to_num(req)
        fb = df.filter(pl.col("metric") == FALLBACK)
        if not fb.is_empty():
            f = np.nan_to_num(by_b(fb, "delta"))
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(Series("fallback_rate", "technical", service, SYMPTOM, fr.t,
                                  np.where(req0 > 0, f / req0, np.nan), "share",
                                  agg=lambda m, f=f: _ratio(f[m].sum(), req0[m].sum()),
                                  load_sign=1, better="lower"))
        tok = df.filter(pl.col("metric") == TOKENS)
        if not tok.is_empty():
            k = np.nan_to_num(by_b(tok, "delta"))
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(Series("tokens_per_request", "technical", service, SYMPTOM, fr.t,
                                  np.where(req0 > 0, k / req0, np.nan), "tokens",
                                  agg=lambda m, k=k: _ratio(k[m].sum(), req0[m].sum())))
    util = df.filter(pl.col("metric") == GPU_UTIL)
    if not util.is_empty():
        per_b = util.group_by("b").agg(pl.col("mean").mean().alias("u"), pl.col("busy_s").sum(),
                                       pl.col("idle_s").sum(), pl.col("covered_s").sum())
        u = fr.dense(per_b["b"], per_b["u"])
        busy = np.nan_to_num(fr.dense(per_b["b"], per_b["busy_s"]))
        idle = np.nan_to_num(fr.dense(per_b["b"], per_b["idle_s"].fill_null(0)))
        covered = np.nan_to_num(fr.dense(per_b["b"], per_b["covered_s"]))
        out.append(Series("gpu_util_pct", "technical", service, SYMPTOM, fr.t, u, "%",
                          load_sign=1))
        idle_share = np.where(covered > 0, idle / np.where(covered > 0, covered, 1), np.nan)
        s = Series("gpu_idle_share", "cost", service, SYMPTOM, fr.t, idle_share, "share",
                   agg=lambda m: _ratio(idle[m].sum(), covered[m].sum()), load_sign=-1,
                   better="lower", ranked=False)
        s.idle_s, s.covered_s, s.gpus = idle, covered, sorted(set(util["gpu"].drop_nulls().to_list()))
        out.append(s)
        if has_req:
            req0 = np.nan_to_num(req)
            with np.errstate(invalid="ignore", divide="ignore"):
                gspr = np.where(req0 > 0, busy / np.where(req0 > 0, req0, 1), np.nan)
            out.append(Series("gpu_seconds_per_request", "technical", service, SYMPTOM, fr.t, gspr,
                              "GPU-s", agg=lambda m: _ratio(busy[m].sum(), req0[m].sum()),
                              better="lower"))
            if price_per_gpu_s is not None:
                out.append(Series("gpu_cost_per_request", "cost", service, SYMPTOM, fr.t,
                                  gspr * price_per_gpu_s, "money",
                                  agg=lambda m: _ratio(busy[m].sum(), req0[m].sum()) * price_per_gpu_s,
                                  better="lower"))
    power = df.filter(pl.col("metric") == GPU_POWER)
    if not power.is_empty():
        p = power.group_by(["b", "gpu"]).agg(pl.col("mean").mean()).group_by("b").agg(pl.col("mean").sum())
        out.append(Series("gpu_power_w", "technical", service, SYMPTOM, fr.t, fr.dense(p["b"], p["mean"]),
                          "W", load_sign=1))
    return out


def _request_series(df: pl.DataFrame, subject: str, fr: Frame, by_b, per_version: bool
                    ) -> tuple[np.ndarray, bool, list[Series]]:
    """Request rate, error rate and latency quantiles of one subject (service or service/version)."""
    out: list[Series] = []
    req_rows = df.filter(pl.col("metric") == REQUESTS)
    if req_rows.is_empty():
        req_rows = df.filter(pl.col("metric") == HIST + "_count")
    req = by_b(req_rows, "delta")
    has_req = bool(np.isfinite(req).any())
    if has_req:
        req0 = np.nan_to_num(req)
        # per version the request rate only says where traffic went (a rollout's definition, not
        # its effect): kept for the evidence tables, not ranked
        out.append(Series("request_rate", "technical", subject, SYMPTOM if per_version else CAUSE, fr.t,
                          req / fr.step, "req/s",
                          agg=lambda m, r=req0: float(r[m].sum() / (m.sum() * fr.step)),
                          ranked=not per_version))
        status = req_rows.filter(pl.col("status").is_not_null())
        if not status.is_empty():
            bad = status.filter(~pl.col("status").str.contains(r"^(2|3)\d\d$|^ok$|^success$"))
            err = np.nan_to_num(by_b(bad, "delta")) if not bad.is_empty() else np.zeros(fr.n)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(Series("error_rate", "technical", subject, SYMPTOM, fr.t,
                                  np.where(req0 > 0, err / np.where(req0 > 0, req0, 1), np.nan), "share",
                                  agg=lambda m, e=err, r=req0: _ratio(e[m].sum(), r[m].sum()),
                                  load_sign=1, better="lower"))
    hist = df.filter(pl.col("metric") == HIST + "_bucket")
    if not hist.is_empty():
        h = hist.with_columns(pl.col("le").cast(pl.Float64).alias("lef")).group_by(["b", "lef"]) \
            .agg(pl.col("delta").sum())
        les = np.array(sorted(h["lef"].unique().to_list()))
        mat = np.zeros((fr.n, len(les)))
        bi = h["b"].to_numpy()
        li = np.searchsorted(les, h["lef"].to_numpy())
        ok = (bi >= 0) & (bi < fr.n)
        np.add.at(mat, (bi[ok], li[ok]), np.nan_to_num(h["delta"].to_numpy()[ok]))
        for q, name in (((0.95, "latency_p95_s"),) if per_version else
                        ((0.5, "latency_p50_s"), (0.95, "latency_p95_s"))):
            # a bucket quantile needs enough requests to mean anything
            vals = np.full(fr.n, np.nan)
            for i in np.nonzero(mat[:, -1] >= MIN_QUANTILE_COUNT)[0]:
                vals[i] = _hist_quantile(q, les, mat[i])
            out.append(Series(name, "technical", subject, SYMPTOM, fr.t, vals, "s",
                              agg=lambda m, q=q, mat=mat, les=les: _hist_quantile(q, les, mat[m].sum(axis=0)),
                              load_sign=1, better="lower"))
    return req, has_req, out


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


# ---- model health ------------------------------------------------------------------------------
def model_health(store: Store, service: str, fr: Frame, con=None) -> list[Series]:
    df = store.query(sql("wc_model_health"), {"service": service, "start": dt(fr.start), "end": dt(fr.end),
                                              "origin": fr.start, "bucket_s": fr.step}, con=con)
    out: list[Series] = []
    if df.is_empty():
        return out
    # per-feature drift is the root cause; the whole-model drift share then only summarises it
    has_features = df.filter(pl.col("feature").is_not_null()
                             & pl.col("metric").is_in(list(INPUT_DRIFT_METRICS - {"prediction_drift"}))).height > 0
    for (metric, feature), g in df.group_by(["metric", "feature"], maintain_order=True):
        v = fr.dense(g["b"], g["value"])
        if feature is None:
            if metric in DATA_METRICS:
                layer, role = "data", CAUSE
            elif metric in INPUT_DRIFT_METRICS:
                layer, role = "model", (SYMPTOM if has_features else CAUSE)
            else:
                layer, role = "model", SYMPTOM
            kind, subject = metric, service
        elif metric == "prediction_drift":            # the output moving follows its inputs
            layer, role, kind, subject = "model", SYMPTOM, metric, service
        else:
            if metric not in DATA_METRICS and metric not in INPUT_DRIFT_METRICS:
                continue
            layer = "data" if metric in DATA_METRICS else "model"
            role, subject = CAUSE, str(feature)
            kind = metric if metric in DATA_METRICS else "drift"     # a feature's input drift
        better = "higher" if metric in {"accuracy", "f1", "auc", "roc_auc", "precision", "recall"} else None
        # reports come per window (a day, a week): one value a side is all there may be
        ser = Series(kind, layer, subject, role, fr.t, v, "", source_key="model_health", better=better,
                     min_points=1)
        if kind == "drift" and g["drifted"].is_not_null().any():
            # a feature only counts as drifted where its own drift test said so
            flag = np.zeros(fr.n, bool)
            d = g.filter(pl.col("drifted").fill_null(False))
            bi = d["b"].to_numpy()
            flag[bi[(bi >= 0) & (bi < fr.n)]] = True
            ser.gate = lambda m, flag=flag: bool(flag[m].any())
        out.append(ser)
    return out


# ---- business ----------------------------------------------------------------------------------
def business(store: Store, config: Settings | None, service: str, fr: Frame, con=None) -> list[Series]:
    df = store.query(sql("wc_kpis"), {"service": service, "start": dt(fr.start), "end": dt(fr.end),
                                      "origin": fr.start, "bucket_s": fr.step}, con=con)
    out: list[Series] = []
    if df.is_empty():
        return out
    sums: dict[str, np.ndarray] = {}
    for (kpi,), g in df.group_by(["kpi"], maintain_order=True):
        v = fr.dense(g["b"], g["value"])
        sums[kpi] = v
        out.append(Series(f"kpi:{kpi}", "business", service, SYMPTOM, fr.t, v, "",
                          agg=lambda m, v=v: float(np.nansum(v[m]) / max(m.sum(), 1)),
                          source_key="kpis", load_sign=1))
    svc = config.service(service) if config else None
    if svc and svc.funnel and svc.funnel.action in sums and svc.funnel.denominator in sums:
        a = np.nan_to_num(sums[svc.funnel.action])
        d = np.nan_to_num(sums[svc.funnel.denominator])
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(d > 0, a / np.where(d > 0, d, 1), np.nan)
        out.append(Series(f"rate:{svc.funnel.action}/{svc.funnel.denominator}", "business", service,
                          SYMPTOM, fr.t, rate, "share", agg=lambda m: _ratio(a[m].sum(), d[m].sum()),
                          source_key="kpis", better="higher"))
    return out


# ---- data ----------------------------------------------------------------------------------------
def coverage(store: Store, service: str, fr: Frame, lo: float, hi: float, con=None) -> list[Series]:
    """Rows delivered per bucket by each source of the service's data (0 where none came).

    Only a drop of instants counts (see what_changed): data that starts arriving is not a problem;
    only a rise of the arrival lag counts: history loaded in bulk makes recent rows look *less* late."""
    df = store.query(sql("wc_coverage"), {"service": service, "start": dt(fr.start), "end": dt(fr.end),
                                          "origin": fr.start, "bucket_s": fr.step}, con=con)
    out: list[Series] = []
    for (inp, src), g in df.group_by(["input", "source"], maintain_order=True):
        v = np.zeros(fr.n)
        b = g["b"].to_numpy()
        ok = (b >= 0) & (b < fr.n)
        v[b[ok]] = g["n"].to_numpy()[ok]
        # a source sampled less often than the buckets (10-minute KPIs in 2-minute buckets): each
        # bucket counts the instants of the trailing source interval, so "1 0 0 0 0 1" reads as steady
        filled = np.sort(b[ok])
        k = int(np.median(np.diff(filled))) if filled.size > 2 else 1
        if k > 1:
            v = np.convolve(v, np.ones(k), mode="full")[:fr.n]
        s = Series("data_rows", "data", src, CAUSE, fr.t, v, "instants/bucket", source_key=inp)
        s.last_at = max(g["last_at"].to_list())
        out.append(s)
        lag = np.full(fr.n, np.nan)
        lag[b[ok]] = g["lag_s"].to_numpy()[ok]
        late = Series("arrival_lag_s", "data", src, CAUSE, fr.t, lag, "s", source_key=inp)
        out.append(late)
        nulls = np.zeros(fr.n)
        nulls[b[ok]] = g["nulls"].to_numpy()[ok]
        if nulls.sum() > 0:
            n = np.zeros(fr.n)
            n[b[ok]] = g["rows"].to_numpy()[ok]
            out.append(Series("null_rate", "data", src, CAUSE, fr.t,
                              np.where(n > 0, nulls / np.where(n > 0, n, 1), np.nan), "share",
                              agg=lambda m, x=nulls, n=n: _ratio(x[m].sum(), n[m].sum()), source_key=inp))
    return out
