"""`onepane ingest requests` through the CLI on the shared GPU-serving capture's request log; the
expected counts are read from requests.csv with the csv module here."""
from __future__ import annotations

import csv
from collections import Counter

SERVICE = "ranker"


def test_cli_ingest_requests_loads_the_capture_once(store, shared, run_cli):
    path = shared / "gpu-serving-capture" / "requests.csv"
    with path.open(newline="") as fh:
        want = Counter(r["model_version"] for r in csv.DictReader(fh))
    p = run_cli("ingest", "requests", path, "--service", SERVICE, "--db", store.db_path)
    assert p.returncode == 0, p.stderr
    assert f"{sum(want.values())} requests loaded" in p.stdout
    got = store.query("SELECT model_version, count(*) AS n FROM stg_requests WHERE service = ? GROUP BY 1",
                      [SERVICE])
    assert dict(got.rows()) == dict(want) and sum(want.values()) == 5753
    again = run_cli("ingest", "requests", path, "--service", SERVICE, "--db", store.db_path)
    assert again.returncode == 0, again.stderr
    assert "already loaded" in again.stdout
    assert store.query("SELECT count(*) AS n FROM stg_requests")["n"][0] == 5753    # not double-counted
