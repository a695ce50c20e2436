"""Allocation of shared cost: every cost line in exactly one bucket, nothing dropped.

Trace: `onepane allocation` -> `allocate()` -> metrics/sql/ledger/06_ledger_allocation.sql
-> stg_cost, stg_telemetry (GPU utilisation), ledger_predictions.

Buckets per day and currency: each service's `allocated` cost (its own lines minus idle GPU),
its `idle` GPU cost (GPU lines × (1 − utilisation), the paid-but-unused part), its `shared`
share of networking/storage/`shared`-tagged cost spread by [allocation] shared_basis, and
`__unallocated__` for untagged cost (and a shared pool with no basis that day). `audit()`
returns the days where the buckets do not add up to the bill (zero rows = pass).
"""
from __future__ import annotations

import polars as pl

from metrics.config import Settings
from metrics.ledger import _window, ledger_connection
from metrics.store import Store

AUDIT_SQL = """
WITH billed AS (
    SELECT charge_period_start::DATE AS day, billing_currency AS currency,
           sum(billed_cost) AS billed_cost,
           sum(coalesce(effective_cost, billed_cost)) AS effective_cost
    FROM stg_cost GROUP BY ALL
), allocated AS (
    SELECT day, currency, sum(billed_cost) AS billed_cost, sum(effective_cost) AS effective_cost
    FROM ledger_allocation GROUP BY ALL
)
SELECT coalesce(b.day, a.day) AS day, coalesce(b.currency, a.currency) AS currency,
       b.billed_cost AS bill_billed, a.billed_cost AS allocated_billed,
       b.effective_cost AS bill_effective, a.effective_cost AS allocated_effective
FROM billed b FULL JOIN allocated a ON a.day = b.day AND a.currency IS NOT DISTINCT FROM b.currency
WHERE b.billed_cost IS DISTINCT FROM a.billed_cost OR b.effective_cost IS DISTINCT FROM a.effective_cost
ORDER BY 1, 2
"""


def allocate(store: Store, config: Settings | None = None, start=None, end=None,
             as_of=None) -> pl.DataFrame:
    """One row per day × currency × service × line, with billed and effective cost."""
    con = ledger_connection(store, config, as_of)
    try:
        where, params = _window(start, end)
        return store.query(
            f"""SELECT a.day, a.currency, a.service, coalesce(s.team, '__unallocated__') AS team,
                       a.line, a.billed_cost, a.effective_cost,
                       getvariable('ledger_shared_basis') AS shared_basis
                FROM ledger_allocation a LEFT JOIN ledger_services s ON s.service = a.service
                WHERE {where}
                ORDER BY a.day, a.currency, a.service = '__unallocated__', a.service, a.line""",
            params, con=con)
    finally:
        con.close()


def audit(store: Store, config: Settings | None = None, as_of=None) -> pl.DataFrame:
    """Days and currencies where allocated + idle + shared + __unallocated__ != the bill."""
    con = ledger_connection(store, config, as_of)
    try:
        return store.query(AUDIT_SQL, con=con)
    finally:
        con.close()
