"""Dates in every file input (issue 14, section 2): one reading per column inferred from all its
values, the provider's month-first convention for ambiguous slash dates, bounds that refuse a
misread year. Expected instants are written by hand or computed with the standard library."""
from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

from collectors.billing import ingest_billing
from collectors.events import ingest_events
from collectors.kpi import ingest_kpis
from collectors.requests import read_requests
from metrics.config import Settings
from metrics.errors import InputError
from tests.billing_helpers import FOCUS_HEADER, write_csv

NOW = datetime(2026, 12, 2, 12, tzinfo=timezone.utc)
UTC = timezone.utc


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=UTC)


def bill(account: str, starts: list[str], period: str = "2025-04-01", costs=None) -> list[list[str]]:
    costs = costs or [f"{i + 1}.25" for i in range(len(starts))]
    return [[account, "USD", period, "", s, "", c, c, "Usage", "EC2", f"r-{i}", ""]
            for i, (s, c) in enumerate(zip(starts, costs))]


def loads(store):
    return store.query("SELECT status, error, details FROM _onepane_loads ORDER BY finished_at")


# ---- billing ---------------------------------------------------------------------------------
def test_focus_spec_style_two_digit_years_are_20yy_month_first(store, tmp_path):
    """The FOCUS examples write `4/1/25`: April 1, 2025 (not the year 0004), and the load says
    which reading it used."""
    rows = [["acct", "USD", "4/1/25", "5/1/25", f"4/{d}/25", f"4/{d}/25", "2.5", "2.5", "Usage", "EC2",
             "r", ""] for d in (1, 2, 12)]
    res = ingest_billing(store, [write_csv(tmp_path / "spec.csv", rows)], now=NOW)
    got = store.query("SELECT BillingPeriodStart AS b, BillingPeriodEnd AS e, ChargePeriodStart AS c "
                      "FROM focus ORDER BY c")
    assert set(got["b"].to_list()) == {utc(2025, 4, 1)}
    assert set(got["e"].to_list()) == {utc(2025, 5, 1)}
    assert got["c"].to_list() == [utc(2025, 4, 1), utc(2025, 4, 2), utc(2025, 4, 12)]
    readings = res[0]["date_readings"]
    assert "month-first" in readings["BillingPeriodStart"] and "convention" in readings["BillingPeriodStart"]
    details = json.loads(loads(store)["details"][-1])
    assert details["date_readings"] == readings


FORMS = {   # ChargePeriodStart written in each form; every one means these three instants
    "iso_t_z": ["2025-04-03T10:00:00Z", "2025-04-20T00:30:00Z", "2025-05-01T23:00:00Z"],
    "iso_offset": ["2025-04-03T12:00:00+02:00", "2025-04-19T19:30:00-05:00", "2025-05-02T01:00:00+02:00"],
    "iso_space_fraction": ["2025-04-03 10:00:00.000", "2025-04-20 00:30:00.0", "2025-05-01 23:00:00"],
    "us_4_digit": ["4/3/2025 10:00", "4/20/2025 0:30", "5/1/2025 23:00"],
    "us_am_pm": ["4/3/2025 10:00:00 AM", "4/20/2025 12:30:00 AM", "5/1/2025 11:00:00 PM"],
    "german": ["3.4.2025 10:00", "20.4.2025 00:30", "1.5.2025 23:00"],
    "day_first_slash": ["3/4/2025 10:00", "20/4/2025 0:30", "1/5/2025 23:00"],
    "unix_s": [str(int(utc(2025, 4, 3, 10).timestamp())), str(int(utc(2025, 4, 20, 0, 30).timestamp())),
               str(int(utc(2025, 5, 1, 23).timestamp()))],
    "unix_ms": [str(int(utc(2025, 4, 3, 10).timestamp() * 1000)),
                str(int(utc(2025, 4, 20, 0, 30).timestamp() * 1000)),
                str(int(utc(2025, 5, 1, 23).timestamp() * 1000))],
}
EXPECTED = [utc(2025, 4, 3, 10), utc(2025, 4, 20, 0, 30), utc(2025, 5, 1, 23)]


