"""Pure computations (no Evidently, no store): sampling, quality edge cases, regression metrics,
and that nothing the app imports pulls in evidently."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from collectors.model_health import quality
from collectors.model_health.sampling import sample
from tests.conftest import ROOT, cli_env
from tests.model_health_helpers import adults


def test_importing_the_app_and_collectors_does_not_import_evidently():
    code = ("import sys, pkgutil, importlib, app.cli, app.commands, collectors.evidently, "
            "collectors.model_health.quality, collectors.model_health.drift, metrics.model_health\n"
            "for m in pkgutil.iter_modules(app.commands.__path__):\n"
            "    importlib.import_module('app.commands.' + m.name)\n"
            "from collectors.registry import load_collectors; load_collectors()\n"
            "from app.cli import cli\n"
            "bad = sorted(m for m in sys.modules if m == 'evidently' or m.startswith('evidently.'))\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_sample_is_seeded_bounded_and_stratified(shared):
    df = adults(shared)
    a, b = sample(df, 2000, seed=3, stratify="class"), sample(df, 2000, seed=3, stratify="class")
    assert len(a) == 2000 and a.index.equals(b.index)
    assert not a.index.equals(sample(df, 2000, seed=4, stratify="class").index)
    full = df["class"].value_counts(normalize=True)
    got = a["class"].value_counts()
    for k, share in full.items():      # largest-remainder rounding: off by less than one row
        assert abs(got[k] - share * 2000) < 1
    assert sample(df.iloc[:50], 2000) is not None and len(sample(df.iloc[:50], 2000)) == 50
    with_missing = df.assign(label=df["class"].where(df.index % 3 != 0))   # a third unlabelled
    s = sample(with_missing, 900, seed=1, stratify="label")
    assert abs(s["label"].isna().sum() - with_missing["label"].isna().mean() * 900) < 1


def test_regression_metrics_match_scikit_learn(shared):
    from sklearn.linear_model import LinearRegression

    df = adults(shared).iloc[:8000]
    x, y = df[["age", "education-num"]], df["hours-per-week"].astype(float)
    frame = pd.DataFrame({"y": y, "p": LinearRegression().fit(x, y).predict(x)})
    frame.loc[frame.index[:500], "y"] = np.nan          # labels not arrived for some rows
    lab = frame.dropna()
    got = {r["metric"]: r for r in quality.regression(frame, "y", "p")}
    assert got["mae"]["value"] == pytest.approx(skm.mean_absolute_error(lab["y"], lab["p"]), rel=1e-12)
    assert got["rmse"]["value"] == pytest.approx(np.sqrt(skm.mean_squared_error(lab["y"], lab["p"])), rel=1e-12)
    assert got["mape"]["value"] == pytest.approx(
        skm.mean_absolute_percentage_error(lab["y"], lab["p"]), rel=1e-12)
    assert got["label_coverage"]["value"] == pytest.approx(7500 / 8000)
    assert got["mae"]["sample_size"] == 7500


def test_undefined_quality_is_insufficient_not_zero():
    frame = pd.DataFrame({"y": ["a", "b", "a", "b"], "p": ["a", "a", "a", "a"],
                          "s": [0.1, 0.2, 0.3, 0.4]})
    got = {r["metric"]: r for r in quality.classification(frame, "y", "p", "s", pos_label="b")}
    assert got["accuracy"]["value"] == 0.5
    assert got["precision"]["value"] is None and got["precision"]["status"] == "insufficient_data"
    assert got["precision"]["details"]["reason"] == "no positive predictions"
    assert got["recall"]["value"] == 0.0 and got["recall"]["status"] == "ok"
    one_class = pd.DataFrame({"y": ["a"] * 5, "p": ["a"] * 5, "s": [0.1] * 5})
    auc = [r for r in quality.classification(one_class, "y", "p", "s", pos_label="b") if r["metric"] == "roc_auc"][0]
    assert auc["value"] is None and auc["status"] == "insufficient_data"
    unlabelled = frame.assign(y=None)
    rows = quality.classification(unlabelled, "y", "p", "s")
    assert all(r["value"] is None and r["status"] == "insufficient_data"
               for r in rows if r["metric"] != "label_coverage")
    assert quality.calibration(unlabelled, "y", "s")[0]["status"] == "insufficient_data"


def test_multiclass_quality_is_macro_averaged(shared):
    df = adults(shared).iloc[:3000]
    y = df["race"]
    p = y.where(df.index % 4 != 0, "White")             # a quarter predicted as the majority
    got = {r["metric"]: r for r in quality.classification(pd.DataFrame({"y": y, "p": p}), "y", "p")}
    assert got["accuracy"]["value"] == pytest.approx(skm.accuracy_score(y, p))
    assert got["f1"]["value"] == pytest.approx(skm.f1_score(y, p, average="macro"))
    assert got["recall"]["value"] == pytest.approx(skm.recall_score(y, p, average="macro"))
    assert got["precision"]["value"] == pytest.approx(skm.precision_score(y, p, average="macro"))
    assert got["f1"]["method"] == "macro"


def test_roc_auc_with_ties_matches_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.uniform(size=500) * 0.5 + y * 0.3, 1)     # heavy ties
    assert quality.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_drift_direction_table_agrees_with_evidently_stat_tests():
    """For every Evidently stat test onepane knows, its own drifted flag equals onepane's rule
    (p-value below threshold, or distance at/above it), on a shifted and an unshifted sample."""
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests
    from evidently.legacy.core import ColumnType

    from collectors.model_health.drift import STATTESTS, is_drifted

    rng = np.random.default_rng(0)
    ref = pd.Series(rng.normal(0, 1, 400))
    checked = 0
    for display, (name, _) in STATTESTS.items():
        tests = _registered_stat_tests.get(name) or {}
        test = tests.get(ColumnType.Numerical)
        if test is None or test.display_name != display or name == "empirical_mmd":
            continue
        for shift in (0.0, 2.0):
            cur = pd.Series(rng.normal(shift, 1, 400))
            res = test(ref, cur, ColumnType.Numerical, None)
            assert is_drifted(res.drift_score, res.actual_threshold, display) == res.drifted, (name, shift)
        checked += 1
    assert checked >= 10
