"""Partial answers from a real Prometheus: `warnings` are recorded as what could not be fetched, and
the next run fills the gap.

A real Prometheus makes them: the front server has an empty TSDB and reads the capture through
`remote_read` from a second real Prometheus (as a Prometheus in front of long-term storage does).
When the second one goes down in the middle of a run, the front one keeps answering
`"status": "success"` with an empty matrix and the connection error in `warnings` (remote read is a
secondary querier: its errors become warnings). Before the fix those answers were stored as "no
data" and the watermark moved past them: the requests of the capture's second half were lost for
good. The oracle is the capture's requests.csv (plain Python in tests/test_telemetry.py)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from tests.prom_helpers import PromServer, ProxyServer, prometheus_from_openmetrics
from tests.test_telemetry import SERVICE, config, request_facts

FROM, TO = 1795527966, 1795528507
T_FROM, T_TO = datetime.fromtimestamp(FROM, timezone.utc), datetime.fromtimestamp(TO, timezone.utc)
NOW = T_TO + timedelta(minutes=5)
# 13 queries (prometheus_client + dcgm sets) x 6 requests of at most 100 points over 541 s, in order
SMALL = {"timeout_s": 10.0, "retries": 1, "backoff_s": 0.05, "max_in_flight": 1, "max_points": 100}
DOWN_AT = 4          # the long-term store goes down before the 4th request (the request counter's 4th range)


def _requests(store):
    from metrics.telemetry import telemetry_summary

    return {v["model_version"]: v["requests"] for v in telemetry_summary(store, config(), SERVICE)["versions"]}


def _collect(store, url, start, end):
    from collectors.prometheus import collect_url

    return collect_url(store, config(), url, service=None, step="1s", start=start, end=end, now=NOW, **SMALL)


def test_warnings_are_recorded_as_not_fetched_and_the_next_run_fills_them(store, shared, tmp_path):
    facts = request_facts(shared)
    want = {v: facts[v]["requests"] for v in ("ranker-v41", "ranker-v42")}
    with prometheus_from_openmetrics([shared / "gpu-serving-capture" / "telemetry.om"],
                                     tmp_path / "store") as backend:
        front = PromServer(tmp_path / "front" / "tsdb", tmp_path / "front",
                           remote_read=backend.url + "/api/v1/read")
        front.start()
        try:
            def behave(n, path):
                if n == DOWN_AT:
                    backend.stop()
                return ("proxy", None)

            # one proxy for both runs: watermarks are kept per server address
            with ProxyServer(front.url, behave) as proxy:
                first = _collect(store, proxy.url, T_FROM, T_TO)
                n_first = len(proxy.requests)
                assert first.ok, first.error
                assert n_first == 13 * 6
                # recorded as what could not be fetched: a note for the CLI, the run log's details
                # and the watermark's gaps, each naming the requests from the 4th on
                assert first.note and "partial: 75 of 78 requests" in first.note
                rec = store.query("SELECT status, details, watermark FROM _onepane_loads "
                                  "WHERE collector = 'prometheus' ORDER BY finished_at")
                assert rec["status"].to_list() == ["ok"]
                details, mark = json.loads(rec["details"][0]), json.loads(rec["watermark"][0])
                assert any("remote_read" in w for w in details["warnings"])
                assert details["not_fetched"] == mark["gaps"]
                n_ranges = sum(len(chunks_of(r)) for r in mark["gaps"].values())
                assert n_ranges == 78 - (DOWN_AT - 1)
                got = _requests(store)
                assert sum(got.values()) < sum(want.values())      # the first half of the counter only

                backend.start(same_port=True)                      # the long-term store is back
                second = _collect(store, proxy.url, None, T_TO)    # an ordinary incremental run
                asked = [(int(r["start"]), int(r["end"])) for r in proxy.requests[n_first:]]
            assert second.ok and second.note is None, (second.error, second.note)
        finally:
            front.stop()
    # the second run asked for exactly the recorded ranges, nothing else (its watermark is at TO)
    expected = sorted((int(datetime.fromisoformat(a).timestamp()), int(datetime.fromisoformat(b).timestamp()))
                      for r in mark["gaps"].values() for a, b in chunks_of(r))
    assert sorted(asked) == expected
    assert _requests(store) == want
    last = json.loads(store.query("SELECT watermark FROM _onepane_loads WHERE collector = 'prometheus' "
                                  "ORDER BY finished_at DESC LIMIT 1")["watermark"][0])
    assert "gaps" not in last


def chunks_of(ranges: list[list[str]]) -> list[tuple[str, str]]:
    """A merged gap re-split into requests of at most 100 points (1 s step), by hand."""
    out = []
    for a_iso, b_iso in ranges:
        a, b = datetime.fromisoformat(a_iso), datetime.fromisoformat(b_iso)
        while a <= b:
            e = min(a + timedelta(seconds=99), b)
            out.append((a.isoformat(), e.isoformat()))
            a = e + timedelta(seconds=1)
    return out


def test_which_warnings_lose_data_and_which_gaps_are_given_up():
    """By hand: PromQL's notes about a query keep the points; a recorded gap is asked for again
    from now minus backfill_limit on, and older parts are given up (logged by the collector)."""
    from collectors.prometheus_gaps import data_lost, due, merge

    assert data_lost(["PromQL info: metric might not be a counter", "PromQL warning: x"]) == []
    assert data_lost(["remote_read: connection refused", "PromQL info: y"]) == ["remote_read: connection refused"]
    t = datetime(2026, 5, 1, tzinfo=timezone.utc)
    s = timedelta(seconds=1)
    assert merge([(t + 200 * s, t + 299 * s), (t, t + 99 * s), (t + 100 * s, t + 199 * s),
                  (t + 400 * s, t + 450 * s)], 1) == [[t.isoformat(), (t + 299 * s).isoformat()],
                                                      [(t + 400 * s).isoformat(), (t + 450 * s).isoformat()]]
    gaps = [[t.isoformat(), (t + 99 * s).isoformat()], [(t + 200 * s).isoformat(), (t + 299 * s).isoformat()]]
    fetch, dropped = due(gaps, t + 250 * s)
    assert fetch == [(t + 250 * s, t + 299 * s)]
    assert dropped == [gaps[0], [(t + 200 * s).isoformat(), (t + 250 * s).isoformat()]]