def test_every_date_form_gives_the_same_instants(store, tmp_path):
    files = [write_csv(tmp_path / f"{name}.csv", bill(name, values)) for name, values in FORMS.items()]
    # the month-only forms, as billing periods
    for name, period in (("ym", "2025-04"), ("yyyymm", "202504"), ("yyyymmdd", "20250401")):
        files.append(write_csv(tmp_path / f"{name}.csv", bill(name, FORMS["iso_t_z"], period=period)))
    ingest_billing(store, files, now=NOW)
    got = store.query("SELECT BillingAccountId AS a, ChargePeriodStart AS c, BillingPeriodStart AS b "
                      "FROM focus ORDER BY a, c")
    for name in [*FORMS, "ym", "yyyymm", "yyyymmdd"]:
        part = got.filter(pl.col("a") == name)
        assert part["c"].to_list() == EXPECTED, name
        assert set(part["b"].to_list()) == {utc(2025, 4, 1)}, name


def test_the_whole_column_decides_day_first_even_past_the_sample(store, tmp_path):
    """10,050 ambiguous rows, then one with a first part above 12: the whole column is day-first
    (the reading of the first rows is revised from all values, not applied to the rest)."""
    n = 10_050
    starts = [f"{(i % 12) + 1}/{(i % 7) + 1}/2025" for i in range(n)] + ["13/4/2025"]
    costs = ["1"] * (n + 1)
    res = ingest_billing(store, [write_csv(tmp_path / "late.csv", bill("a", starts, costs=costs))], now=NOW)
    assert "day-first" in res[0]["date_readings"]["ChargePeriodStart"]
    got = store.query("SELECT ChargePeriodStart AS c, count(*) AS n FROM focus GROUP BY c ORDER BY c")
    expected: dict[datetime, int] = {}
    for s in starts:
        d, m, y = map(int, s.split("/"))
        expected[utc(y, m, d)] = expected.get(utc(y, m, d), 0) + 1
    assert dict(zip(got["c"].to_list(), got["n"].to_list())) == expected


def test_a_column_no_order_fits_is_refused_at_its_line(store, tmp_path):
    starts = ["13/4/2025", "4/13/2025"]           # day-first by the first, month-first by the second
    with pytest.raises(InputError) as e:
        ingest_billing(store, [write_csv(tmp_path / "both.csv", bill("a", starts))], now=NOW)
    assert (e.value.line, e.value.column) == (3, "ChargePeriodStart") and "4/13/2025" in str(e.value)


@pytest.mark.parametrize("value,line", [("0004-04-01", 3), ("4/1/0004", 3), ("4/1/99", 3),
                                         ("1999-12-31T23:59:59Z", 3), ("2028-01-01", 3)])
def test_dates_out_of_bounds_refuse_the_file(store, tmp_path, value, line):
    starts = ["2025-04-02", value, "2025-04-03"]
    if "/" in value:
        starts = ["4/2/2025", value, "4/3/2025"]
    path = write_csv(tmp_path / "bad.csv", bill("a", starts))
    with pytest.raises(InputError) as e:
        ingest_billing(store, [path], now=NOW)
    assert (e.value.file, e.value.line, e.value.column) == (str(path), line, "ChargePeriodStart")
    assert value in str(e.value)
    assert store.query("SELECT count(*) AS n FROM raw_focus")["n"][0] == 0
    assert loads(store)["status"].to_list() == ["failed"]


def test_bounds_are_configurable(store, tmp_path):
    cfg = Settings.model_validate({"inputs": {"earliest_date": "1990-01-01"}})
    ingest_billing(store, [write_csv(tmp_path / "old.csv", bill("a", ["1995-03-04"], period="1995-03-01"))],
                   config=cfg, now=NOW)
    assert store.query("SELECT ChargePeriodStart AS c FROM focus")["c"][0] == utc(1995, 3, 4)
    with pytest.raises(Exception, match="year 1000"):
        Settings.model_validate({"inputs": {"earliest_date": "0999-01-01"}})


