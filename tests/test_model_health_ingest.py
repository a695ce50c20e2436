"""Importing existing Evidently reports (0.7 Snapshot.dict()/save_json, 0.7 full snapshot, legacy
0.4-style JSON) and the ad-hoc `onepane drift compare`. Reports are made here with the real
Evidently on the Adult data, current shifted in exactly SHIFTED columns."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.model_health_helpers import SHIFTED, adults, shift

COLS = ["age", "fnlwgt", "education-num", "hours-per-week", "race", "sex", "workclass"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory, shared):
    from evidently import Report
    from evidently.legacy.metric_preset import DataDriftPreset as LegacyDataDriftPreset
    from evidently.legacy.report import Report as LegacyReport
    from evidently.presets import DataDriftPreset

    folder = tmp_path_factory.mktemp("reports")
    df = adults(shared)[COLS].sample(6000, random_state=11)
    ref, cur = df.iloc[:3000], shift(df.iloc[3000:])
    ref.to_parquet(folder / "ref.parquet", index=False)
    cur.to_csv(folder / "cur.csv", index=False)
    ts = pd.Timestamp("2024-05-02T13:00:00").to_pydatetime()
    snap = Report([DataDriftPreset()], include_tests=True,
                  metadata={"service": "income", "model_version": "v7"}).run(cur, ref, timestamp=ts)
    snap.save_json(str(folder / "dict.json"))
    (folder / "snapshot.json").write_text(snap.dumps())
    Report([DataDriftPreset()]).run(cur, ref).save_json(str(folder / "no_tests.json"))
    legacy = LegacyReport(metrics=[LegacyDataDriftPreset()])
    legacy.run(reference_data=ref, current_data=cur)
    legacy.save_json(str(folder / "legacy.json"))
    return folder


def drift(store, **where):
    cond = " AND ".join(f"{k} = ?" for k in where) or "true"
    return store.query(f"SELECT * FROM stg_model_health WHERE {cond}", list(where.values())).to_pandas()


@pytest.mark.parametrize("name, kwargs", [
    ("dict.json", {"service": "income", "at": "2024-05-02T13:00:00Z"}),
    ("no_tests.json", {"service": "income", "at": "2024-05-02T13:00:00Z"}),
    ("snapshot.json", {}),                        # service, version and time from the snapshot
    ("legacy.json", {"service": "income"}),       # time from the legacy report's timestamp
])
def test_ingest_each_shape_flags_the_shifted_columns(store, reports, name, kwargs):
    from collectors.evidently import ingest_evidently

    out = ingest_evidently(store, [reports / name], **kwargs)
    assert out[0]["rows"] == len(COLS) + 1 and not out[0]["skipped"]
    h = drift(store, service="income")
    cols = h[h["metric"] == "drift_score"]
    assert set(cols["feature"]) == set(COLS)
    assert set(cols.loc[cols["status"] == "drifted", "feature"]) == SHIFTED
    assert set(cols.loc[cols["status"] != "drifted", "status"]) == {"ok"}
    assert cols["method"].isin(["wasserstein", "jensenshannon"]).all() and cols["threshold"].notna().all()
    share = h[h["metric"] == "drift_share"].iloc[0]
    assert share["value"] == pytest.approx(len(SHIFTED) / len(COLS))
    if name != "legacy.json":
        assert share["window_start"] == pd.Timestamp("2024-05-02", tz="UTC")
        assert share["window_end"] == pd.Timestamp("2024-05-03", tz="UTC")
    if name == "snapshot.json":
        assert share["model_version"] == "v7"
    # the same scores as the report file says (legacy: drift_by_columns)
    doc = json.loads((reports / name).read_text())
    if name == "legacy.json":
        table = next(m for m in doc["metrics"] if m["metric"] == "DataDriftTable")["result"]["drift_by_columns"]
        for _, r in cols.iterrows():
            assert r["value"] == table[r["feature"]]["drift_score"]


def test_reingest_is_a_no_op_and_bad_files_are_clear(store, reports, tmp_path):
    from collectors.evidently import ingest_evidently
    from metrics.errors import InputError

    ingest_evidently(store, [reports / "dict.json"], service="income", at="2024-05-02T00:00:00Z")
    n = store.query("SELECT count(*) n FROM raw_model_health")["n"][0]
    again = ingest_evidently(store, [reports / "dict.json"], service="income", at="2024-05-02T00:00:00Z")
    assert again[0]["skipped"] and store.query("SELECT count(*) n FROM raw_model_health")["n"][0] == n

    with pytest.raises(InputError, match="no timestamp: pass --at"):
        ingest_evidently(store, [reports / "dict.json"], service="income")
    with pytest.raises(InputError, match="no service"):
        ingest_evidently(store, [reports / "dict.json"], at="2024-05-02T00:00:00Z")
    bad = tmp_path / "bad.json"
    bad.write_text('{"metrics": [\n  {"config": }\n]}')
    with pytest.raises(InputError, match=r"bad\.json, line 2: not JSON"):
        ingest_evidently(store, [bad], service="s", at="2024-05-02T00:00:00Z")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"rows": [1, 2]}))
    with pytest.raises(InputError, match="not an Evidently report"):
        ingest_evidently(store, [other], service="s", at="2024-05-02T00:00:00Z")


def test_cli_ingest_and_drift_compare(run_cli, reports, tmp_path):
    proc = run_cli("ingest", "evidently", reports / "dict.json", "--service", "income",
                   "--at", "2024-05-02T13:00:00Z", "--db", tmp_path / "cli.duckdb", check=True)
    assert "8 rows (dict)" in proc.stdout
    proc = run_cli("sql", "select feature from stg_model_health where status = 'drifted' order by 1",
                   "--format", "json", "--db", tmp_path / "cli.duckdb", check=True)
    assert {r["feature"] for r in json.loads(proc.stdout)} == SHIFTED

    html = tmp_path / "compare.html"
    proc = run_cli("drift", "compare", "--reference", reports / "ref.parquet", "--current",
                   reports / "cur.csv", "--format", "json", "--html", html, check=True)
    out = json.loads(proc.stdout)
    assert set(out) >= {"drift_share", "columns"}
    assert out["drift_share"] == pytest.approx(len(SHIFTED) / len(COLS))
    assert {c["column"] for c in out["columns"] if c["drifted"]} == SHIFTED
    for c in out["columns"]:
        assert set(c) >= {"column", "drifted", "score", "method", "threshold"}
        assert isinstance(c["drifted"], bool) and c["score"] is not None
        assert (c["score"] >= c["threshold"]) == c["drifted"]     # distances: drift at/above
    assert html.exists() and html.stat().st_size > 10_000

    other = tmp_path / "other.csv"
    pd.DataFrame({"age": [1, 2, 3]}).to_csv(other, index=False)
    proc = run_cli("drift", "compare", "--reference", reports / "ref.parquet", "--current", other)
    assert proc.returncode == 1
    assert "other.csv" in proc.stderr and "missing from current" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ingest_quality_reports_matches_scikit_learn(store, shared, tmp_path):
    """Teams' existing ClassificationPreset / RegressionPreset history (0.7 and legacy) lands as
    quality rows equal to scikit-learn's values on the same data (Evidently's MAPE % -> fraction)."""
    import numpy as np
    from evidently import BinaryClassification, DataDefinition, Dataset, Regression, Report
    from evidently.legacy.metrics import ClassificationQualityMetric
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report as LegacyReport
    from evidently.presets import ClassificationPreset, RegressionPreset
    from sklearn import metrics as skm

    from collectors.evidently import ingest_evidently

    df = adults(shared).sample(2000, random_state=3)
    df["target"] = (df["class"] == ">50K").astype(int)
    df["proba"] = np.clip(df["education-num"] / 16 + np.random.default_rng(0).normal(0, .2, len(df)), 0, 1)
    cls = Dataset.from_pandas(df[["target", "proba"]], data_definition=DataDefinition(
        classification=[BinaryClassification(target="target", prediction_probas="proba")]))
    snap = Report([ClassificationPreset()]).run(cls, None)
    snap.save_json(str(tmp_path / "cls.json"))
    (tmp_path / "cls_snapshot.json").write_text(snap.dumps())
    reg = Dataset.from_pandas(df[["hours-per-week", "age"]].astype(float), data_definition=DataDefinition(
        regression=[Regression(target="hours-per-week", prediction="age")]))
    Report([RegressionPreset()]).run(reg, None).save_json(str(tmp_path / "reg.json"))
    legacy = LegacyReport(metrics=[ClassificationQualityMetric()])
    legacy.run(reference_data=None, current_data=df[["target", "proba"]],
               column_mapping=ColumnMapping(target="target", prediction="proba"))
    legacy.save_json(str(tmp_path / "cls_legacy.json"))

    pred = (df["proba"] >= 0.5).astype(int)
    expected = {"accuracy": skm.accuracy_score(df["target"], pred),
                "precision": skm.precision_score(df["target"], pred),
                "recall": skm.recall_score(df["target"], pred),
                "f1": skm.f1_score(df["target"], pred),
                "roc_auc": skm.roc_auc_score(df["target"], df["proba"])}
    for i, name in enumerate(("cls.json", "cls_snapshot.json", "cls_legacy.json")):
        svc = f"s{i}"
        ingest_evidently(store, [tmp_path / name], service=svc, at="2024-05-02T00:00:00Z")
        got = dict(store.query("SELECT metric, value FROM stg_model_health WHERE service = ?", [svc]).iter_rows())
        for m, v in expected.items():
            assert got[m] == pytest.approx(v, abs=1e-9), (name, m)
    ingest_evidently(store, [tmp_path / "reg.json"], service="reg", at="2024-05-02T00:00:00Z")
    got = dict(store.query("SELECT metric, value FROM stg_model_health WHERE service = 'reg'").iter_rows())
    y, p = df["hours-per-week"], df["age"]
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p))
