"""Drift with Evidently 0.7, and the parsers of Evidently's JSON shapes into result rows.

`run_drift` is the only place that imports evidently (inside the function: the import costs seconds
and ~280 MB, so nothing the app or CLI imports at start-up may pull it in). The parsers work on
plain JSON and understand three shapes:

- Evidently 0.7 `Snapshot.dict()` / `save_json()` / `json()`:
  `{"metrics": [{"id", "metric_name", "config", "value"}], "tests": [...]}`
- Evidently 0.7 full snapshot (`Snapshot.dumps()`, a workspace's snapshot file):
  `{"timestamp", "metadata", "metric_results": {id: {...}}, "top_level_metrics": [...]}`
- legacy 0.4-style `Report.json()` / `as_dict()`:
  `{"timestamp", "metrics": [{"metric": "DataDriftTable", "result": {"drift_by_columns": ...}}]}`
"""
from __future__ import annotations

import math

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from collectors.model_health import DRIFTED, OK, row

log = logging.getLogger(__name__)

# Evidently's stat tests: display name -> (our method name, True when the score is a p-value,
# i.e. drift means score below the threshold; False for distances, drift means score at/above it).
STATTESTS: dict[str, tuple[str, bool]] = {
    "Anderson-Darling": ("anderson", True),
    "chi-square p_value": ("chisquare", True),
    "Cramer-von Mises": ("cramer_von_mises", True),
    "Energy-distance": ("ed", False),
    "Epps-Singleton": ("es", True),
    "Fisher's Exact test": ("fisher_exact", True),
    "g_test": ("g_test", True),
    "Hellinger distance (normed)": ("hellinger", False),
    "Hellinger distance": ("hellinger", False),
    "Jensen-Shannon distance": ("jensenshannon", False),
    "Kullback-Leibler divergence": ("kl_div", False),
    "K-S p_value": ("ks", True),
    "Mann-Whitney U-rank test": ("mannw", True),
    "empirical_mmd": ("empirical_mmd", True),
    "PSI": ("psi", False),
    "t_test": ("t_test", True),
    "Total-Variation-Distance": ("TVD", True),
    "Wasserstein distance (normed)": ("wasserstein", False),
    "Z-test p_value": ("z", True),
}
_BY_NAME = {name: (name, p) for name, p in STATTESTS.values()}


def method_of(display: str | None) -> tuple[str | None, bool | None]:
    """(method name, is_p_value) for an Evidently stat test display or registry name."""
    if display is None:
        return None, None
    return STATTESTS.get(display) or _BY_NAME.get(display) or (display, None)


def is_drifted(score: float | None, threshold: float | None, method: str | None) -> bool | None:
    _, p_value = method_of(method)
    if score is None or threshold is None or p_value is None:
        return None
    return score < threshold if p_value else score >= threshold


@dataclass
class DriftResult:
    rows: list[dict] = field(default_factory=list)   # drift_score per column, drift_share, prediction_drift
    share: float | None = None
    snapshot: Any = None                              # the evidently Snapshot (for save_html)

    @property
    def columns(self) -> list[dict]:
        return [r for r in self.rows if r["metric"] in ("drift_score", "prediction_drift")]


