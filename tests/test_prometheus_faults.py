"""Prometheus faults: a real Prometheus restarted in the middle of a collection, and a run that
exceeds its retry budget. The failed run records its error and writes nothing partial; its
watermark stays, so the next run fills the whole gap. The oracle is the capture's requests.csv
(plain Python in tests/test_telemetry.py), not the collector."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from tests.prom_helpers import ProxyServer, prometheus_from_openmetrics
from tests.test_telemetry import SERVICE, config, request_facts

FROM, TO = 1795527966, 1795528507
T_FROM, T_TO = datetime.fromtimestamp(FROM, timezone.utc), datetime.fromtimestamp(TO, timezone.utc)
FAST = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.05, "max_in_flight": 1}


def _collect(store, url, **settings):
    from collectors.prometheus import collect_url

    return collect_url(store, config(), url, service=None, step="1s", start=T_FROM, end=T_TO, **settings)


def _requests(store):
    from metrics.telemetry import telemetry_summary

    return {v["model_version"]: v["requests"] for v in telemetry_summary(store, config(), SERVICE)["versions"]}


def test_a_restart_mid_collection_fails_cleanly_and_the_next_run_fills_the_gap(store, shared, tmp_path):
    with prometheus_from_openmetrics([shared / "gpu-serving-capture" / "telemetry.om"],
                                     tmp_path / "prom") as prom:
        def behave(n, path):
            if n == 4:                       # the server goes down in the middle of the run
                prom.stop()
            return ("proxy", None)

        with ProxyServer(prom.url, behave) as proxy:
            first = _collect(store, proxy.url, **FAST)
            assert not first.ok and "retries" in first.error
            assert store.query("SELECT count(*) AS n FROM raw_telemetry")["n"][0] == 0   # nothing partial
            prom.start()                     # back up (same TSDB, a new port)
            proxy.upstream = prom.url
            second = _collect(store, proxy.url, **FAST)
        assert second.ok, second.error
    facts = request_facts(shared)
    assert _requests(store) == {v: facts[v]["requests"] for v in ("ranker-v41", "ranker-v42")}
    runs = store.query("SELECT status, error FROM _onepane_loads ORDER BY finished_at")
    assert runs["status"].to_list()[-2:] == ["failed", "ok"]


def test_the_run_gives_up_after_its_budget(store, shared, tmp_path):
    with prometheus_from_openmetrics([shared / "gpu-serving-capture" / "telemetry.om"],
                                     tmp_path / "prom") as prom:
        with ProxyServer(prom.url, lambda n, p: ("sleep", 1.0)) as proxy:
            t0 = time.monotonic()
            r = _collect(store, proxy.url, **{**FAST, "budget_s": 2.5})
            took = time.monotonic() - t0
            n_requests = len(proxy.requests)
    assert not r.ok and "budget of 2.5s" in r.error
    assert n_requests < 10 and took < 30                # far fewer than the run's ~20 requests
    assert store.query("SELECT count(*) AS n FROM raw_telemetry")["n"][0] == 0
    assert store.query("SELECT status FROM _onepane_loads")["status"].to_list() == ["failed"]
