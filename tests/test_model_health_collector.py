"""The `drift` collector end to end on the real Adult census data: a reference, two normal days and
one deliberately shifted day, scored by a scikit-learn model trained here. Expected values come from
scikit-learn and pandas, never from the code under test."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from tests.model_health_helpers import DAY0, POS, SHIFTED, build, config, health, run

FEATURES = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
            "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
            "hours-per-week", "native-country"]


@pytest.fixture(scope="module")
def world(tmp_path_factory, shared):
    from metrics.store import Store

    folder = tmp_path_factory.mktemp("drift")
    data = build(shared, folder)
    cfg = config(folder)
    store = Store(folder / "store.duckdb").ensure()
    results = run(store, cfg)
    assert [r.ok for r in results] == [True], results
    return {"folder": folder, "data": data, "cfg": cfg, "store": store, "results": results}


def day(n: int) -> pd.Timestamp:
    return pd.Timestamp(DAY0) + pd.Timedelta(days=n)


def test_exactly_the_shifted_columns_drift(world):
    h = health(world["store"], metric="drift_score")
    assert set(h["feature"]) == set(FEATURES)
    for d in range(3):
        w = h[h["window_start"] == day(d)]
        assert len(w) == len(FEATURES)
        flagged = set(w.loc[w["status"] == "drifted", "feature"])
        assert flagged == (SHIFTED if d == 2 else set()), (d, flagged)
        assert set(w["status"]) <= {"ok", "drifted"}
        assert w["method"].notna().all() and w["threshold"].notna().all()
    share = health(world["store"], metric="drift_share").set_index("window_start")
    assert share.loc[day(2), "value"] == pytest.approx(len(SHIFTED) / len(FEATURES))
    assert share.loc[day(0), "value"] == 0.0
    assert list(share["service"].unique()) == ["income"]
    assert list(share["model_version"].unique()) == ["v1"]
    assert list(share["team"].unique()) == ["risk"]
    assert (share["window_end"] - share.index == pd.Timedelta(days=1)).all()


def test_prediction_drift_and_html_report(world):
    p = health(world["store"], metric="prediction_drift")
    assert list(p["feature"].unique()) == ["pred"] and len(p) == 3
    assert set(p.loc[p["window_start"] < day(2), "status"]) == {"ok"}
    from evidently.legacy.utils.dashboard import STATIC_PATH

    from metrics.model_health import report_html

    lake = world["store"].lake
    lib = (Path(STATIC_PATH) / "index.js").read_text(encoding="utf-8")
    for path in health(world["store"], metric="drift_share")["report_path"]:
        f = lake / path
        text = f.read_text(encoding="utf-8")
        # the report holds its data; Evidently's 3.5 MB JavaScript is stored once beside it
        assert 10_000 < len(text) < 1_500_000 and "<html" in text[:2000].lower()
        assert lib not in text and '<script src="../../js/evidently.' in text
        assert (f.parent / "../../js").resolve().joinpath(f"evidently.{__import__('evidently').__version__}.js").exists()
        full = report_html(world["store"], path)                    # self-contained for the app
        assert f"<script>{lib}</script>" in full and "url(data:font/ttf;base64," in full
        assert len(full) > len(text) + len(lib)


def test_quality_matches_scikit_learn(world):
    h = health(world["store"])
    for d, frame in world["data"]["days"].items():
        w = h[h["window_start"] == day(d)].set_index(["metric", "feature"], drop=False)
        y, p = frame["class"], frame["pred"]
        expected = {
            "accuracy": skm.accuracy_score(y, p),
            "precision": skm.precision_score(y, p, pos_label=POS),
            "recall": skm.recall_score(y, p, pos_label=POS),
            "f1": skm.f1_score(y, p, pos_label=POS),
            "roc_auc": skm.roc_auc_score(y == POS, frame["score"]),
        }
        for m, v in expected.items():
            got = w[w["metric"] == m]
            assert len(got) == 1, m
            assert got["value"].iloc[0] == pytest.approx(v, abs=1e-12), (d, m)
            assert got["sample_size"].iloc[0] == len(frame)


def test_calibration_matches_scikit_learn(world):
    h = health(world["store"])
    frame = world["data"]["days"][0]
    y, s = (frame["class"] == POS).to_numpy(), frame["score"].to_numpy()
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    counts = np.bincount(np.minimum((s * 10).astype(int), 9), minlength=10)
    counts = counts[counts > 0]
    ece = float(np.sum(counts / len(s) * np.abs(prob_true - prob_pred)))
    w = h[h["window_start"] == day(0)]
    assert w.loc[w["metric"] == "ece", "value"].iloc[0] == pytest.approx(ece, abs=1e-12)
    curve = w[w["metric"] == "reliability"].sort_values("feature")
    assert curve["value"].to_numpy() == pytest.approx(prob_true, abs=1e-12)
    mean_pred = [json.loads(x)["mean_predicted"] for x in curve["details"]]
    assert mean_pred == pytest.approx(prob_pred, abs=1e-12)


def test_fairness_and_data_quality(world):
    h = health(world["store"])
    frame = world["data"]["days"][1]
    w = h[h["window_start"] == day(1)]
    rates = frame.groupby("sex")["pred"].apply(lambda p: (p == POS).mean())
    for g, r in rates.items():
        got = w[(w["metric"] == "selection_rate") & (w["feature"] == f"sex={g}")]["value"].iloc[0]
        assert got == pytest.approx(r)
    ratio = w[(w["metric"] == "selection_rate_ratio") & (w["feature"] == "sex")].iloc[0]
    assert ratio["value"] == pytest.approx(rates.min() / rates.max())
    assert ratio["status"] == ("warn" if rates.min() / rates.max() < 0.8 else "ok")
    pos = frame[frame["class"] == POS]
    tpr = pos.groupby("sex")["pred"].apply(lambda p: (p == POS).mean())
    gap = w[(w["metric"] == "tpr_gap") & (w["feature"] == "sex")]["value"].iloc[0]
    assert gap == pytest.approx(tpr.max() - tpr.min())
    # data quality: rows, null rate per feature, latest event time
    assert w[w["metric"] == "row_count"]["value"].iloc[0] == len(frame)
    nulls = w[(w["metric"] == "null_rate") & (w["feature"] == "workclass")]["value"].iloc[0]
    assert nulls == pytest.approx(frame["workclass"].isna().mean()) and nulls > 0
    latest = w[w["metric"] == "latest_event_at"]["value"].iloc[0]
    assert latest == pytest.approx(frame["ts"].max().timestamp())


def test_rerun_without_changes_writes_nothing(world):
    before = world["store"].query("SELECT count(*) AS n FROM raw_model_health")["n"][0]
    results = run(world["store"], world["cfg"])
    assert results[0].ok and results[0].rows == 0
    assert world["store"].query("SELECT count(*) AS n FROM raw_model_health")["n"][0] == before


def test_service_filter_and_window_option(world, tmp_path):
    from metrics.store import Store

    store = Store(tmp_path / "s.duckdb").ensure()
    cfg = config(world["folder"], "bounded.toml", max_window_rows=1000, sample_size=800)
    assert run(store, cfg, service="other")[0].rows == 0
    res = run(store, cfg, service="income", window="3d")
    assert res[0].ok and res[0].rows > 0
    share = health(store, metric="drift_share")
    # 3-day windows aligned to the unix epoch covering the three days
    assert (share["window_end"] - share["window_start"] == pd.Timedelta(days=3)).all()
    assert (share["sample_size"] <= 800).all()
    counts = health(store, metric="row_count")
    days = pd.concat(world["data"]["days"].values())
    assert counts["value"].sum() == len(days)                 # counts are exact, never sampled
    nulls = health(store, metric="null_rate", feature="workclass")
    assert (nulls["value"] * counts["value"].to_numpy()).sum() == pytest.approx(days["workclass"].isna().sum())
    acc = health(store, metric="accuracy")
    big = counts["value"].to_numpy() > 1000
    assert (acc["sample_size"].to_numpy()[big] == 1000).all()   # quality on a bounded sample
    for _, a in acc.iterrows():                                  # close to the full window's value
        w = days[(days["ts"] >= a["window_start"]) & (days["ts"] < a["window_end"])]
        assert abs(a["value"] - skm.accuracy_score(w["class"], w["pred"])) < 0.05


def test_query_functions_for_the_app(world):
    from metrics import model_health as mh

    store = world["store"]
    heat = mh.drift_heatmap(store, "income").to_pandas()
    assert len(heat) == 3 * len(FEATURES)
    pivot = heat.pivot(index="feature", columns="window_start", values="status")
    assert set(pivot.index[pivot[day(2)] == "drifted"]) == SHIFTED
    assert mh.drift_heatmap(store, "nobody").height == 0
    assert mh.drift_heatmap(store, "income", start=day(1), end=day(2)).to_pandas()["window_start"].unique().tolist() == [day(1)]

    acc = mh.quality_series(store, "income").to_pandas()
    acc = acc[acc["metric"] == "accuracy"].set_index("window_start")["value"]
    for d, frame in world["data"]["days"].items():
        assert acc[day(d)] == pytest.approx(skm.accuracy_score(frame["class"], frame["pred"]))

    curve = mh.reliability_curve(store, "income", day(0).to_pydatetime()).to_pandas()
    assert curve["count"].sum() == len(world["data"]["days"][0])
    assert list(curve["lo"]) == sorted(curve["lo"]) and (curve["hi"] - curve["lo"]).round(9).eq(0.1).all()

    fair = mh.fairness_series(store, "income").to_pandas()
    assert set(fair["metric"]) == {"selection_rate_ratio", "tpr_gap", "selection_rate", "tpr"}
    dq = mh.data_quality_series(store, "income").to_pandas()
    assert len(dq[dq["metric"] == "row_count"]) == 3

    links = mh.report_links(store, "income").to_pandas()
    assert len(links) == 3
    assert all(Path(f).exists() for f in links["report_file"])
    assert links.set_index("window_start").loc[day(2), "status"] == "ok"  # 3/14 < drift_share 0.5
    # nothing was known before the first load
    assert mh.drift_heatmap(store, "income", as_of="2000-01-01T00:00:00Z").height == 0


def test_cli_collect_drift_with_service_and_window(world, run_cli, tmp_path):
    db = tmp_path / "cli.duckdb"
    proc = run_cli("collect", "drift", "--service", "nobody", "--config", world["cfg"], "--db", db,
                   check=True)
    assert "adult-drift (drift): 0 rows, ok" in proc.stdout
    proc = run_cli("collect", "drift", "--service", "income", "--window", "12h",
                   "--from", "2024-03-02T12:00:00Z", "--to", "2024-03-03T00:00:00Z",
                   "--config", world["cfg"], "--db", db, check=True)
    assert "adult-drift (drift):" in proc.stdout and ", ok" in proc.stdout
    out = run_cli("sql", "select distinct window_start, epoch(window_end) - epoch(window_start) as w "
                  "from stg_model_health", "--format", "json", "--db", db, check=True).stdout
    assert json.loads(out) == [{"window_start": "2024-03-02T12:00:00+00:00", "w": 12 * 3600}]
    frame = world["data"]["days"][1]
    expected = int((frame["ts"] >= pd.Timestamp("2024-03-02T12:00:00Z")).sum())
    out = run_cli("sql", "select value from stg_model_health where metric = 'row_count'",
                  "--format", "json", "--db", db, check=True).stdout
    assert json.loads(out) == [{"value": expected}]


@pytest.mark.browser
def test_html_report_renders_in_chromium(world, artifacts):
    """The slimmed report (JavaScript beside it) opens from disk, and report_html()'s inlined copy
    renders too: the drift summary is on the page and no script failed."""
    from playwright.sync_api import sync_playwright

    from metrics.model_health import report_html, report_links

    links = report_links(world["store"], "income").to_pandas().set_index("window_start")
    path = links.loc[day(2), "report_path"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/lib/chromium/chromium")
        try:
            for how in ("file", "inline"):
                page, errors = browser.new_page(), []
                page.on("pageerror", lambda e: errors.append(str(e)))
                if how == "file":
                    page.goto((world["store"].lake / path).as_uri())
                else:
                    page.set_content(report_html(world["store"], path))
                page.get_by_text("Share of Drifted Columns").first.wait_for(timeout=30_000)
                body = page.inner_text("body")
                assert f"Drift is detected for {100 * 3 / 14:.3f}% of columns (3 out of 14)" in body
                assert not errors, errors
                page.screenshot(path=str(artifacts / f"model_health_report_{how}.png"))
                page.close()
        finally:
            browser.close()