# ---- running reports -------------------------------------------------------------------------
def column_kinds(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str],
                 where: str = "current") -> tuple[list[str], list[str]]:
    """Numerical and categorical columns; a column numeric on one side only is a schema mismatch."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    from metrics.errors import InputError

    num, cat = [], []
    for c in columns:
        kinds = {side: is_numeric_dtype(f[c]) and not is_bool_dtype(f[c])
                 for side, f in (("reference", reference), ("current", current))
                 if f[c].notna().any()}
        if len(set(kinds.values())) > 1:
            raise InputError(f"schema mismatch: reference is {reference[c].dtype}, current is "
                             f"{current[c].dtype}; make both numeric or both categorical",
                             file=where, column=c)
        (num if kinds and all(kinds.values()) else cat).append(c)
    return num, cat


def _plain(frame: pd.DataFrame, cat: Sequence[str]) -> pd.DataFrame:
    """Categoricals as plain objects (Evidently compares values, not pandas categories)."""
    out = frame.copy()
    for c in cat:
        if isinstance(out[c].dtype, pd.CategoricalDtype) or out[c].dtype == bool:
            out[c] = out[c].astype(object)
        out[c] = out[c].where(out[c].notna(), None)
    return out


def run_drift(reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str],
              prediction: str | None = None, *, drift_share: float = 0.5,
              method: str | None = None, threshold: float | None = None,
              where: str = "current") -> DriftResult:
    """Per-column drift of `features` (and of `prediction`, as `prediction_drift`) with
    Evidently's DataDriftPreset; a column that is all null on either side is recorded as
    `insufficient_data` and left out of the report."""
    sample = {"reference_rows": len(reference), "current_rows": len(current)}
    result = DriftResult()
    if len(reference) == 0 or len(current) == 0:
        empty = "reference" if len(reference) == 0 else "current"
        for c in list(features) + ([prediction] if prediction else []):
            result.rows.append(row("prediction_drift" if c == prediction else "drift_score", None,
                                   feature=c, sample_size=len(current),
                                   details={"reason": f"{empty} has no rows", **sample}))
        result.rows.append(row("drift_share", None, threshold=drift_share, sample_size=len(current),
                               details={"reason": f"{empty} has no rows", **sample}))
        return result
    usable, empty_cols = [], []
    for c in list(features) + ([prediction] if prediction else []):
        sides = [s for s, f in (("reference", reference), ("current", current)) if f[c].isna().all()]
        (empty_cols if sides else usable).append((c, sides))
    for c, sides in empty_cols:
        result.rows.append(row("prediction_drift" if c == prediction else "drift_score", None,
                               feature=c, sample_size=len(current),
                               details={"reason": f"all values null in {' and '.join(sides)}", **sample}))
    cols = [c for c, _ in usable]
    feats = [c for c in cols if c != prediction]
    if not feats:
        result.rows.append(row("drift_share", None, threshold=drift_share, sample_size=len(current),
                               details={"reason": "no feature with values on both sides", **sample}))
        return result

    num, cat = column_kinds(reference, current, cols, where)
    from evidently import DataDefinition, Dataset, Report          # slow import: only here
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
    ref = Dataset.from_pandas(_plain(reference[cols], cat), data_definition=definition)
    cur = Dataset.from_pandas(_plain(current[cols], cat), data_definition=definition)
    items: list = [DataDriftPreset(columns=feats, drift_share=drift_share, method=method,
                                   threshold=threshold)]
    if prediction in cols:
        items.append(ValueDrift(column=prediction, method=method, threshold=threshold))
    snapshot = Report(items, include_tests=True).run(cur, ref)
    parsed = rows_from_dict(snapshot.dict(), prediction=prediction)
    for r in parsed:
        r["sample_size"] = len(current)
        r["details"] = {**(r["details"] or {}), **sample}
    result.rows += parsed
    result.share = next((r["value"] for r in parsed if r["metric"] == "drift_share"), None)
    result.snapshot = snapshot
    if empty_cols:                 # the share counts only columns that could be compared
        for r in parsed:
            if r["metric"] == "drift_share":
                r["details"]["insufficient_columns"] = [c for c, _ in empty_cols]
    return result


# ---- parsing Evidently JSON --------------------------------------------------------------------
def _drift_row(column: str, score, method_display, threshold, drifted: bool | None,
               prediction: str | None, extra: dict | None = None) -> dict:
    method, _ = method_of(method_display)
    details = {"evidently_method": method_display, **(extra or {})}
    if score is not None and not math.isfinite(float(score)):
        # a NaN/inf p-value or distance is a failed check, never "ok" (whatever the report's test says)
        details["reason"] = f"non-finite drift score {score!r}: the check failed"
        return row("prediction_drift" if column == prediction else "drift_score", None,
                   feature=column, status=DRIFTED,
                   threshold=None if threshold is None else float(threshold), method=method,
                   details=details)
    if drifted is None:
        drifted = is_drifted(score, threshold, method_display)
    status = None if score is None else (DRIFTED if drifted else OK)   # no score: insufficient_data
    if drifted is None and score is not None:
        status = "unknown"
        details["reason"] = "drift direction of this method is unknown and the report has no test"
    return row("prediction_drift" if column == prediction else "drift_score",
               None if score is None else float(score), feature=column, status=status,
               threshold=None if threshold is None else float(threshold), method=method,
               details=details)


def _share_row(share, count, drift_share, extra: dict | None = None) -> dict:
    status = None if share is None else (DRIFTED if drift_share is not None and share >= drift_share else OK)
    return row("drift_share", share, threshold=drift_share, status=status, method="share of columns",
               details={"drifted_columns": count, **(extra or {})})


# Evidently quality metrics -> onepane metric names. Evidently gives MAPE in percent; onepane
# stores a fraction (like its own MAPE), so those values are divided by 100.
QUALITY_V07 = {"Accuracy": "accuracy", "Precision": "precision", "Recall": "recall",
               "F1Score": "f1", "RocAuc": "roc_auc", "MAE": "mae", "RMSE": "rmse", "MAPE": "mape"}
QUALITY_LEGACY = {"accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "f1",
                  "roc_auc": "roc_auc", "mean_abs_error": "mae", "rmse": "rmse",
                  "mean_abs_perc_error": "mape"}


def _quality_row(name: str, value, evidently_name: str) -> dict:
    value = _num(value)
    if name == "mape" and value is not None:
        value /= 100.0
    return row(name, value, method="evidently", details={"evidently_metric": evidently_name})


def rows_from_dict(report: dict, prediction: str | None = None) -> list[dict]:
    """Rows from Evidently 0.7 `Snapshot.dict()`: ValueDrift -> drift_score (or prediction_drift
    for the prediction column), DriftedColumnsCount -> drift_share, and the quality metrics of
    QUALITY_V07. A column's drifted status is the report's own test when present, else decided
    from the method's direction."""
    tests = {}
    for t in report.get("tests") or []:
        mid = (t.get("metric_config") or {}).get("metric_id")
        if mid and (t.get("bound_test") or {}).get("type", "").endswith("ValueDriftBoundTest"):
            tests[mid] = t.get("status")
    out: list[dict] = []
    for m in report.get("metrics") or []:
        cfg = m.get("config") or {}
        kind = str(cfg.get("type", "")).rsplit(":", 1)[-1]
        if kind == "ValueDrift":
            status = tests.get(m.get("id"))
            drifted = None if status is None else status == "FAIL"
            out.append(_drift_row(cfg["column"], _scalar(m.get("value")), cfg.get("method"),
                                  cfg.get("threshold"), drifted, prediction))
        elif kind == "DriftedColumnsCount":
            v = m.get("value") or {}
            out.append(_share_row(_num(v.get("share")), _num(v.get("count")), cfg.get("drift_share")))
        elif kind in QUALITY_V07:
            out.append(_quality_row(QUALITY_V07[kind], _scalar(m.get("value")), kind))
    return out


