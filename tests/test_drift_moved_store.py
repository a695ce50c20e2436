"""A store and its drift inputs moved (or copied) to another folder, config paths rewritten: the
next collect recomputes no window and adds no row; a changed input still recomputes its window."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

DAY0 = "2026-03-0{}T{:02d}:00:00Z"


def _write(folder: Path) -> None:
    """Reference, two daily windows of predictions (10 rows each) and late labels for day 1."""
    (folder / "preds").mkdir(parents=True)
    with open(folder / "reference.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "ts", "x", "score", "pred", "label"])
        for i in range(40):
            w.writerow([f"r{i}", DAY0.format(1, i % 24), i % 7, (i % 10) / 10, int(i % 10 >= 5), i % 2])
    for d in (2, 3):
        with open(folder / "preds" / f"day{d}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "ts", "x", "score", "pred"])
            for i in range(10):
                w.writerow([f"d{d}-{i}", DAY0.format(d, i), i % 5, i / 10, int(i >= 5)])
    with open(folder / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label"])
        for i in range(10):
            w.writerow([f"d2-{i}", int(i >= 4)])


def _config(folder: Path) -> Path:
    """Absolute input paths, as `onepane demo` writes them."""
    cfg = folder / "onepane.toml"
    cfg.write_text(f'''[[services]]
name = "scorer"
team = "risk"

[[source]]
name = "scorer-drift"
type = "drift"
service = "scorer"
reference = "{folder / 'reference.csv'}"
current = "{folder / 'preds'}"
labels = "{folder / 'labels.csv'}"
id_column = "id"
timestamp_column = "ts"
prediction_column = "pred"
prediction_proba_column = "score"
target_column = "label"
window = "1d"
''', encoding="utf-8")
    return cfg


def _collect(folder: Path):
    from collectors.runner import publish_services, run_sources
    from metrics.config import load_settings
    from metrics.store import Store

    store = Store(folder / "onepane.duckdb").ensure()
    cfg = load_settings(folder / "onepane.toml")
    publish_services(store, cfg)
    results = run_sources(store, cfg, ["drift"])
    assert [r.ok for r in results] == [True], [(r.source, r.error) for r in results]
    rows = store.query("SELECT count(*) AS n FROM raw_model_health")["n"][0]
    late = store.query("SELECT count(*) AS n FROM raw_model_health WHERE metric = 'late_rows'")["n"][0]
    loads = store.query("SELECT count(*) AS n FROM _onepane_loads WHERE target_table = 'raw_model_health'")["n"][0]
    return rows, late, loads


def test_a_moved_store_recollects_nothing_and_a_changed_input_only_its_window(tmp_path):
    first = tmp_path / "first"
    _write(first)
    _config(first)
    rows, late, loads = _collect(first)
    assert rows > 0 and late == 0 and loads == 1

    moved = tmp_path / "moved"
    shutil.move(first, moved)
    cfg = moved / "onepane.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(str(first), str(moved)), encoding="utf-8")
    assert str(first) not in cfg.read_text(encoding="utf-8")
    assert _collect(moved) == (rows, 0, 1)          # no window recomputed: no new load, no row

    # a label landing for day 3 changes that window only: it is recomputed once (one late_rows row)
    with open(moved / "labels.csv", "a", newline="") as f:
        csv.writer(f).writerow(["d3-0", 1])
    rows2, late2, loads2 = _collect(moved)
    assert (late2, loads2) == (1, 2) and rows2 > rows
