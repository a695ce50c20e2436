"""Malformed inputs give a clear error naming file and column, or a recorded insufficient_data
status: never a crash and never a silent zero."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.model_health_helpers import DAY0, build, config, health, run


@pytest.fixture
def world(tmp_path, shared):
    from metrics.store import Store

    data = build(shared, tmp_path, rows_ref=1500, rows_day=800, days=3, shift_day=None)
    return tmp_path, data, Store(tmp_path / "store.duckdb").ensure()


def failed(store, cfg, **options) -> str:
    res = run(store, cfg, **options)
    assert not res[0].ok
    assert store.query("SELECT count(*) n FROM raw_model_health")["n"][0] == 0   # nothing half-written
    err = store.query("SELECT error FROM _onepane_loads WHERE status = 'failed'")["error"].to_list()
    assert err and err[-1] == res[0].error                                     # recorded in the run log
    return res[0].error


def test_missing_column_names_file_and_column(world):
    folder, _, store = world
    err = failed(store, config(folder, prediction_column="predicted_label"))
    assert "current/*.parquet" in err and "'predicted_label'" in err and "column not found" in err


def test_column_missing_from_reference(world):
    folder, data, store = world
    data["reference"].drop(columns=["fnlwgt"]).to_parquet(folder / "reference.parquet", index=False)
    err = failed(store, config(folder))
    assert "reference.parquet" in err and "'fnlwgt'" in err and "missing from reference" in err


def test_mismatched_schema_between_reference_and_current(world):
    folder, data, store = world
    ref = data["reference"].copy()
    ref["age"] = "age " + ref["age"].astype(str)
    ref.to_parquet(folder / "reference.parquet", index=False)
    err = failed(store, config(folder))
    assert "schema mismatch" in err and "'age'" in err


def test_empty_current_and_no_files(world):
    folder, data, store = world
    for f in (folder / "current").glob("*.parquet"):
        f.unlink()
    data["days"][0].iloc[:0].to_parquet(folder / "current" / "empty.parquet", index=False)
    assert "current has no rows" in failed(store, config(folder))
    err = failed(store, config(folder, current="nowhere/*.parquet"))
    assert "nowhere/*.parquet" in err and "no Parquet/CSV files found" in err


def test_bad_timestamps_are_an_error(world):
    folder, data, store = world
    day = data["days"][0].copy()
    day["ts"] = day["ts"].astype(object)
    day.loc[day.index[:3], "ts"] = None
    day.to_parquet(folder / "current" / "day-0.parquet", index=False)
    err = failed(store, config(folder))
    assert "3 row(s) have no timestamp" in err and "'ts'" in err


def test_empty_window_and_all_null_column_are_recorded_as_insufficient(world):
    folder, data, store = world
    (folder / "current" / "day-1.parquet").unlink()                    # a day with no traffic
    d0 = data["days"][0].copy()
    d0["occupation"] = None                                            # a feature lost upstream
    d0.to_parquet(folder / "current" / "day-0.parquet", index=False)
    assert run(store, config(folder, sensitive=[]))[0].ok
    h = health(store)
    day = lambda n: h[h["window_start"] == pd.Timestamp(DAY0) + pd.Timedelta(days=n)]  # noqa: E731

    empty = day(1)
    assert empty[empty["metric"] == "row_count"]["value"].iloc[0] == 0
    share = empty[empty["metric"] == "drift_share"].iloc[0]
    assert share["status"] == "insufficient_data" and pd.isna(share["value"])
    assert "fewer than min_rows" in json.loads(share["details"])["reason"]
    acc = empty[empty["metric"] == "accuracy"].iloc[0]
    assert acc["status"] == "insufficient_data" and pd.isna(acc["value"])

    d = day(0)
    occ = d[(d["metric"] == "drift_score") & (d["feature"] == "occupation")].iloc[0]
    assert occ["status"] == "insufficient_data" and pd.isna(occ["value"])
    assert "all values null in current" in json.loads(occ["details"])["reason"]
    nr = d[(d["metric"] == "null_rate") & (d["feature"] == "occupation")].iloc[0]
    assert nr["value"] == 1.0 and nr["status"] == "warn"
    others = d[(d["metric"] == "drift_score") & (d["feature"] != "occupation")]
    assert len(others) == 13 and set(others["status"]) == {"ok"} and others["value"].notna().all()
    assert d[d["metric"] == "drift_share"]["value"].iloc[0] == 0.0
    assert day(2)[day(2)["metric"] == "drift_share"]["status"].iloc[0] == "ok"


def test_bad_settings_are_config_errors(tmp_path):
    from collectors.registry import source_settings
    from metrics.config import parse_settings
    from metrics.errors import ConfigError

    cfg = parse_settings({"source": [{"name": "d", "type": "drift", "service": "s", "reference": "r",
                                      "current": "c", "window": "soon"}]}, "onepane.toml")
    with pytest.raises(ConfigError, match=r"source\[0\]\.window"):
        source_settings(cfg.source[0], 0, cfg.path)
    cfg = parse_settings({"source": [{"name": "d", "type": "drift", "service": "s", "reference": "r",
                                      "current": "c", "colums": ["a"]}]}, "onepane.toml")
    with pytest.raises(ConfigError, match=r"source\[0\]\.colums"):
        source_settings(cfg.source[0], 0, cfg.path)


def test_csv_batches_epoch_timestamps_and_model_versions(tmp_path, shared):
    """CSV logs with unix-second timestamps and a model_version column: one result set per
    version and window, each version against the same reference (given as a DuckDB query)."""
    from metrics.store import Store

    data = build(shared, tmp_path, rows_ref=1500, rows_day=1200, days=1, shift_day=None)
    day = data["days"][0].copy()
    day["ts"] = day["ts"].map(lambda t: int(t.timestamp()))
    day["model_version"] = ["v2" if i % 3 == 0 else "v1" for i in range(len(day))]
    # a request id column nobody told us about: unique per row, so never a drift feature
    ref = data["reference"].assign(request_id=lambda f: [f"r-{i}" for i in range(len(f))])
    ref.to_parquet(tmp_path / "reference.parquet", index=False)
    day["request_id"] = [f"c-{i}" for i in range(len(day))]
    (tmp_path / "current" / "day-0.parquet").unlink()
    day.to_csv(tmp_path / "current" / "day-0.csv", index=False)
    store = Store(tmp_path / "store.duckdb").ensure()
    query = f"SELECT * FROM read_parquet('{tmp_path / 'reference.parquet'}')"   # a SQL reference
    assert run(store, config(tmp_path, model_version=None, sensitive=[], current="current",
                             reference=query))[0].ok
    rows = health(store, metric="row_count").set_index("model_version")["value"]
    assert rows.to_dict() == {"v1": (day["model_version"] == "v1").sum(), "v2": (day["model_version"] == "v2").sum()}
    share = health(store, metric="drift_share")
    assert set(share["model_version"]) == {"v1", "v2"} and (share["status"] == "ok").all()
    assert all(json.loads(d)["identifier_columns"] == ["request_id"] for d in share["details"])
    assert "request_id" not in set(health(store, metric="drift_score")["feature"])
    assert (share["window_start"] == pd.Timestamp(DAY0)).all()


def test_unparseable_timestamp_names_the_column(world):
    folder, data, store = world
    day = data["days"][0].copy()
    day["ts"] = "yesterday"
    day.to_parquet(folder / "current" / "day-0.parquet", index=False)
    err = failed(store, config(folder))
    assert "not a timestamp" in err and "'ts'" in err and "current/*.parquet" in err


def test_failing_reference_query_is_clear(world):
    folder, _, store = world
    err = failed(store, config(folder, reference="SELECT * FROM no_such_table"))
    assert err.startswith("reference: reference query failed") and "no_such_table" in err