def _num(v) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def _scalar(v) -> float | None:
    """A number from a plain value, a {"value": x} result, or a {"mean": x, "std": s} result."""
    if isinstance(v, dict):
        v = v.get("value", v.get("mean"))
    return _num(v)


def dict_from_snapshot(snapshot: dict) -> dict:
    """A full 0.7 snapshot (`Snapshot.dumps()`) as the `Snapshot.dict()` shape."""
    metrics, tests = [], []
    results = snapshot.get("metric_results") or {}
    for mid in snapshot.get("top_level_metrics") or list(results):
        res = results.get(mid) or {}
        loc = (res.get("metric_value_location") or {}).get("metric") or {}
        value: Any = res.get("value")
        if "share" in res or "count" in res:
            value = {"count": _scalar(res.get("count")), "share": _scalar(res.get("share"))}
        elif value is None and "mean" in res:              # MeanStdValue (MAE, MAPE)
            value = {"mean": _scalar(res.get("mean"))}
        metrics.append({"id": loc.get("metric_id", mid), "config": loc.get("params") or {},
                        "value": value})
        tests += res.get("tests") or []
    return {"metrics": metrics, "tests": tests}


def rows_from_legacy(report: dict, prediction: str | None = None) -> list[dict]:
    """Rows from a legacy (0.4-style) report: DataDriftTable / DatasetDriftMetric /
    ColumnDriftMetric results and ClassificationQualityMetric / RegressionQualityMetric."""
    out: list[dict] = []
    seen: set[str] = set()
    share_done = False
    for m in report.get("metrics") or []:
        name, res = m.get("metric"), m.get("result") or {}
        if name == "DataDriftTable":
            for col, c in (res.get("drift_by_columns") or {}).items():
                if col in seen:
                    continue
                seen.add(col)
                out.append(_drift_row(c.get("column_name", col), _num(c.get("drift_score")),
                                      c.get("stattest_name"), _num(c.get("stattest_threshold")),
                                      c.get("drift_detected"), prediction,
                                      {"column_type": c.get("column_type")}))
        elif name == "ColumnDriftMetric":
            col = res.get("column_name")
            if col and col not in seen:
                seen.add(col)
                out.append(_drift_row(col, _num(res.get("drift_score")), res.get("stattest_name"),
                                      _num(res.get("stattest_threshold")), res.get("drift_detected"),
                                      prediction, {"column_type": res.get("column_type")}))
        elif name in ("ClassificationQualityMetric", "RegressionQualityMetric"):
            current = res.get("current") or {}
            out += [_quality_row(ours, current.get(theirs), f"{name}.{theirs}")
                    for theirs, ours in QUALITY_LEGACY.items() if theirs in current]
        if name in ("DatasetDriftMetric", "DataDriftTable") and not share_done and \
                "share_of_drifted_columns" in res:
            share_done = True
            out.append(_share_row(_num(res.get("share_of_drifted_columns")),
                                  _num(res.get("number_of_drifted_columns")), _num(res.get("drift_share")),
                                  {"dataset_drift": res.get("dataset_drift"),
                                   "number_of_columns": res.get("number_of_columns")}))
    return out


