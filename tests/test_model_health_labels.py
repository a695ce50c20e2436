"""Late labels: a window scored before its labels landed is recomputed when they land; the newest
value wins in stg_model_health while `as_of` still shows what was known before."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pandas as pd
import pytest
from sklearn import metrics as skm

from tests.model_health_helpers import DAY0, POS, build, config, health, run


def test_late_labels_recompute_the_window_and_as_of_keeps_the_past(tmp_path, shared):
    from metrics.store import Store

    data = build(shared, tmp_path, rows_ref=1500, rows_day=1200, days=2, shift_day=None)
    # day 1 is logged without labels; they arrive later in labels/*.csv keyed by id
    d1 = data["days"][1]
    d1.assign(**{"class": None}).to_parquet(tmp_path / "current" / "day-1.parquet", index=False)
    cfg = config(tmp_path, labels="labels/*.csv", sensitive=[])
    store = Store(tmp_path / "store.duckdb").ensure()

    assert run(store, cfg)[0].ok
    time.sleep(0.01)
    known_before = datetime.now(timezone.utc)
    time.sleep(0.01)
    day1 = pd.Timestamp(DAY0) + pd.Timedelta(days=1)
    before = health(store, window_start=day1)
    acc = before[before["metric"] == "accuracy"].iloc[0]
    assert acc["status"] == "insufficient_data" and pd.isna(acc["value"])
    cov = before[before["metric"] == "label_coverage"].iloc[0]
    assert cov["value"] == 0.0
    day0_loads = set(health(store, window_start=pd.Timestamp(DAY0))["_load_id"])

    (tmp_path / "labels").mkdir()
    d1[["id", "class"]].to_csv(tmp_path / "labels" / "day-1.csv", index=False)
    late = data["days"][0].iloc[:40].assign(ts=lambda f: f["ts"] + pd.Timedelta(days=1),
                                            id=lambda f: f["id"] + 5_000_000)
    late.to_parquet(tmp_path / "current" / "day-1-late.parquet", index=False)   # a late batch
    d1 = pd.concat([d1, late])
    res = run(store, cfg)
    assert res[0].ok and res[0].rows > 0

    after = health(store, window_start=day1)
    assert after[after["metric"] == "late_rows"]["value"].iloc[0] == 40
    assert after[after["metric"] == "row_count"]["value"].iloc[0] == len(d1)
    expected = skm.accuracy_score(d1["class"], d1["pred"])
    acc = after[after["metric"] == "accuracy"].iloc[0]
    assert acc["status"] == "ok" and acc["value"] == pytest.approx(expected, abs=1e-12)
    assert after[after["metric"] == "f1"]["value"].iloc[0] == pytest.approx(
        skm.f1_score(d1["class"], d1["pred"], pos_label=POS), abs=1e-12)
    assert after[after["metric"] == "label_coverage"]["value"].iloc[0] == 1.0
    # only the changed window was recomputed: day 0 keeps its load
    assert set(health(store, window_start=pd.Timestamp(DAY0))["_load_id"]) == day0_loads
    loads = store.query("SELECT details FROM _onepane_loads WHERE target_table = 'raw_model_health' "
                        "AND status = 'ok' ORDER BY finished_at")["details"].to_list()
    assert '"windows": 1' in loads[-1]

    # what was known before the labels landed
    past = health(store, as_of=known_before, window_start=day1)
    acc = past[past["metric"] == "accuracy"].iloc[0]
    assert acc["status"] == "insufficient_data" and pd.isna(acc["value"])
    # the raw table keeps both versions; the old one is superseded now, visible as of before
    n_now = store.query("SELECT count(*) n FROM raw_model_health WHERE metric = 'accuracy'")["n"][0]
    assert n_now == 2          # day 0 + the recomputed day 1


def test_conflicting_late_labels_are_an_error(tmp_path, shared):
    from metrics.store import Store

    data = build(shared, tmp_path, rows_ref=300, rows_day=200, days=1, shift_day=None)
    (tmp_path / "labels").mkdir()
    pd.DataFrame({"id": [5, 5], "class": [POS, "<=50K"]}).to_csv(tmp_path / "labels" / "a.csv", index=False)
    store = Store(tmp_path / "store.duckdb").ensure()
    res = run(store, config(tmp_path, labels="labels/*.csv"))
    assert not res[0].ok
    assert "labels/*.csv" in res[0].error and "'id'" in res[0].error and "conflicting labels" in res[0].error