def test_fast_path_iso_file_also_bounds_checked(store, tmp_path):
    """The reader-typed path (ISO read by DuckDB's CSV reader) never lets a year 0004 through."""
    rows = [["a", "USD", "2025-04-01 00:00:00", "2025-05-01 00:00:00", f"2025-04-0{d} 00:00:00",
             f"2025-04-0{d} 01:00:00", "1", "1", "Usage", "EC2", "r", ""] for d in range(1, 6)]
    rows[3][4] = "0004-04-04 00:00:00"
    with pytest.raises(InputError) as e:
        ingest_billing(store, [write_csv(tmp_path / "fast.csv", rows)], now=NOW)
    assert (e.value.line, e.value.column) == (5, "ChargePeriodStart") and "0004-04-04" in str(e.value)


# ---- KPI files, events, request logs ---------------------------------------------------------
def test_kpi_times_use_the_same_reading(store, tmp_path):
    p = tmp_path / "k.csv"
    p.write_text("time,service,model_version,kpi,value\n4/1/25,s,v1,clicks,3\n4/2/25,s,v1,clicks,4\n")
    ingest_kpis(store, p, now=NOW)
    got = store.query("SELECT observed_at AS t, value FROM raw_kpis ORDER BY t")
    assert got["t"].to_list() == [utc(2025, 4, 1), utc(2025, 4, 2)]
    assert "month-first" in json.loads(loads(store)["details"][-1])["date_readings"]["time"]
    bad = tmp_path / "bad.csv"
    bad.write_text("time,service,model_version,kpi,value\n2025-04-01,s,v1,clicks,3\n"
                   "0025-04-02,s,v1,clicks,4\nnope,s,v1,clicks,5\n")
    with pytest.raises(InputError) as e:
        ingest_kpis(store, bad, now=NOW)
    assert (e.value.line, e.value.column) == (3, "time") and "0025-04-02" in str(e.value)
    assert loads(store)["status"].to_list() == ["ok", "failed"]      # recorded in the run log


def test_events_mixed_forms_and_encodings(store, tmp_path):
    ms = int(utc(2025, 6, 1, 12).timestamp() * 1000)
    lines = [{"ts": ms, "kind": "deploy", "service": "s"},
             {"ts": "2025-06-02T08:00:00+02:00", "kind": "config", "service": "s"}]
    text = "".join(json.dumps(r) + "\n" for r in lines)
    gz = tmp_path / "e.jsonl"                       # gzip, named .jsonl
    gz.write_bytes(gzip.compress(text.encode()))
    ingest_events(store, gz, now=NOW)
    u16 = tmp_path / "e.csv"                        # UTF-16 with BOM, CRLF
    u16.write_bytes("ts,kind,service\r\n6/3/2025 10:00,incident,s\r\n".encode("utf-16"))
    ingest_events(store, u16, now=NOW)
    got = store.query("SELECT occurred_at AS t, kind FROM raw_events ORDER BY t")
    assert got["t"].to_list() == [utc(2025, 6, 1, 12), utc(2025, 6, 2, 6), utc(2025, 6, 3, 10)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ts": "2025-06-01", "kind": "deploy", "service": "s"}\n\n'
                   '{"ts": "31/31/2025", "kind": "deploy", "service": "s"}\n')
    with pytest.raises(InputError) as e:
        ingest_events(store, bad, now=NOW)
    assert (e.value.line, e.value.column) == (3, "ts") and "31/31/2025" in str(e.value)
    assert loads(store)["status"].to_list() == ["ok", "ok", "failed"]


