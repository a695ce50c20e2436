"""The proof of the ClickHouse port at scale: a generated lake of 1M line items (four months, tags,
two currencies, a restated month) and 100k request-log rows, on DuckDB and on ClickHouse's engine
in-process (chdb): every staged view, page query and analysis query equal within 1e-9 relative;
the ClickHouse tables (MergeTree, REPLACE PARTITION) loaded from the lake hold the same totals.

Expected totals are computed here in plain Python (Decimal) from the generator's formula.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from metrics.engines.clickhouse import ChdbEngine
from metrics.engines.compare import TOLERANCE, compare
from metrics.engines.ddl import ChdbExecutor, ddl, lake_months, load
from tests.engines_lake import MONTHS, RESTATED, build

LINE_ITEMS = 1_000_000


def expected_totals() -> dict[tuple[str, str], tuple[int, Decimal]]:
    """(month, currency) -> (line items, effective cost) after the restatement, by hand."""
    per = LINE_ITEMS // len(MONTHS)
    out: dict = defaultdict(lambda: [0, Decimal(0)])
    unit, tiny = Decimal("0.000127"), Decimal("1e-18")
    for k, month in enumerate(MONTHS):
        n, seed = (per // 2, 13) if month == RESTATED else (per, 7 + k)
        for i in range(n):
            cell = out[(month, "EUR" if i % 3 == 0 else "USD")]
            cell[0] += 1
            cell[1] += Decimal((i * seed) % 100003) * unit + tiny
    return {k: (v[0], v[1]) for k, v in out.items()}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return build(tmp_path_factory.mktemp("scale"), LINE_ITEMS)


TOTALS = ("SELECT strftime(billing_month, '%Y-%m') AS month, billing_currency AS currency, "
          "count(*) AS n, sum(effective_cost) AS cost FROM stg_cost GROUP BY ALL")


def _totals(frame) -> dict:
    return {(r["month"], r["currency"]): (r["n"], Decimal(str(r["cost"]))) for r in frame.iter_rows(named=True)}


def test_every_query_is_equal_on_duckdb_and_chdb_over_a_million_line_items(lake):
    written = lake.query("SELECT sum(rows) AS n FROM _onepane_loads WHERE target_table = 'raw_focus'")["n"][0]
    assert written == LINE_ITEMS + LINE_ITEMS // len(MONTHS) // 2     # four months and the restatement
    rows = compare(lake)
    assert [r for r in rows if r["status"] != "ok"] == []
    assert max(r["max_rel_diff"] for r in rows) <= TOLERANCE
    # the comparison saw the data: the cost queries returned rows on both engines
    by_name = {r["query"]: r for r in rows}
    assert by_name["queries/cost_daily"]["duckdb_rows"] > 100
    assert by_name["stg_cost"]["clickhouse_rows"] == sum(n for n, _ in expected_totals().values())


def test_clickhouse_tables_loaded_by_replace_partition_hold_the_duckdb_totals(lake, tmp_path):
    from chdb import session

    want = expected_totals()
    assert _totals(lake.query(TOTALS)) == want                      # the DuckDB path
    s = session.Session()      # in memory: chdb allows one path per process
    try:
        ex = ChdbExecutor(s)
        for stmt in ddl(lake, "onepane", retention={"requests": "3650d"}):
            ex.execute(stmt)
        months = lake_months(lake, "raw_focus")
        assert sorted(months) == [m.replace("-", "") for m in MONTHS]
        first = load(ex, lake, "onepane")
        again = load(ex, lake, "onepane", tables=["raw_focus"], months=[RESTATED.replace("-", "")])
        assert again["raw_focus"] == first["raw_focus"]              # a month replaced, never doubled
        parts = ex.rows("SELECT partition, sum(rows) AS n FROM system.parts WHERE database = 'onepane' "
                        "AND table = 'lake_raw_focus' AND active GROUP BY partition ORDER BY partition")
        assert [p["partition"] for p in parts] == [m.replace("-", "") for m in MONTHS]
        engine = ChdbEngine(lake, session=s, database="onepane")
        assert _totals(engine.query(TOTALS)) == want                 # the MergeTree path
    finally:
        s.close()
