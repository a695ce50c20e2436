"""CSV downloads: text cells a spreadsheet would run as formulas are neutralized; numbers stay numbers."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import polars as pl

from app.components.charts import to_csv


def test_formula_cells_get_a_leading_quote_and_numbers_stay_exact():
    df = pl.DataFrame({
        "service": ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "ranker", "a=b"],
        "cost": [Decimal("-1.5"), Decimal("2"), Decimal("0.000000000000000001"), None, Decimal("1"),
                 Decimal("1"), Decimal("3.25"), Decimal("0")],
        "requests": [-3, 1, 2, 3, 4, 5, 6, 7],
    }, schema={"service": pl.Utf8, "cost": pl.Decimal(38, 18), "requests": pl.Int64})
    rows = list(csv.reader(io.StringIO(to_csv(df))))
    assert rows[0] == ["service", "cost", "requests"]
    services = [r[0] for r in rows[1:]]
    assert services == ["'=HYPERLINK(\"http://x\")", "'+1+2", "'-2+3", "'@SUM(A1)", "'\tcmd", "'\rcmd",
                        "ranker", "a=b"]
    # numbers are not text: a negative number keeps its sign, money keeps every digit
    assert rows[1][1] == "-1.500000000000000000" and rows[1][2] == "-3"
    assert rows[3][1] == "0.000000000000000001"


def test_a_formula_in_a_column_name_is_neutralized_too():
    rows = list(csv.reader(io.StringIO(to_csv(pl.DataFrame({"=cmd()": ["x"]})))))
    assert rows[0] == ["'=cmd()"]


def test_cells_after_a_semicolon_and_full_width_signs_are_neutralized():
    df = pl.DataFrame({"note": ["ok;=HYPERLINK(\"http://x\")", "a; +1", "\uff1dSUM(A1)", "\uff0b1",
                                "\uff0d1", "\uff20x", "  =1", "a;b", "x=y;z"]})
    got = [r[0] for r in list(csv.reader(io.StringIO(to_csv(df))))[1:]]
    assert got == ["ok;'=HYPERLINK(\"http://x\")", "a; '+1", "'\uff1dSUM(A1)", "'\uff0b1",
                   "'\uff0d1", "'\uff20x", "'  =1", "a;b", "x=y;z"]


def test_command_line_csv_is_neutralized_the_same_way(run_cli, tmp_path):
    """`--format csv` is an export too: a user redirects it to a file and opens it."""
    r = run_cli("sql", "select '=1+2' as \"=h\", 'a;=cmd()' as b, '\uff0b1' as c, 'ok' as d, -3 as n, "
                "-1.5::DECIMAL(10,2) as m", "--db", tmp_path / "s.duckdb", "--format", "csv", check=True)
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows == [["'=h", "b", "c", "d", "n", "m"], ["'=1+2", "a;'=cmd()", "'\uff0b1", "ok", "-3", "-1.50"]]
