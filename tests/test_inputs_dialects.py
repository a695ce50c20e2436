"""CSV and JSON dialects (issue 14, sections 3 and 7): each file is built by the test, and its
expected total is the plain sum of the cost cells the test wrote."""
from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from collectors.billing import ingest_billing
from collectors.events import ingest_events
from collectors.kpi import ingest_kpis
from metrics.errors import InputError
from tests.billing_helpers import FOCUS_HEADER, focus_row, write_csv

NOW = datetime(2026, 12, 2, 12, tzinfo=timezone.utc)
COSTS = ["1.5", "2.25", "0.125", "10"]


def rows():
    return [focus_row(c, resource=f"r-{i}") for i, c in enumerate(COSTS)]


def csv_bytes(newline: str = "\n") -> bytes:
    import csv
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(FOCUS_HEADER)
    w.writerows(rows())
    return buf.getvalue().encode()


def billed(store):
    return store.query("SELECT sum(BilledCost) AS t, count(*) AS n FROM focus").row(0)


EXPECTED = (sum(Decimal(c) for c in COSTS), len(COSTS))


def variants() -> dict[str, bytes]:
    lf, crlf = csv_bytes("\n"), csv_bytes("\r\n")
    lines = lf.split(b"\n")
    mixed = b"".join(line + (b"\r\n" if i % 2 else b"\n") for i, line in enumerate(lines[:-1]))
    blank = b"\n\n".join(lines[:-1]) + b"\n\n"
    return {
        "mixed_crlf_lf": mixed,
        "mixed_lf_first": b"".join(line + (b"\n" if i % 2 else b"\r\n") for i, line in enumerate(lines[:-1])),
        "crlf": crlf,
        "bom_crlf": b"\xef\xbb\xbf" + crlf,
        "no_trailing_newline": lf.rstrip(b"\n"),
        "blank_lines": blank,
        "gzip_named_csv": gzip.compress(mixed),
    }


@pytest.mark.parametrize("name", list(variants()))
def test_dialects_load_exactly(store, tmp_path, name):
    p = tmp_path / f"{name}.csv"
    p.write_bytes(variants()[name])
    ingest_billing(store, [p], now=NOW)
    assert billed(store) == EXPECTED


def test_quoted_newlines_and_bare_cr_in_quoted_fields(store, tmp_path):
    header = FOCUS_HEADER + ["ChargeDescription"]
    body = [r + [d] for r, d in zip(rows(), ["two\nlines", "bare\rcr", "crlf\r\ninside", "plain"])]
    p = write_csv(tmp_path / "q.csv", body, header, newline="\r\n")
    ingest_billing(store, [p], now=NOW)
    assert billed(store) == EXPECTED
    got = store.query("SELECT ChargeDescription AS d FROM focus ORDER BY BilledCost")["d"].to_list()
    assert got == ["crlf\r\ninside", "two\nlines", "bare\rcr", "plain"]


def test_a_long_junk_last_line_refuses_the_file(store, tmp_path):
    p = tmp_path / "junk.csv"
    p.write_bytes(csv_bytes() + b"x" * (20 << 20))
    with pytest.raises(InputError) as e:
        ingest_billing(store, [p], now=NOW)
    assert e.value.line == len(COSTS) + 2 and len(str(e.value)) < 600
    assert store.query("SELECT count(*) AS n FROM raw_focus")["n"][0] == 0


def test_fifty_mb_without_a_newline_is_refused_in_one_line(store, tmp_path):
    p = tmp_path / "one.csv"
    p.write_bytes(b"BilledCost," + b"9" * (50 << 20))
    with pytest.raises(InputError) as e:
        ingest_billing(store, [p], now=NOW)
    assert "\n" not in str(e.value) and len(str(e.value)) < 600


GCP = {"billing_account_id": "0X-1", "service": {"id": "6F81", "description": "Compute Engine"},
       "sku": {"id": "CP-1", "description": "N1 core"}, "usage_start_time": "2026-09-02T00:00:00Z",
       "usage_end_time": "2026-09-02T01:00:00Z", "labels": [{"key": "team", "value": "ml"}],
       "currency": "EUR", "invoice": {"month": "202609"}, "credits": []}


@pytest.mark.parametrize("layout", ["lines", "array", "pretty_concatenated"])
def test_gcp_json_layouts_load_alike(store, tmp_path, layout):
    recs = [{**GCP, "cost": c} for c in (1.25, 2.5, 0.75)]
    text = {"lines": "".join(json.dumps(r) + "\n" for r in recs),
            "array": json.dumps(recs, indent=2),
            "pretty_concatenated": "\n".join(json.dumps(r, indent=2) for r in recs)}[layout]
    p = tmp_path / "gcp.json"
    p.write_text(text)
    r = ingest_billing(store, [p], now=NOW)
    assert r[0]["format"] == "gcp"
    assert billed(store) == (Decimal("4.5"), 3)


def test_kpi_and_events_with_mixed_newlines_bom_and_gzip(store, tmp_path):
    k = tmp_path / "k.csv"
    k.write_bytes(b"\xef\xbb\xbftime,service,model_version,kpi,value\r\n2025-04-01,s,v1,clicks,3\n"
                  b"2025-04-02,s,v1,clicks,4\r\n")
    ingest_kpis(store, k, now=NOW)
    assert store.query("SELECT sum(value) AS v FROM raw_kpis")["v"][0] == 7
    e = tmp_path / "ev.csv"                       # gzip named .csv, mixed endings
    e.write_bytes(gzip.compress(b"ts,kind,service\r\n2025-04-01T00:00:00Z,deploy,s\n"
                                b"2025-04-02T00:00:00Z,config,s\r\n"))
    ingest_events(store, e, now=NOW)
    assert store.query("SELECT count(*) AS n FROM raw_events")["n"][0] == 2


def test_failing_evidently_ingest_is_in_the_run_log(store, tmp_path):
    from collectors.evidently import ingest_evidently

    p = tmp_path / "bad.json"
    p.write_bytes('{"metrics": [ {"config": '.encode("utf-16"))
    with pytest.raises(InputError) as e:
        ingest_evidently(store, [p], service="s", at="2025-04-01T00:00:00Z")
    assert e.value.file == str(p)
    runs = store.query("SELECT collector, status FROM _onepane_loads")
    assert runs.rows() == [("evidently", "failed")]


def test_errors_quote_a_bounded_part_of_the_value(store, tmp_path):
    body = rows()
    body[2][6] = "7" * 100 + "x" * (1 << 20)             # a 1 MB cell in BilledCost, line 4
    p = write_csv(tmp_path / "long.csv", body)
    with pytest.raises(InputError) as e:
        ingest_billing(store, [p], now=NOW)
    assert (e.value.line, e.value.column) == (4, "BilledCost")
    assert "7" * 100 in str(e.value) and len(str(e.value)) < 800 and "\n" not in str(e.value)
