"""Fuzzing every file parser of this area (issue 14, section 8) with hypothesis.

The only outcomes allowed: a correct load, or the project's typed error (InputError / ConfigError)
naming the file, in one line, quoting a bounded part of the value, with nothing written. Seeds
are files the tests generate and the first lines of the real exports in ../shared/data.
Lossless variants (line endings, BOM, gzip, column order, decimal conventions, date forms) must
load exactly the totals computed here with plain Python.

Cost is bounded for CI: ONEPANE_FUZZ_EXAMPLES (default 12) examples per test, all together well
under 90 s on the 2-core machine; run with a larger value to search longer.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tomllib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.billing import ingest_billing
from collectors.events import ingest_events
from collectors.evidently import ingest_evidently
from collectors.kpi import ingest_kpis
from collectors.requests import read_requests
from metrics.config import parse_settings
from metrics.errors import ConfigError, InputError, OnepaneError
from tests.billing_helpers import FOCUS_HEADER
from tests.conftest import SHARED

N = int(os.environ.get("ONEPANE_FUZZ_EXAMPLES", "12"))
NOW = datetime(2026, 12, 2, 12, tzinfo=timezone.utc)
FUZZ = settings(max_examples=N, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
RUN = {"cases": 0}


def _csv(rows: list[list[str]], newline: str = "\n") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    return buf.getvalue().encode()


def _head(path: Path, lines: int = 25) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return b"".join(fh.readline() for _ in range(lines))


def billing_seeds() -> list[bytes]:
    gen = [FOCUS_HEADER] + [["a", "USD", "2026-09-01 00:00:00", "2026-10-01 00:00:00",
                             f"2026-09-{d:02d} 00:00:00", f"2026-09-{d:02d} 01:00:00", f"{d}.25", f"{d}.25",
                             "Usage", "EC2", f"r-{d}", '{"team": "ml"}'] for d in range(1, 9)]
    real = [SHARED / "billing" / p for p in (
        "focus-1.0/focus_sample.csv", "azure-ea/azure_camelCased.csv",
        "azure-ea/sample-anonymous-ea-export-dataset.csv", "aws-cur/test_cur.csv",
        "gcp/202011_30c31bca571d9b7f3b2c8459dd8bc34a_2020-11-08_2020-11-11.csv",
        "oci/reports_cost-csv_0000000030000269.csv", "aws-cur/koku-local-1.csv.gz")]
    return [_csv(gen)] + [_head(p) for p in real]


HOSTILE = ["1e400", "-1e400", "inf", "-Infinity", "NaN", "9" * 60, "0x10", "1,2,3", "--1", "1e-400",
           "\x00", "'", '"', "=1+1", "4/1/25", "0004-01-01", "13/13/2025", "20251301", "99999999999999",
           "2025-02-30", "x" * 5000, "\u00e9\u00e8", "\ufeff1", "1 234,5", "١٢٣"]


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    data = draw(st.sampled_from(seeds))
    kind = draw(st.sampled_from(["truncate_line", "truncate_byte", "splice", "cell", "encoding",
                                 "newlines", "columns", "junk_tail", "none"]))
    lines = data.split(b"\n")
    if kind == "truncate_line":
        data = b"\n".join(lines[: draw(st.integers(0, len(lines)))])
    elif kind == "truncate_byte":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "splice":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at + draw(st.integers(0, 20)):]
    elif kind == "junk_tail":
        data = data + draw(st.sampled_from([b"x" * 3_000_000, b"\x00\xff" * 100, b"\r", b'"unclosed']))
    elif kind in ("cell", "columns"):
        try:
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        except (UnicodeDecodeError, csv.Error):
            return data
        if len(rows) < 2:
            return data
        width = len(rows[0])
        if kind == "cell":
            r = draw(st.integers(1, len(rows) - 1))
            c = draw(st.integers(0, max(0, len(rows[r]) - 1)))
            if rows[r]:
                rows[r][c] = draw(st.sampled_from(HOSTILE) | st.text(max_size=12))
        else:
            order = draw(st.permutations(range(width)))
            dup = draw(st.integers(-1, width - 1))
            rows = [[row[i] for i in order if i < len(row)] + ([row[dup]] if 0 <= dup < len(row) else [])
                    for row in rows]
        data = _csv(rows)
    elif kind == "encoding":
        enc = draw(st.sampled_from(["utf-16", "utf-16-le", "latin-1", "utf-8-sig", "cp1252"]))
        try:
            data = data.decode("utf-8").encode(enc, errors="replace")
        except UnicodeDecodeError:
            pass
    elif kind == "newlines":
        nl = draw(st.sampled_from([b"\r\n", b"\r", b"\n\n"]))
        data = nl.join(lines) if draw(st.booleans()) else b"".join(
            line + (nl if i % 2 else b"\n") for i, line in enumerate(lines))
    if draw(st.booleans()) and draw(st.booleans()):
        data = gzip.compress(data)
    return data


def _typed_or_ok(call, count, path: Path):
    """Run `call`; on error it must be our typed error, one line, naming the file; nothing written."""
    RUN["cases"] += 1
    before = count()
    try:
        call()
    except OnepaneError as e:
        assert isinstance(e, (InputError, ConfigError)), repr(e)
        msg = str(e)
        assert "\n" not in msg.strip(), msg[:500]
        assert len(msg) < 1200, msg[:500]
        if isinstance(e, InputError):
            assert e.file and Path(e.file).name == path.name, msg[:300]
        assert count() == before
        return e
    return None


# ---- billing ---------------------------------------------------------------------------------
def test_billing_mutations_load_or_are_refused(store, tmp_path):
    seeds = billing_seeds()
    count = lambda: store.query("SELECT count(*) AS n FROM raw_focus")["n"][0]  # noqa: E731
    i = [0]

    @FUZZ
    @given(data=mutated(seeds))
    def run(data):
        i[0] += 1
        p = tmp_path / f"bill-{i[0]}.csv"
        p.write_bytes(data)
        _typed_or_ok(lambda: ingest_billing(store, [p], now=NOW), count, p)

    run()


FORMS = {
    "iso": lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "iso_space": lambda t: t.strftime("%Y-%m-%d %H:%M:%S"),
    "offset": lambda t: (t + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
    "us": lambda t: f"{t.month}/{t.day}/{t.year} {t.hour}:{t.minute:02d}",
    "us2": lambda t: f"{t.month}/{t.day}/{t.year % 100:02d} {t.hour}:{t.minute:02d}",
    "eu": lambda t: f"{t.day}/{t.month}/{t.year} {t.hour}:{t.minute:02d}",
    "de": lambda t: f"{t.day}.{t.month}.{t.year} {t.hour:02d}:{t.minute:02d}",
    "unix": lambda t: str(int(t.timestamp())),
    "unix_ms": lambda t: str(int(t.timestamp() * 1000)),
}


def _fmt_money(d: Decimal, convention: str, grouped: bool) -> str:
    sign = "-" if d < 0 else ""
    whole, _, frac = f"{abs(d):f}".partition(".")
    if grouped:
        sep = "," if convention == "dot" else "."
        whole = f"{int(whole):,}".replace(",", sep)
    dec = "." if convention == "dot" else ","
    return sign + whole + (dec + frac if frac else "")


@given(costs=st.lists(st.decimals(min_value=Decimal("-99999"), max_value=Decimal("9999999"), places=4,
                                  allow_nan=False, allow_infinity=False), min_size=1, max_size=12),
       hours=st.lists(st.integers(0, 24 * 60), min_size=13, max_size=13),
       form=st.sampled_from(sorted(FORMS)), convention=st.sampled_from(["dot", "comma"]),
       grouped=st.booleans(), newline=st.sampled_from(["\n", "\r\n", "mixed"]), bom=st.booleans(),
       gz=st.booleans(), order=st.permutations(range(len(FOCUS_HEADER))))
@FUZZ
def test_lossless_variants_load_exact_totals(tmp_path_factory, costs, hours, form, convention, grouped,
                                             newline, bom, gz, order):
    """Whatever the dialect, date form, decimal convention and column order, the store holds
    exactly the values written."""
    from metrics.store import Store

    RUN["cases"] += 1
    d = tmp_path_factory.mktemp("lossless")
    store = Store(d / "s.duckdb").ensure()
    base = datetime(2026, 4, 1, tzinfo=timezone.utc)
    # a day above 12 and a value fitting only one decimal convention make the readings decidable
    times = [base + timedelta(days=19)] + [base + timedelta(hours=h) for h in hours[: len(costs)]]
    costs = [Decimal("0.5")] + costs
    rows = []
    for i, (c, t) in enumerate(zip(costs, times)):
        cell = _fmt_money(c, convention, grouped and abs(c) >= 1000)
        rows.append(["acct", "USD", FORMS[form](base), "", FORMS[form](t), "", cell, cell, "Usage",
                     "EC2", f"r-{i}", ""])
    table = [[r[i] for i in order] for r in [FOCUS_HEADER] + rows]
    text = _csv(table, "\n")
    if newline == "\r\n":
        text = text.replace(b"\n", b"\r\n")
    elif newline == "mixed":
        text = b"".join(line + (b"\r\n" if i % 2 else b"\n") for i, line in enumerate(text.split(b"\n")[:-1]))
    text = (b"\xef\xbb\xbf" if bom else b"") + text
    p = d / "bill.csv"
    p.write_bytes(gzip.compress(text) if gz else text)
    ingest_billing(store, [p], now=NOW)
    got = store.query("SELECT BilledCost AS c, ChargePeriodStart AS t FROM focus ORDER BY ResourceId")
    order_ids = sorted(range(len(rows)), key=lambda i: f"r-{i}")
    assert got["c"].to_list() == [costs[i] for i in order_ids]
    trunc = (lambda t: t.replace(second=0)) if form not in ("unix", "unix_ms") else (lambda t: t)
    assert got["t"].to_list() == [trunc(times[i]) for i in order_ids]


# ---- KPI, events, request logs, Evidently, onepane.toml -----------------------------------------
def kpi_seed() -> bytes:
    rows = [["time", "service", "model_version", "kpi", "value"]]
    rows += [[f"2025-04-{d:02d}", "s", "v1", k, str(d * 3)] for d in range(1, 6) for k in ("clicks", "views")]
    return _csv(rows)


def events_seeds() -> list[bytes]:
    recs = [{"ts": f"2025-04-0{d}T10:00:00Z", "kind": "deploy", "service": "s", "model_version": f"v{d}"}
            for d in range(1, 6)]
    return [b"".join(json.dumps(r).encode() + b"\n" for r in recs),
            _csv([["ts", "kind", "service"]] + [[r["ts"], r["kind"], r["service"]] for r in recs])]


def requests_seed() -> bytes:
    rows = [["ts", "service", "model_version", "status", "latency_ms", "prompt_tokens"]]
    rows += [[f"2025-04-01T10:00:{s:02d}.{s * 7:03d}Z", "s", "v1", "200", str(10 + s), str(s)] for s in range(20)]
    return _csv(rows)


@pytest.mark.parametrize("kind", ["kpi", "events_jsonl", "events_csv", "requests"])
def test_tabular_inputs_mutations(store, tmp_path, kind):
    seeds = {"kpi": [kpi_seed()], "events_jsonl": events_seeds()[:1], "events_csv": events_seeds()[1:],
             "requests": [requests_seed()]}[kind]
    suffix = ".jsonl" if kind == "events_jsonl" else ".csv"
    table = {"kpi": "raw_kpis", "events_jsonl": "raw_events", "events_csv": "raw_events",
             "requests": "raw_requests"}[kind]
    count = lambda: store.query(f"SELECT count(*) AS n FROM {table}")["n"][0]  # noqa: E731
    i = [0]

    @FUZZ
    @given(data=mutated(seeds))
    def run(data):
        i[0] += 1
        p = tmp_path / f"{kind}-{i[0]}{suffix}"
        p.write_bytes(data)
        call = {"kpi": lambda: ingest_kpis(store, p, now=NOW),
                "events_jsonl": lambda: ingest_events(store, p, now=NOW),
                "events_csv": lambda: ingest_events(store, p, now=NOW),
                "requests": lambda: read_requests(p, service="s", now=NOW)}[kind]
        _typed_or_ok(call, count, p)

    run()


def evidently_seed() -> bytes:
    doc = {"metadata": {"service": "s", "model_version": "v1"}, "timestamp": "2025-04-01T00:00:00",
           "metrics": [{"id": "m1", "config": {"type": "evidently:metric_v2:ValueDrift", "column": "age",
                                               "method": "K-S p_value", "threshold": 0.05}, "value": 0.2},
                       {"id": "m2", "config": {"type": "evidently:metric_v2:DriftedColumnsCount",
                                               "drift_share": 0.5}, "value": {"count": 0, "share": 0.0}}],
           "tests": []}
    return json.dumps(doc, indent=1).encode()


def test_evidently_mutations(store, tmp_path):
    count = lambda: store.query("SELECT count(*) AS n FROM raw_model_health")["n"][0]  # noqa: E731
    i = [0]

    @FUZZ
    @given(data=mutated([evidently_seed()]))
    def run(data):
        i[0] += 1
        p = tmp_path / f"ev-{i[0]}.json"
        p.write_bytes(data)
        _typed_or_ok(lambda: ingest_evidently(store, [p]), count, p)

    run()


def test_evidently_nan_p_value_is_a_failed_check(store, tmp_path):
    doc = json.loads(evidently_seed())
    doc["metrics"][0]["value"] = float("nan")
    p = tmp_path / "nan.json"
    p.write_text(json.dumps(doc))             # Python writes NaN, as Evidently's own JSON may
    p16 = tmp_path / "nan16.json"
    p16.write_bytes(gzip.compress(json.dumps({**doc, "timestamp": "2025-04-02T00:00:00"}).encode("utf-16")))
    ingest_evidently(store, [p, p16])
    got = store.query("SELECT status, value FROM raw_model_health WHERE feature = 'age'")
    assert got["status"].to_list() == ["drifted", "drifted"] and got["value"].to_list() == [None, None]


TOML_SEED = """[store]\npath = "s.duckdb"\n\n[[services]]\nname = "ranker"\nmodel_versions = ["v1", "v2"]\n
[inputs]\nearliest_date = "2010-01-01"\nmax_ahead = "30d"\n\n[pricing]\ngpu_hour = 1.5\n"""


@FUZZ
@given(data=mutated([TOML_SEED.encode()]))
def test_config_mutations(tmp_path_factory, data):
    RUN["cases"] += 1
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return                      # load_settings turns these into ConfigError (tested below)
    try:
        parse_settings(doc, "onepane.toml")
    except ConfigError as e:
        assert "\n" not in str(e).strip() and e.path == "onepane.toml"


def test_config_bad_bytes_are_config_errors(tmp_path):
    from metrics.config import load_settings
    for i, data in enumerate([b"\xff\xfe[store", b"[inputs]\nearliest_date = \"0004-01-01\"\n",
                              b"[inputs]\nmax_ahead = \"soon\"\n", b"[store]\npath = 1e400\n"]):
        p = tmp_path / f"c{i}.toml"
        p.write_bytes(data)
        with pytest.raises(OnepaneError):
            load_settings(p)


def test_kpi_header_names_differing_only_in_case_are_refused(store, tmp_path):
    """Found by the fuzzer: `Service` and `service` in one header raised polars' DuplicateError."""
    p = tmp_path / "k.csv"
    p.write_text("time,Service,service,model_version,kpi,value\n2025-04-01,s,s,v1,c,1\n")
    with pytest.raises(InputError) as e:
        ingest_kpis(store, p, now=NOW)
    assert (e.value.line, e.value.column) == (1, "service")
    assert store.query("SELECT status FROM _onepane_loads")["status"].to_list() == ["failed"]