def detect_shape(doc: Any) -> str:
    """'snapshot' | 'dict' | 'legacy' | '' (unknown) for a parsed Evidently JSON document."""
    if not isinstance(doc, dict):
        return ""
    if "metric_results" in doc and "top_level_metrics" in doc:
        return "snapshot"
    metrics = doc.get("metrics")
    if isinstance(metrics, list) and metrics and isinstance(metrics[0], dict):
        if "result" in metrics[0] and "metric" in metrics[0]:
            return "legacy"
        if "config" in metrics[0]:
            return "dict"
    return ""


# ---- HTML reports --------------------------------------------------------------------------------
def save_report(snapshot: Any, path: Path, lib_dir: Path) -> Path:
    """Save the snapshot's HTML report without its 3.6 MB of embedded JavaScript and font: those are
    written once into `lib_dir` (named by Evidently version) and referenced by relative path, so a
    report is ~0.2 MB and still opens from disk. `metrics.model_health.report_html` inlines them
    again for the app. Falls back to the self-contained file if the template is not as expected."""
    import base64
    import os

    import evidently
    from evidently.legacy.utils.dashboard import STATIC_PATH

    lib_dir.mkdir(parents=True, exist_ok=True)
    lib_name, font_name = f"evidently.{evidently.__version__}.js", "material-ui-icons.woff2"
    for src, name in (("index.js", lib_name), (font_name, font_name)):
        dest = lib_dir / name
        if not dest.exists():
            tmp = lib_dir / f".{name}.{os.getpid()}.tmp"
            tmp.write_bytes((Path(STATIC_PATH) / src).read_bytes())
            os.replace(tmp, dest)
    html = snapshot.get_html_str(as_iframe=False)
    lib = (lib_dir / lib_name).read_text(encoding="utf-8")
    font = base64.b64encode((lib_dir / font_name).read_bytes()).decode()
    rel = Path(os.path.relpath(lib_dir, path.parent)).as_posix()
    slim = html.replace(f"<script>{lib}</script>", f'<script src="{rel}/{lib_name}"></script>', 1)
    slim = slim.replace(f"url(data:font/ttf;base64,{font})", f"url({rel}/{font_name})", 1)
    if len(slim) >= len(html) - len(lib):
        log.warning("could not slim the Evidently report; saving it self-contained path=%s", path)
        slim = html
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(slim, encoding="utf-8")
    return path