def test_request_log_bad_time_names_its_own_line_and_value(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("ts,latency_s\n2025-06-01T00:00:00Z,0.5\n2025-06-01T00:00:01Z,0.25\n"
                 "2025-13-01T00:00:02Z,0.1\n2025-06-01T00:00:03Z,0.3\n")
    with pytest.raises(InputError) as e:
        read_requests(p, service="s", now=NOW)
    assert (e.value.line, e.value.column) == (4, "ts") and "2025-13-01" in str(e.value)
    ok = tmp_path / "ok.csv"
    ok.write_text("ts,latency_ms\n6/1/2025 10:00:00,500\n1748772000123,250\n")
    df = read_requests(ok, service="s", now=NOW)
    assert df["arrived_at"].to_list() == [utc(2025, 6, 1, 10), datetime(2025, 6, 1, 10, 0, 0, 123000, UTC)]
    assert df["latency_s"].sum() == pytest.approx(0.75)


@pytest.mark.parametrize("value", ["NaN", "inf", "-0.5", "-inf"])
def test_request_log_latency_must_be_finite_and_non_negative(tmp_path, value):
    p = tmp_path / "r.csv"
    p.write_text(f"ts,latency_s\n2025-06-01T00:00:00Z,0.5\n2025-06-01T00:00:01Z,{value}\n")
    with pytest.raises(InputError) as e:
        read_requests(p, service="s", now=NOW)
    assert (e.value.line, e.value.column) == (3, "latency_s")


def test_money_unaffected_by_date_inference(store, tmp_path):
    """The totals of a US-dated file equal the plain sum of its cost cells."""
    costs = ["1.10", "2.20", "3.30", "0.000000000000000001"]
    path = write_csv(tmp_path / "m.csv", bill("m", ["4/1/2025", "4/2/2025", "4/3/2025", "4/4/2025"],
                                              period="4/1/2025", costs=costs))
    ingest_billing(store, [path], now=NOW)
    assert store.query("SELECT sum(BilledCost) AS t FROM focus")["t"][0] == sum(Decimal(c) for c in costs)
    assert FOCUS_HEADER[2] == "BillingPeriodStart"


# ---- decimal conventions (section 7) -----------------------------------------------------------
def test_german_decimals_one_convention_per_column(store, tmp_path):
    """`29,088` next to `8,16`: the column is comma-decimal, so 29.088 (not 29088)."""
    costs = ["29,088", "8,16", "1.234,5", "7"]
    path = write_csv(tmp_path / "de.csv", bill("de", ["2025-04-02"] * 4, costs=costs))
    res = ingest_billing(store, [path], now=NOW)
    got = store.query("SELECT BilledCost AS c FROM focus ORDER BY ResourceId")["c"].to_list()
    assert got == [Decimal("29.088"), Decimal("8.16"), Decimal("1234.5"), Decimal("7")]
    assert json.loads(loads(store)["details"][-1])["number_readings"]["BilledCost"].startswith("comma-decimal")
    assert res[0]["rows"] == 4


def test_english_thousands_and_ambiguous_column(store, tmp_path):
    costs = ["29,088", "1,234.5", "0.25"]            # dot-decimal by the values
    ingest_billing(store, [write_csv(tmp_path / "en.csv", bill("en", ["2025-04-02"] * 3, costs=costs))],
                   now=NOW)
    got = store.query("SELECT sum(BilledCost) AS t FROM focus")["t"][0]
    assert got == Decimal("29088") + Decimal("1234.5") + Decimal("0.25")


@pytest.mark.parametrize("costs,line", [(["1,5", "1,234.5", "2,5"], 3),      # majority comma
                                        (["1,234.5", "2,5", "3.5", "4.25"], 3),   # majority dot
                                        (["1,23,456.5"], 2)])                      # groups of 2
def test_a_column_fitting_no_convention_is_refused(store, tmp_path, costs, line):
    path = write_csv(tmp_path / "mixed.csv", bill("x", ["2025-04-02"] * len(costs), costs=costs))
    with pytest.raises(InputError) as e:
        ingest_billing(store, [path], now=NOW)
    assert (e.value.file, e.value.line, e.value.column) == (str(path), line, "BilledCost")
    assert store.query("SELECT count(*) AS n FROM raw_focus")["n"][0] == 0
