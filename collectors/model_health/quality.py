"""Model quality, calibration and fairness of one window, in plain numpy.

Only labelled rows count (labels arrive late; unlabelled rows are skipped and the coverage is
reported). An undefined metric (no positive predictions for precision, one class for ROC AUC, no
labelled rows at all) is recorded as `insufficient_data` with a reason, never as 0.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from collectors.model_health import INSUFFICIENT, OK, WARN, row


def positive_label(labels: Sequence[Any], configured: Any = None) -> Any:
    """The positive class: the configured one, else 1/True for 0/1 or boolean labels, else the
    largest class in sort order (e.g. '>50K' over '<=50K')."""
    if configured is not None:
        return configured
    values = sorted({v for v in labels if v is not None and v == v}, key=str)
    if not values:
        return None
    if set(values) <= {0, 1} or set(values) <= {False, True}:
        return True if isinstance(values[0], (bool, np.bool_)) else 1
    return values[-1]


def _same_type(series: pd.Series, like: Any) -> pd.Series:
    """Compare labels written as 1 / '1' / True consistently with the positive label."""
    if isinstance(like, str):
        return series.astype(str)
    return series


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula; ties get average ranks."""
    from scipy.stats import rankdata

    pos = y_true.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification(frame: pd.DataFrame, target: str, prediction: str | None,
                   proba: str | None = None, pos_label: Any = None) -> list[dict]:
    """accuracy, precision, recall, f1 (binary: of the positive class; multi-class: macro) and
    roc_auc (binary with a probability column), over the labelled rows."""
    labelled = frame[frame[target].notna()]
    n, n_all = len(labelled), len(frame)
    out = [row("label_coverage", n / n_all if n_all else None, sample_size=n_all,
               details={"labelled": n, "rows": n_all})]
    names = ["accuracy", "precision", "recall", "f1"] + (["roc_auc"] if proba else [])
    if n == 0:
        return out + [row(m, None, sample_size=0, details={"reason": "no labelled rows"}) for m in names]
    pos = positive_label(labelled[target].tolist() + ([] if prediction is None else
                                                      labelled[prediction].dropna().tolist()), pos_label)
    y = _same_type(labelled[target], pos)
    if prediction is not None:
        p = _same_type(labelled[prediction], pos)
    else:                                   # only a probability: predict the positive class at 0.5
        p = pd.Series(np.where(labelled[proba] >= 0.5, pos, None), index=labelled.index)
    classes = sorted(set(y.dropna()) | set(p.dropna()), key=str)
    details = {"positive_label": str(pos), "classes": [str(c) for c in classes], "labelled": n}
    yv, pv = y.to_numpy(object), p.to_numpy(object)
    out.append(row("accuracy", float(np.mean(yv == pv)), sample_size=n, details=details))

    def prf(cls) -> tuple[float | None, float | None, float | None]:
        tp = int(np.sum((pv == cls) & (yv == cls)))
        pp, ap = int(np.sum(pv == cls)), int(np.sum(yv == cls))
        prec = tp / pp if pp else None
        rec = tp / ap if ap else None
        f1 = (2 * prec * rec / (prec + rec) if prec is not None and rec is not None and prec + rec
              else (0.0 if prec is not None and rec is not None else None))
        return prec, rec, f1

    if len(classes) <= 2:
        prec, rec, f1 = prf(pos)
        reason = {"reason": "no positive predictions"} if prec is None else {}
        out.append(row("precision", prec, sample_size=n, details={**details, **reason}))
        reason = {"reason": "no positive labels"} if rec is None else {}
        out.append(row("recall", rec, sample_size=n, details={**details, **reason}))
        out.append(row("f1", f1, sample_size=n, details=details))
    else:                                   # macro average over classes with defined values
        per = [prf(c) for c in classes]
        for i, name in enumerate(("precision", "recall", "f1")):
            vals = [v[i] for v in per if v[i] is not None]
            out.append(row(name, float(np.mean(vals)) if vals else None, method="macro",
                           sample_size=n, details=details))
    if proba:
        ok = labelled[proba].notna()
        auc = roc_auc((y[ok] == pos).to_numpy(), labelled.loc[ok, proba].to_numpy(float))
        out.append(row("roc_auc", auc, sample_size=int(ok.sum()),
                       details=details if auc is not None else {**details, "reason": "one class only"}))
    return out


def regression(frame: pd.DataFrame, target: str, prediction: str) -> list[dict]:
    """mae, rmse and mape (over rows whose target is not 0; the excluded count is in details)."""
    labelled = frame[frame[target].notna() & frame[prediction].notna()]
    n, n_all = len(labelled), len(frame)
    out = [row("label_coverage", n / n_all if n_all else None, sample_size=n_all,
               details={"labelled": n, "rows": n_all})]
    if n == 0:
        return out + [row(m, None, sample_size=0, details={"reason": "no labelled rows"})
                      for m in ("mae", "rmse", "mape")]
    y = labelled[target].to_numpy(float)
    e = labelled[prediction].to_numpy(float) - y
    out.append(row("mae", float(np.mean(np.abs(e))), sample_size=n))
    out.append(row("rmse", float(np.sqrt(np.mean(e ** 2))), sample_size=n))
    nz = y != 0
    mape = float(np.mean(np.abs(e[nz]) / np.abs(y[nz]))) if nz.any() else None
    out.append(row("mape", mape, sample_size=int(nz.sum()),
                   details={"excluded_zero_targets": int((~nz).sum())}))
    return out


