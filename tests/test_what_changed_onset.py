"""What changed minutes after an onset: generated incidents of several kinds (a load surge with no
change event, an error burst on one version, a slow latency creep, a cost step), each with
distractors (events and shifts that are not the cause), asked at several delays after the onset.
The cause ranks first with its symptoms as evidence, for the service and without naming it.

Expected values come from the generator's parameters (a rate tripled: ×3), never from the code."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tests.wc_generate import const, write_scrapes
from tests.whatchanged_helpers import write_costs, write_events

START = 1_793_000_000.0 - (1_793_000_000.0 % 3600)
STEP = 15                          # Prometheus-style 15-second scrapes
N = 4 * 240                        # four hours of scrapes
ON = 3 * 240                       # the incident starts three hours in
ONSET = START + ON * STEP


def when(delay_s: float) -> datetime:
    return datetime.fromtimestamp(ONSET + delay_s, timezone.utc)


def quiet_chat(store, seed=2):
    write_scrapes(store, "chat", START, STEP, const(N, 3), const(N, 0.01), const(N, 0.5), const(N, 0.1),
                  queue=const(N, 2), seed=seed)


def ask(store, delay_s, window_s, service="ranker"):
    from metrics.analysis.what_changed import what_changed

    return what_changed(store, service, when(delay_s), timedelta(seconds=window_s))


DELAYS = [(120, 600), (300, 600), (600, 600), (300, 3600), (1800, 3600)]


@pytest.fixture(scope="module")
def surge(tmp_path_factory):
    """ranker's traffic triples at ONSET with no change event: latency, queue, shedding (503) and
    GPU follow. Distractors: a no-op deploy on chat a minute before, a no-op config on ranker 90
    minutes before, chat steady."""
    from metrics.store import Store

    store = Store(tmp_path_factory.mktemp("surge") / "s.duckdb").ensure()
    write_scrapes(store, "ranker", START, STEP, const(N, 5, 15, ON), const(N, 0.005), const(N, 0.2, 0.5, ON),
                  const(N, 0.05), shed_share=const(N, 0.0, 0.1, ON), queue=const(N, 1, 8, ON), seed=1)
    quiet_chat(store)
    write_events(store, [{"t": ONSET - 60, "kind": "deploy", "service": "chat", "model_version": "c9"},
                         {"t": ONSET - 5400, "kind": "config", "service": "ranker", "model_version": "v1",
                          "detail": "log level"}])
    return store


@pytest.mark.parametrize("delay,window", DELAYS)
def test_load_surge_without_an_event_is_the_cause(surge, delay, window):
    items = ask(surge, delay, window)
    top = items[0]
    assert (top["layer"], top["kind"], top["subject"]) == ("technical", "request_rate", "ranker")
    assert top["evidence"]["factor"] == pytest.approx(3.0, rel=0.15)
    assert f"×{top['evidence']['factor']:.2g} since {top['evidence']['onset']}" in top["summary"]
    # the onset is found within two 15-second buckets (or one bucket of the 1 h window)
    onset = datetime.fromisoformat(top["evidence"]["onset"].replace("Z", "+00:00")).timestamp()
    assert abs(onset - ONSET) <= max(2 * STEP, window / 40)
    by = {i["kind"]: i for i in items}
    for symptom in ("latency_p95_s", "error_rate", "queue_depth"):
        assert by[symptom]["evidence"]["explained_by"] == "request_rate of ranker", symptom
        assert by[symptom]["rank"] > 1
    assert not any(i["subject"].startswith("chat") for i in items)


@pytest.mark.parametrize("delay,window", [(300, 600), (1800, 3600)])
def test_load_surge_names_ranker_without_the_service(surge, delay, window):
    items = ask(surge, delay, window, service=None)
    top = items[0]
    assert (top["service"], top["kind"], top["subject"]) == ("ranker", "request_rate", "ranker")
    assert top["evidence"]["service_onset_rank"] == 1
    # chat's no-op deploy explains nothing anywhere
    deploy = [i for i in items if i["kind"] == "deploy"]
    assert all(i["score"] == 0 for i in deploy)


@pytest.fixture(scope="module")
def version_errors(tmp_path_factory):
    """ranker serves v1 and v2 half each; v2's errors jump from 0.5 % to 15 % at ONSET. Distractors:
    a no-op deploy on chat 30 s before, v1 steady, chat steady."""
    from metrics.store import Store

    store = Store(tmp_path_factory.mktemp("verr") / "s.duckdb").ensure()
    for v, err, seed in (("v1", const(N, 0.005), 1), ("v2", const(N, 0.005, 0.15, ON), 3)):
        write_scrapes(store, "ranker", START, STEP, const(N, 4), err, const(N, 0.2), const(N, 0.05),
                      version=v, seed=seed)
    quiet_chat(store)
    write_events(store, [{"t": ONSET - 30, "kind": "deploy", "service": "chat", "model_version": "c9"}])
    return store


@pytest.mark.parametrize("delay,window", DELAYS)
def test_error_burst_on_one_version(version_errors, delay, window):
    items = ask(version_errors, delay, window)
    top = items[0]
    assert (top["kind"], top["subject"]) == ("error_rate", "ranker/v2")
    # 15 % of v2's requests fail, against 0.5 % before
    assert top["evidence"]["after"] == pytest.approx(0.15, rel=0.3)
    assert top["evidence"]["before"] < 0.02
    svc = next(i for i in items if i["kind"] == "error_rate" and i["subject"] == "ranker")
    assert svc["evidence"]["explained_by"] == "error_rate of ranker/v2"
    assert not any(i["subject"].startswith("ranker/v1") for i in items[:3])
    assert ask(version_errors, delay, window, service=None)[0]["subject"] == "ranker/v2"


@pytest.fixture(scope="module")
def creep(tmp_path_factory):
    """ranker's median latency creeps from 0.2 s to 0.5 s over the two hours after ONSET (traffic
    steady). Distractors: a no-op deploy on chat 10 minutes after ONSET."""
    from metrics.store import Store

    n = N + 240 * 2
    store = Store(tmp_path_factory.mktemp("creep") / "s.duckdb").ensure()
    write_scrapes(store, "ranker", START, STEP, const(n, 5), const(n, 0.005),
                  const(n, 0.2, 0.5, ON, ramp=480), const(n, 0.05), seed=1)
    write_scrapes(store, "chat", START, STEP, const(n, 3), const(n, 0.01), const(n, 0.5), const(n, 0.1), seed=2)
    write_events(store, [{"t": ONSET + 600, "kind": "deploy", "service": "chat", "model_version": "c9"}])
    return store


@pytest.mark.parametrize("delay,window", [(1800, 3600), (3600, 3600), (5400, 3600)])
def test_slow_latency_creep(creep, delay, window):
    items = ask(creep, delay, window)
    top = items[0]
    assert top["kind"] in ("latency_p50_s", "latency_p95_s") and top["subject"] == "ranker"
    assert top["evidence"]["after"] > top["evidence"]["before"]
    assert not any(i["kind"] == "request_rate" for i in items)
    whole = ask(creep, delay, window, service=None)[0]
    assert (whole["service"], whole["kind"]) == ("ranker", top["kind"])


@pytest.fixture(scope="module")
def cost_step(tmp_path_factory):
    """The gpu-h100 SKU's unit price steps from 2.50 to 3.20 on 2026-10-11 (usage steady); egress
    steady. Distractors: a no-op deploy on chat that day, chat's own steady bill."""
    from metrics.store import Store

    store = Store(tmp_path_factory.mktemp("cost") / "s.duckdb").ensure()
    lines = []
    for d in range(14):
        day = date(2026, 10, 1) + timedelta(days=d)
        price = 2.5 if d < 10 else 3.2
        q = 400 + 7 * (d % 3)
        lines += [{"day": day, "service": "ranker", "team": "search", "sku": "gpu-h100",
                   "cost": round(price * q, 6), "quantity": q},
                  {"day": day, "service": "ranker", "team": "search", "sku": "egress", "cost": 12, "quantity": 130},
                  {"day": day, "service": "chat", "team": "assistant", "sku": "gpu-a10", "cost": 90 + d % 2,
                   "quantity": 100 + d % 2}]
    write_costs(store, lines)
    write_events(store, [{"t": datetime(2026, 10, 11, 9, tzinfo=timezone.utc).timestamp(), "kind": "deploy",
                          "service": "chat", "model_version": "c9"}])
    return store


