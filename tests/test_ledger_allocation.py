"""Allocation of shared and idle cost: hand-computed buckets, and conservation audited."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.analysis.allocation import allocate, audit
from metrics.config import parse_settings
from tests.ledger_helpers import put_costs, put_counter, put_requests

SERVICES = [{"name": "search", "team": "discovery", "gpus": ["GPU-aaa"]},
            {"name": "chat", "team": "assist"}]
D = "2026-03-01"


def cfg(basis):
    return parse_settings({"services": SERVICES, "allocation": {"shared_basis": basis}})


@pytest.fixture
def alloc_store(store):
    put_costs(store, [
        (D, "search", None, "USD", "10.00", "10.00", "Compute"),
        (D, "search", None, "USD", "40.00", "44.00", "Compute", "GPU-Hours"),
        (D, "chat", None, "USD", "20.00", "20.00", "Compute"),
        (D, None, None, "USD", "9.00", "9.00", "Networking"),       # untagged, shared category
        (D, "shared", None, "USD", "3.00", "3.00", "Storage"),      # tagged shared
        (D, None, None, "USD", "5.00", "5.00", "Compute"),          # untagged, not shared
        (D, "chat", None, "EUR", "7.00", "7.00", "Compute"),
        ("2026-03-02", None, None, "USD", "4.00", "4.00", "Networking"),   # pool on a day with no traffic
    ])
    put_counter(store, "search", None, [(f"{D}T01:00:00Z", 30), (f"{D}T02:00:00Z", 50)],
                metric="DCGM_FI_DEV_GPU_UTIL", labels_extra=',"UUID":"GPU-aaa"')
    put_requests(store, {(D, "search", "v1"): 30, (D, "chat", "c1"): 10})
    return store


def _buckets(df):
    return {(r["day"].isoformat(), r["currency"], r["service"], r["line"]): r for r in df.to_dicts()}


def test_idle_gpu_is_its_own_line_and_shared_by_cost(alloc_store):
    b = _buckets(allocate(alloc_store, cfg("cost")))
    busy = Decimal((30 + 50) / 2) / 100                                # 0.4
    idle_eff, idle_billed = Decimal("40.00") * (1 - busy), Decimal("44.00") * (1 - busy)
    assert b[(D, "USD", "search", "idle")]["effective_cost"] == idle_eff           # 24.00
    assert b[(D, "USD", "search", "idle")]["billed_cost"] == idle_billed
    assert b[(D, "USD", "search", "allocated")]["effective_cost"] == Decimal("50.00") - idle_eff
    pool = Decimal("12.00")                                  # networking 9 + shared-tagged storage 3
    # proportional shares (double-precision fraction); the largest share takes the remainder
    chat, search = (b[(D, "USD", x, "shared")]["effective_cost"] for x in ("chat", "search"))
    assert abs(chat - pool * 20 / 70) < Decimal("1e-12")
    assert abs(search - pool * 50 / 70) < Decimal("1e-12") and chat + search == pool
    assert b[(D, "USD", "__unallocated__", "unallocated")]["effective_cost"] == Decimal("5.00")
    assert b[(D, "EUR", "chat", "allocated")]["effective_cost"] == Decimal("7.00")   # never mixed
    # a shared pool on a day nobody used anything is kept, not dropped
    assert b[("2026-03-02", "USD", "__unallocated__", "shared (no basis)")]["effective_cost"] == Decimal("4.00")
    assert b[(D, "USD", "search", "allocated")]["team"] == "discovery"


def test_shared_by_requests(alloc_store):
    b = _buckets(allocate(alloc_store, cfg("requests")))
    assert b[(D, "USD", "search", "shared")]["effective_cost"] == Decimal("12.00") * 30 / 40   # 9
    assert b[(D, "USD", "chat", "shared")]["effective_cost"] == Decimal("12.00") * 10 / 40     # 3


@pytest.mark.parametrize("basis", ["requests", "gpu_seconds", "cost", "even"])
def test_buckets_add_up_to_the_bill(alloc_store, basis):
    # conservation by plain sums per day and currency against the lines written by the fixture
    df = allocate(alloc_store, cfg(basis))
    eff, billed = {}, {}
    for r in df.to_dicts():
        k = (r["day"].isoformat(), r["currency"])
        eff[k] = eff.get(k, 0) + r["effective_cost"]
        billed[k] = billed.get(k, 0) + r["billed_cost"]
    assert eff == {(D, "USD"): Decimal("10") + 40 + 20 + 9 + 3 + 5, (D, "EUR"): Decimal("7"),
                   ("2026-03-02", "USD"): Decimal("4")}
    assert billed == {(D, "USD"): Decimal("10") + 44 + 20 + 9 + 3 + 5, (D, "EUR"): Decimal("7"),
                      ("2026-03-02", "USD"): Decimal("4")}
    assert audit(alloc_store, cfg(basis)).height == 0          # and the project's own audit agrees


amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("99999"), places=6)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(st.sampled_from(["search", "chat", "shared", None]),
                                st.sampled_from(["Compute", "Networking", "Storage", None]), amounts,
                                st.booleans()), min_size=1, max_size=8),
       reqs=st.tuples(st.integers(0, 50), st.integers(0, 50)),
       basis=st.sampled_from(["requests", "gpu_seconds", "cost", "even"]))
def test_allocation_conserves_cost(tmp_path_factory, lines, reqs, basis):
    from metrics.store import Store

    s = Store(tmp_path_factory.mktemp("alloc") / "p.duckdb").ensure()
    put_costs(s, [(D, svc, None, "USD", str(a), str(a), cat, "GPU-Hours" if gpu else None)
                  for svc, cat, a, gpu in lines])
    put_counter(s, "search", None, [(f"{D}T01:00:00Z", 37)], metric="DCGM_FI_DEV_GPU_UTIL",
                labels_extra=',"UUID":"GPU-aaa"')
    counts = {k: n for k, n in {(D, "search", "v1"): reqs[0], (D, "chat", "c1"): reqs[1]}.items() if n}
    if counts:
        put_requests(s, counts)
    total = sum(a for _, _, a, _ in lines)                      # plain sum of what was billed
    out = allocate(s, cfg(basis))
    assert sum(out["effective_cost"].to_list()) == total
    assert sum(out["billed_cost"].to_list()) == total
    assert all(x >= 0 for x in out["effective_cost"].to_list())   # nothing allocated below zero
    assert audit(s, cfg(basis)).height == 0


def test_cli_allocation_audit(alloc_store, run_cli, tmp_path):
    out = run_cli("allocation", "--audit", "--format", "json", "--db", alloc_store.db_path, check=True)
    assert json.loads(out.stdout) == []
    rows = json.loads(run_cli("allocation", "--format", "json", "--db", alloc_store.db_path, check=True).stdout)
    assert {r["line"] for r in rows} >= {"allocated", "shared", "unallocated"}


def test_idle_per_gpu_host_from_its_own_utilisation(store):
    import polars as pl

    from metrics.lake import Load
    from tests.ledger_helpers import day

    conf = parse_settings({"services": [{"name": "search", "gpus": ["node-a", "node-b"]}]})
    with Load(store, "raw_focus", collector="test") as load:      # instance lines named by host only
        load.write(pl.DataFrame({
            "charge_period_start": [day(D)] * 2, "x_service": ["search"] * 2,
            "billing_currency": ["USD"] * 2, "effective_cost": ["29.088", "29.088"],
            "billed_cost": ["29.088", "29.088"], "resource_name": ["node-a", "node-b"],
            "consumed_unit": ["Hours", "Hours"]}))
    put_counter(store, "x", None, [(f"{D}T01:00:00Z", 20), (f"{D}T02:00:00Z", 40)],
                metric="DCGM_FI_DEV_GPU_UTIL", labels_extra=',"Hostname":"node-a"')
    put_counter(store, "y", None, [(f"{D}T01:00:00Z", 90)],
                metric="DCGM_FI_DEV_GPU_UTIL", labels_extra=',"Hostname":"node-b"')
    b = _buckets(allocate(store, conf))
    cost = Decimal("29.088")
    idle = cost * (1 - Decimal("0.30")) + cost * (1 - Decimal("0.90"))     # node-a 30 % busy, node-b 90 %
    assert b[(D, "USD", "search", "idle")]["effective_cost"] == idle
    assert b[(D, "USD", "search", "allocated")]["effective_cost"] == 2 * cost - idle
    assert audit(store, conf).height == 0