def calibration(frame: pd.DataFrame, target: str, proba: str, pos_label: Any = None,
                bins: int = 10) -> list[dict]:
    """Expected calibration error over `bins` equal-width bins of the predicted probability, plus
    one `reliability` row per non-empty bin: value = observed positive rate, details = bin bounds,
    mean predicted probability and count. Bins are half-open [lo, hi); the last includes 1."""
    labelled = frame[frame[target].notna() & frame[proba].notna()]
    n = len(labelled)
    if n == 0:
        return [row("ece", None, method=f"{bins} uniform bins", sample_size=0,
                    details={"reason": "no labelled rows with a probability"})]
    pos = positive_label(labelled[target].tolist(), pos_label)
    y = (_same_type(labelled[target], pos) == pos).to_numpy(float)
    p = labelled[proba].to_numpy(float)
    idx = np.clip(np.floor(p * bins).astype(int), 0, bins - 1)
    out, ece = [], 0.0
    for b in range(bins):
        m = idx == b
        k = int(m.sum())
        if not k:
            continue
        observed, predicted = float(y[m].mean()), float(p[m].mean())
        ece += k / n * abs(observed - predicted)
        lo, hi = b / bins, (b + 1) / bins
        out.append(row("reliability", observed, feature=f"[{lo:.2f},{hi:.2f})", sample_size=k,
                       details={"lo": lo, "hi": hi, "mean_predicted": predicted, "count": k}))
    return [row("ece", ece, method=f"{bins} uniform bins", sample_size=n)] + out


def fairness(frame: pd.DataFrame, sensitive: Sequence[str], prediction: str | None,
             target: str | None = None, proba: str | None = None, pos_label: Any = None,
             min_group_rows: int = 30, ratio_min: float = 0.8, tpr_gap_max: float = 0.1) -> list[dict]:
    """Per sensitive attribute: per group `selection_rate` (share predicted positive) and `tpr`
    (recall on labelled positives); across groups `selection_rate_ratio` (min/max, warn below
    `ratio_min`, the four-fifths rule) and `tpr_gap` (max-min, warn above `tpr_gap_max`).
    Groups smaller than `min_group_rows` are reported but left out of the gaps."""
    if prediction is None and proba is None:
        return [row("selection_rate_ratio", None, feature=a,
                    details={"reason": "no prediction column configured"}) for a in sensitive]
    pool = frame[prediction].dropna().tolist() if prediction else []
    if target:
        pool += frame[target].dropna().tolist()
    pos = positive_label(pool, pos_label) if pool else (pos_label if pos_label is not None else 1)
    if prediction:
        predicted_pos = (_same_type(frame[prediction], pos) == pos) & frame[prediction].notna()
    else:
        predicted_pos = frame[proba] >= 0.5
    actual_pos = ((_same_type(frame[target], pos) == pos) & frame[target].notna()) if target else None
    out: list[dict] = []
    for attr in sensitive:
        groups = frame[attr].astype("object").where(frame[attr].notna(), "(missing)")
        rates: dict[str, float] = {}
        tprs: dict[str, float] = {}
        small: list[str] = []
        for g in sorted(groups.unique(), key=str):
            m = (groups == g).to_numpy()
            k = int(m.sum())
            sel = float(predicted_pos[m].mean())
            out.append(row("selection_rate", sel, feature=f"{attr}={g}", sample_size=k))
            if k < min_group_rows:
                small.append(str(g))
            else:
                rates[str(g)] = sel
            if actual_pos is not None:
                ap = actual_pos.to_numpy() & m
                npos = int(ap.sum())
                tpr = float(predicted_pos.to_numpy()[ap].mean()) if npos else None
                out.append(row("tpr", tpr, feature=f"{attr}={g}", sample_size=npos))
                if tpr is not None and k >= min_group_rows:
                    tprs[str(g)] = tpr
        details = {"groups": rates, "excluded_small_groups": small, "positive_label": str(pos)}
        if len(rates) >= 2 and max(rates.values()) > 0:
            ratio = min(rates.values()) / max(rates.values())
            out.append(row("selection_rate_ratio", ratio, feature=attr, threshold=ratio_min,
                           status=WARN if ratio < ratio_min else OK, method="min/max",
                           sample_size=len(frame), details=details))
        else:
            out.append(row("selection_rate_ratio", None, feature=attr, threshold=ratio_min,
                           sample_size=len(frame),
                           details={**details, "reason": "needs two groups of enough rows "
                                                         "and a positive prediction"}))
        if target is not None:
            if len(tprs) >= 2:
                gap = max(tprs.values()) - min(tprs.values())
                out.append(row("tpr_gap", gap, feature=attr, threshold=tpr_gap_max,
                               status=WARN if gap > tpr_gap_max else OK, method="max-min",
                               sample_size=int(actual_pos.sum()), details={"groups": tprs}))
            else:
                out.append(row("tpr_gap", None, feature=attr, threshold=tpr_gap_max,
                               details={"groups": tprs, "reason": "needs labelled positives "
                                                                  "in two groups of enough rows"}))
    return out


def data_quality(rows: int, nulls: dict[str, int], latest: Any = None) -> list[dict]:
    """rows per window, null rate per feature and the latest event time (unix seconds), from
    counts over the whole window (computed in DuckDB, never on a sample)."""
    out = [row("row_count", float(rows), status=OK if rows else INSUFFICIENT, sample_size=rows)]
    for c, k in nulls.items():
        out.append(row("null_rate", k / rows if rows else None, feature=c, sample_size=rows,
                       status=(INSUFFICIENT if not rows else (WARN if k == rows else OK)),
                       details={"nulls": k}))
    if latest is not None and rows:
        latest = pd.Timestamp(latest)
        out.append(row("latest_event_at", latest.timestamp(), sample_size=rows,
                       details={"latest_event_at": latest.isoformat()}))
    return out