@pytest.mark.parametrize("days", [1, 2, 3])
def test_cost_step_is_the_price_change(cost_step, days):
    from metrics.analysis.what_changed import what_changed

    at = datetime(2026, 10, 11, tzinfo=timezone.utc) + timedelta(days=days)
    for service in ("ranker", None):
        top = what_changed(cost_step, service, at, timedelta(days=days))[0]
        assert (top["service"], top["layer"], top["kind"], top["subject"]) == \
            ("ranker", "cost", "price_change", "gpu-h100")
        # the price effect is the price step times the usage of the current window
        used = sum(400 + 7 * (d % 3) for d in range(10, 10 + days))
        assert float(top["evidence"]["price_effect"]) == pytest.approx(used * (3.2 - 2.5))


ISO_UTC = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z"


def test_incident_note_is_markdown_with_utc_times_and_units(surge):
    """"Copy as incident note": the ranked items as Markdown, times in UTC ISO 8601, numbers with
    their units (req/s, s, requests, %), the likely cause marked."""
    import re

    from metrics.analysis.wc_evidence import incident_note
    from metrics.analysis.wc_stats import LIKELY

    items = ask(surge, 300, 600)
    note = incident_note(items, when(300), timedelta(seconds=600), "ranker")
    lines = note.splitlines()
    iso = lambda x: datetime.fromtimestamp(x, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    assert lines[0] == f"### What changed: `ranker`, [{iso(ONSET - 300)}, {iso(ONSET + 300)})"
    assert lines[-1] == f"_Generated by onepane what-changed at {iso(ONSET + 300)} (window 10m)._"
    # every time in the note is UTC ISO 8601; no other time format slips in
    assert "+00:00" not in note and " UTC" not in note
    stamps = re.findall(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?", note)
    assert stamps and all(re.fullmatch(ISO_UTC, s) for s in stamps), stamps
    # one numbered line per item, in rank order, the likely ones marked
    numbered = [x for x in lines if re.match(r"^\d+\. \*\*", x)]
    assert [int(x.split(".")[0]) for x in numbered] == list(range(1, len(items) + 1))
    for x, it in zip(numbered, items):
        assert x.startswith(f"{it['rank']}. **{it['layer']} · {it['kind']} · {it['subject']}**")
        assert (", likely)" in x) == (it["score"] >= LIKELY)
    # the load tripled: about 5 req/s before and 15 req/s after (the generator's rates), with units
    m = re.search(r"([\d.]+) req/s → ([\d.]+) req/s", numbered[0])
    assert m and float(m.group(1)) == pytest.approx(5, rel=0.1) and float(m.group(2)) == pytest.approx(15, rel=0.1)
    assert ", likely)" in numbered[0]
    # latency in seconds (0.2 s → 0.5 s median), the queue in requests, shares as percentages
    by = {it["kind"]: x for x, it in zip(numbered, items)}
    m = re.search(r"from ([\d.]+) s to ([\d.]+) s", by["latency_p50_s"])
    assert m and float(m.group(1)) == pytest.approx(0.2, rel=0.1) and float(m.group(2)) == pytest.approx(0.5, rel=0.1)
    assert re.search(r"from [\d.]+ requests to [\d.]+ requests", by["queue_depth"])
    m = re.search(r"from ([\d.]+)% to ([\d.]+)%", by["error_rate"])
    # errors 0.5 %, then 10 % of the requests shed with 503 on top
    assert m and float(m.group(1)) == pytest.approx(0.5, abs=0.3) and float(m.group(2)) == pytest.approx(10.5, abs=2)
