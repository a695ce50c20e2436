"""Billing ingest behaviour: bad input, idempotence, restatement, partial files, tags, estimates."""
from __future__ import annotations

import gzip
import json
import time
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from collectors.billing import ingest_billing
from collectors.runner import publish_services
from metrics.config import Settings, parse_settings
from metrics.errors import InputError
from tests.billing_helpers import FOCUS_HEADER, focus_row, total, write_csv


def _loads(store):
    return store.query("SELECT status, error, rows, source_file FROM _onepane_loads "
                       "ORDER BY finished_at").to_dicts()


def _raw_files(store):
    return sorted(p.name for p in (store.lake / "raw_focus").glob("*/*.parquet"))


# ---- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("case, line, column, fragment", [
    ("bad_number", 3, "BilledCost", "'12x'"),
    ("bad_date", 4, "ChargePeriodStart", "'2026-13-45 00:00:00'"),
    ("ragged", 3, None, "ragged row"),
])
def test_malformed_file_is_rejected_whole_with_file_line_column(store, tmp_path, case, line, column, fragment):
    good = write_csv(tmp_path / "good.csv", [focus_row("2")])
    ingest_billing(store, [good])
    before = (_raw_files(store), total(store))
    rows = [focus_row("1"), focus_row("2"), focus_row("3")]
    if case == "bad_number":
        rows[1][FOCUS_HEADER.index("BilledCost")] = "12x"
    elif case == "bad_date":
        rows[2][FOCUS_HEADER.index("ChargePeriodStart")] = "2026-13-45 00:00:00"
    else:
        rows[1] = rows[1][:5]
    bad = write_csv(tmp_path / f"{case}.csv", rows)
    with pytest.raises(InputError) as exc:
        ingest_billing(store, [bad])
    err = exc.value
    assert err.file == str(bad) and err.line == line
    if column:
        assert err.column == column
    else:
        assert err.column in FOCUS_HEADER
    assert fragment in str(err)
    assert (_raw_files(store), total(store)) == before, "store unchanged"
    last = _loads(store)[-1]
    assert last["status"] == "failed" and last["source_file"] == str(bad)
    assert f"line {line}" in last["error"]


@pytest.mark.parametrize("drop, what", [("BilledCost", "cost"), ("ChargePeriodStart", "date")])
def test_missing_cost_or_date_column(store, tmp_path, drop, what):
    header = [h for h in FOCUS_HEADER if h not in (drop, "EffectiveCost", "BillingPeriodStart")]
    rows = [[v for h, v in zip(FOCUS_HEADER, focus_row()) if h in header]]
    bad = write_csv(tmp_path / "x.csv", rows, header)
    with pytest.raises(InputError, match=f"no {what} column") as exc:
        ingest_billing(store, [bad], format="focus")
    assert exc.value.line == 1 and exc.value.file == str(bad)
    assert store.query("SELECT count(*) AS n FROM focus")["n"][0] == 0


def test_header_only_export_loads_zero_rows(store, tmp_path):
    f = write_csv(tmp_path / "empty.csv", [])
    r = ingest_billing(store, [f])
    assert r[0]["rows"] == 0 and not r[0]["skipped"]
    assert _loads(store)[-1]["status"] == "ok"


def test_null_markers_sci_notation_thousands_and_formats(store, tmp_path):
    rows = [focus_row("NULL"), focus_row("N/A"), focus_row("nan"), focus_row("1.5E-3"),
            focus_row("1,234.50"), focus_row(""), focus_row("None")]
    rows[3][FOCUS_HEADER.index("ChargePeriodStart")] = "9/3/2026"
    rows[4][FOCUS_HEADER.index("ChargePeriodStart")] = "2026-09-04T10:00Z"
    f = write_csv(tmp_path / "odd.csv", rows, newline="\r\n")
    gz = tmp_path / "odd.csv.gz"
    gz.write_bytes(gzip.compress(b"\xef\xbb\xbf" + f.read_bytes()))   # BOM + CRLF + gzip
    ingest_billing(store, [gz])
    assert total(store) == Decimal("0.0015") + Decimal("1234.50")
    days = store.query("SELECT ChargePeriodStart AS d FROM focus WHERE BilledCost IS NOT NULL "
                       "ORDER BY d")["d"].to_list()
    assert [d.isoformat() for d in days] == ["2026-09-03T00:00:00+00:00", "2026-09-04T10:00:00+00:00"]
    assert store.query("SELECT count(*) AS n FROM focus WHERE BilledCost IS NULL")["n"][0] == 5


@pytest.mark.parametrize("cost_marker_row, late_cost", [(None, None), (20, None), (250, None), (250, "1,000")],
                         ids=["none", "in-sample", "late", "late-thousands"])
def test_null_markers_in_text_and_typed_cells_of_a_clean_looking_file(store, tmp_path, monkeypatch,
                                                                     cost_marker_row, late_cost):
    # Large clean files are read with the reader typing numbers and times and the text cells
    # testing the markers in SQL; a marker in a number column (in the first rows the reader's
    # choice is based on, or later) must still be NULL, never an error or a wrong total.
    from collectors.billing import ingest as billing_ingest

    modes = []
    real = billing_ingest.prepare
    monkeypatch.setattr(billing_ingest, "prepare", lambda *a: (
        lambda r: modes.append((r[0].typed, r[0].markers_in_sql)) or r)(real(*a)))
    markers = ["NULL", "N/A", "None", "#N/A", "na", "NaN"]
    kept = ["Nan", "NULLS", "n.a.", "EC2"]                 # not markers: kept as written
    rows = []
    for i in range(300):
        r = focus_row(str(i % 7))
        r[FOCUS_HEADER.index("ResourceId")] = (markers + kept)[i % 10]
        r[FOCUS_HEADER.index("ServiceName")] = "NA" if i % 3 == 0 else "EC2"
        rows.append(r)
    if cost_marker_row is not None:
        rows[cost_marker_row][FOCUS_HEADER.index("BilledCost")] = late_cost or "N/A"
    ingest_billing(store, [write_csv(tmp_path / "markers.csv", rows)])
    want = sum(i % 7 for i in range(300) if i != cost_marker_row) + (1000 if late_cost else 0)
    assert total(store) == Decimal(want)
    got = dict(store.query("SELECT coalesce(ResourceId, '<null>') AS r, count(*) AS n FROM focus "
                           "GROUP BY ALL").rows())
    assert got == {"<null>": 180, **{k: 30 for k in kept}}
    assert store.query("SELECT count(*) AS n FROM focus WHERE ServiceName IS NULL")["n"][0] == 100
    # which reads it took (typed?, markers in SQL?): markers tested in SQL first; after a late
    # marker the reader tests them; after another value it cannot cast, the text path
    lean, typed, text = (True, True), (True, False), (False, False)
    assert modes == {(None, None): [lean], (20, None): [typed], (250, None): [lean, typed],
                     (250, "1,000"): [lean, text]}[(cost_marker_row, late_cost)]


@pytest.mark.parametrize("typed", [True, False], ids=["number-columns-typed", "text-path"])
def test_timestamps_with_offsets_become_utc(store, tmp_path, typed):
    # (the text path runs when a number needs the tolerant parser, e.g. a thousands separator)
    given = ["2026-09-02 01:30:00+02:00", "2026-09-02T01:30:00-05:00", "2026-09-02T01:30:00Z",
             "2026-09-02T01:30:00.250Z", "2026-09-02 01:30:00 Europe/Berlin", "2026-09-02 01:30:00",
             "2026-09-02"]
    rows = [focus_row("1" if typed else "1,000") for _ in given]
    for r, g in zip(rows, given):
        r[FOCUS_HEADER.index("ChargePeriodStart")] = g
    ingest_billing(store, [write_csv(tmp_path / "tz.csv", rows)])
    got = store.query("SELECT ChargePeriodStart AS d FROM focus")["d"].to_list()
    want = [datetime.fromisoformat(g.replace(" Europe/Berlin", "+02:00").replace("Z", "+00:00"))
            for g in given]
    want = [w if w.tzinfo else w.replace(tzinfo=timezone.utc) for w in want]
    assert sorted(d.timestamp() for d in got) == sorted(w.timestamp() for w in want)


def test_a_time_layout_change_after_the_sampled_rows_is_still_read_right(store, tmp_path):
    # the first rows decide whether the CSV reader parses the time columns itself; a later row
    # with an offset must still come out in UTC (the file is read again the tolerant way)
    rows = [focus_row("1") for _ in range(400)] + [focus_row("2")]
    rows[-1][FOCUS_HEADER.index("ChargePeriodStart")] = "2026-09-02T01:30:00+02:00"
    ingest_billing(store, [write_csv(tmp_path / "late.csv", rows)])
    got = store.query("SELECT ChargePeriodStart AS d FROM focus WHERE BilledCost = 2")["d"][0]
    assert got.isoformat() == "2026-09-01T23:30:00+00:00"
    assert total(store) == Decimal("402")


def test_non_iso_currency_is_kept_flagged_and_never_summed(store, tmp_path):
    f = write_csv(tmp_path / "c.csv", [focus_row("1", currency="USD"), focus_row("2", currency="BTCX")])
    r = ingest_billing(store, [f])
    kinds = [(w["kind"], w.get("currency")) for w in r[0]["warnings"]]
    assert ("non_iso_currency", "BTCX") in kinds
    details = json.loads(store.query("SELECT details FROM _onepane_loads WHERE status='ok'")["details"][0])
    assert any(w.get("currency") == "BTCX" for w in details["warnings"])
    by_cur = dict(store.query("SELECT BillingCurrency AS c, sum(BilledCost) AS t FROM focus "
                              "GROUP BY 1").iter_rows())
    assert by_cur == {"USD": Decimal("1"), "BTCX": Decimal("2")}


def test_cli_exits_1_on_bad_file_and_0_on_good(run_cli, tmp_path):
    rows = [focus_row("1"), focus_row("oops")]
    bad = write_csv(tmp_path / "bad.csv", rows)
    proc = run_cli("ingest", "billing", bad, "--db", tmp_path / "s.duckdb")
    assert proc.returncode == 1
    assert "bad.csv, line 3, column 'BilledCost'" in proc.stderr
    good = write_csv(tmp_path / "good.csv", [focus_row("4.25")])
    proc = run_cli("ingest", "billing", good, "--db", tmp_path / "s.duckdb", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["rows"] == 1
    out = run_cli("sql", "select sum(BilledCost) as t from focus", "--db", tmp_path / "s.duckdb",
                  "--format", "json", check=True)
    assert Decimal(json.loads(out.stdout)[0]["t"]) == Decimal("4.25")


# ---- idempotence and restatement ---------------------------------------------------------
def test_same_file_twice_changes_nothing(store, tmp_path):
    f = write_csv(tmp_path / "a.csv", [focus_row("1.25"), focus_row("2")])
    ingest_billing(store, [f])
    files = _raw_files(store)
    r = ingest_billing(store, [f])
    assert r[0]["skipped"] and _raw_files(store) == files
    assert total(store) == Decimal("3.25")


def test_same_content_under_another_name_is_skipped(store, tmp_path):
    a = write_csv(tmp_path / "a.csv", [focus_row("1.25")])
    ingest_billing(store, [a])
    files = _raw_files(store)
    b = tmp_path / "copy-of-a.csv"
    b.write_bytes(a.read_bytes())
    r = ingest_billing(store, [b])
    assert r[0]["skipped"] and _raw_files(store) == files and total(store) == Decimal("1.25")
    assert list((store.lake / "_staging").glob("*/*")) == []        # nothing left staged (a missing folder is empty)


def test_newer_complete_delivery_supersedes_period_and_as_of_shows_old(store, tmp_path):
    v1 = write_csv(tmp_path / "v1.csv", [focus_row("10"), focus_row("5", month="2026-10")])
    ingest_billing(store, [v1])
    between = datetime.now(timezone.utc)
    time.sleep(0.02)
    # restated September (10 -> 12, plus a new line); October untouched by this delivery
    v2 = write_csv(tmp_path / "v2.csv", [focus_row("12"), focus_row("0.5", resource="r-2")])
    ingest_billing(store, [v2])
    assert total(store, "strftime(BillingPeriodStart, '%Y-%m') = '2026-09'") == Decimal("12.5")
    assert total(store, "strftime(BillingPeriodStart, '%Y-%m') = '2026-10'") == Decimal("5")
    assert total(store, "strftime(BillingPeriodStart, '%Y-%m') = '2026-09'", as_of=between) == Decimal("10")
    # another account's period is not touched by a delivery for acct-1
    other = write_csv(tmp_path / "o.csv", [focus_row("7", account="acct-2")])
    ingest_billing(store, [other])
    assert total(store) == Decimal("12.5") + 5 + 7


def test_partial_files_deduplicate_by_row_identity(store, tmp_path):
    d1 = [focus_row("1", day="01"), focus_row("2", day="02")]
    d2 = [focus_row("2", day="02"), focus_row("3", day="03")]           # overlaps day 2
    ingest_billing(store, [write_csv(tmp_path / "p1.csv", d1)], delivery="partial")
    ingest_billing(store, [write_csv(tmp_path / "p2.csv", d2)], delivery="partial")
    assert total(store) == Decimal("6")
    assert store.query("SELECT count(*) AS n FROM focus")["n"][0] == 3


def test_partial_file_after_the_complete_delivery_of_its_month_is_not_counted_twice(store, tmp_path):
    month = [focus_row("1", day="01"), focus_row("2", day="02"), focus_row("3", day="03")]
    ingest_billing(store, [write_csv(tmp_path / "sept.csv", month)])               # complete
    before = datetime.now(timezone.utc)
    time.sleep(0.02)
    late = [focus_row("2", day="02"), focus_row("3", day="03")]                     # re-downloaded
    ingest_billing(store, [write_csv(tmp_path / "days.csv", late)], delivery="partial")
    assert total(store) == Decimal("6")
    # another month of the same account is not covered by the September delivery
    oct_ = [focus_row("4", month="2026-10", day="01")]
    ingest_billing(store, [write_csv(tmp_path / "oct.csv", oct_)], delivery="partial")
    assert total(store) == Decimal("10") and total(store, as_of=before) == Decimal("6")


def test_identical_lines_inside_one_file_both_count(store, tmp_path):
    f = write_csv(tmp_path / "dup.csv", [focus_row("1"), focus_row("1")])
    ingest_billing(store, [f], delivery="partial")
    assert total(store) == Decimal("2")


# ---- tags and allocation -----------------------------------------------------------------
def test_tags_normalized_and_allocation_keys_extracted(store, tmp_path):
    config = parse_settings({
        "services": [{"name": "ranker", "team": "search", "tags": {"app": "rank-api"}}],
        "allocation": {"service_keys": ["Service"], "team_keys": ["team"],
                       "model_version_keys": ["model_version"]}})
    rows = [
        focus_row("1", tags=json.dumps({"user:Team": " ads ", " Service": "bidder",
                                        "Model_Version": "v2"})),
        focus_row("2", tags=json.dumps({"App": "rank-api"})),
        focus_row("4", tags=""),
        focus_row("8", tags=json.dumps({"team": "fraud", "service": "scorer", "model_version": "v1"})),
    ]
    publish_services(store, config)
    ingest_billing(store, [write_csv(tmp_path / "t.csv", rows)], config=config)
    got = store.query("SELECT BilledCost AS c, Tags::VARCHAR AS tags, x_service, x_team, x_model_version "
                      "FROM focus ORDER BY c").to_dicts()
    assert json.loads(got[0]["tags"]) == {"team": "ads", "service": "bidder", "model_version": "v2"}
    assert (got[0]["x_service"], got[0]["x_team"], got[0]["x_model_version"]) == ("bidder", "ads", "v2")
    assert (got[1]["x_service"], got[1]["x_team"]) == ("ranker", "search")   # team from config
    assert got[2]["tags"] is None and got[2]["x_service"] == "__unallocated__"
    assert (got[3]["x_service"], got[3]["x_team"], got[3]["x_model_version"]) == ("scorer", "fraud", "v1")
    # nothing dropped: allocated + unallocated = billed
    assert total(store) == Decimal("15")


def test_aws_resource_tag_columns_become_tags(store, tmp_path):
    header = ["bill/BillingPeriodStartDate", "bill/PayerAccountId", "lineItem/UsageStartDate",
              "lineItem/UnblendedCost", "lineItem/CurrencyCode", "lineItem/LineItemType",
              "resourceTags/user:Team", "resourceTags/user:service"]
    rows = [["2026-09-01T00:00:00Z", "123", "2026-09-02T00:00:00Z", "3.5", "USD", "Usage", "Search", "ranker"],
            ["2026-09-01T00:00:00Z", "123", "2026-09-02T00:00:00Z", "1", "USD", "Tax", "", ""]]
    ingest_billing(store, [write_csv(tmp_path / "cur.csv", rows, header)])
    got = store.query("SELECT Tags::VARCHAR AS t, x_service, x_team, ChargeCategory FROM focus "
                      "ORDER BY BilledCost DESC").to_dicts()
    assert json.loads(got[0]["t"]) == {"team": "Search", "service": "ranker"}
    assert (got[0]["x_service"], got[0]["x_team"]) == ("ranker", "Search")
    assert got[1]["t"] is None and got[1]["ChargeCategory"] == "Tax"


# ---- estimated vs final ------------------------------------------------------------------
def test_invoice_id_marks_final_and_lag_marks_estimated(store, tmp_path):
    header = FOCUS_HEADER + ["InvoiceId"]
    rows = [focus_row("1", month="2026-09") + ["INV-1"], focus_row("2", month="2026-10") + [""]]
    ingest_billing(store, [write_csv(tmp_path / "inv.csv", rows, header)])
    est = dict(store.query("SELECT BilledCost AS c, x_estimated AS e FROM focus").iter_rows())
    assert est == {Decimal("1"): False, Decimal("2"): True}
    # no invoice column: estimated until period end + finalization lag (5d default)
    old = write_csv(tmp_path / "old.csv", [focus_row("3", month="2020-01", account="a2")])
    new = write_csv(tmp_path / "new.csv", [focus_row("4", month="2099-01", account="a2")])
    # 2099 is beyond the default date bounds (a year after the load): allow it here
    ingest_billing(store, [old, new], config=Settings.model_validate({"inputs": {"max_ahead": "36500d"}}))
    est = dict(store.query("SELECT BilledCost AS c, x_estimated AS e FROM focus "
                           "WHERE BillingAccountId = 'a2'").iter_rows())
    assert est == {Decimal("3"): False, Decimal("4"): True}


# ---- collect from config -----------------------------------------------------------------
def test_collect_runs_billing_sources_from_config(run_cli, tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    write_csv(exports / "a.csv", [focus_row("1.5")])
    write_csv(exports / "b.csv", [focus_row("2.5", account="acct-2")])
    (tmp_path / "onepane.toml").write_text(
        '[store]\npath = "s.duckdb"\n\n[[source]]\nname = "cloud"\ntype = "billing"\n'
        'paths = ["exports/*.csv"]\n')
    proc = run_cli("collect", check=True)
    assert "cloud (billing): 2 rows, ok" in proc.stdout
    out = run_cli("sql", "select sum(BilledCost) as t from focus", "--format", "json", check=True)
    assert Decimal(json.loads(out.stdout)[0]["t"]) == Decimal("4.0")


# ---- more formats ------------------------------------------------------------------------
def test_cur2_parquet_with_resource_tags_map(store, tmp_path):
    import duckdb
    pq = tmp_path / "cur2.parquet"
    duckdb.connect().execute(f"""COPY (SELECT * FROM (VALUES
        ('123', TIMESTAMP '2026-09-01', TIMESTAMP '2026-09-03 10:00', 2.5::DOUBLE, 'USD', 'Usage',
         MAP {{'user_team': 'search', 'user_service': 'ranker'}}),
        ('123', TIMESTAMP '2026-09-01', TIMESTAMP '2026-09-03 11:00', 0.1::DOUBLE, 'USD', 'Usage',
         MAP {{'user_team': 'ads'}})
        ) t(bill_payer_account_id, bill_billing_period_start_date, line_item_usage_start_date,
            line_item_unblended_cost, line_item_currency_code, line_item_line_item_type, resource_tags))
        TO '{pq}' (FORMAT parquet)""")
    r = ingest_billing(store, [pq])
    assert r[0]["format"] == "aws-cur"
    got = store.query("SELECT BilledCost AS c, x_service, x_team FROM focus ORDER BY c").to_dicts()
    assert got == [{"c": Decimal("0.1"), "x_service": "__unallocated__", "x_team": "ads"},
                   {"c": Decimal("2.5"), "x_service": "ranker", "x_team": "search"}]


def test_gcp_bigquery_json_lines_with_credits(store, tmp_path):
    rec = {"billing_account_id": "0X-1", "service": {"id": "6F81", "description": "Compute Engine"},
           "sku": {"id": "CP-1", "description": "N1 core"}, "usage_start_time": "2026-09-02T00:00:00Z",
           "usage_end_time": "2026-09-02T01:00:00Z", "labels": [{"key": "team", "value": "ml"}],
           "cost": 1.25, "currency": "EUR", "invoice": {"month": "202609"},
           "credits": [{"name": "SUD", "amount": -0.25, "full_name": None, "id": "c1", "type": "SUSTAINED_USAGE_DISCOUNT"}]}
    f = tmp_path / "gcp.jsonl"
    f.write_text(json.dumps(rec) + "\n" + json.dumps({**rec, "cost": 2, "credits": []}) + "\n")
    r = ingest_billing(store, [f])
    assert r[0]["format"] == "gcp"
    rows = store.query("SELECT ChargeCategory AS k, BillingCurrency AS cur, sum(BilledCost) AS t, "
                       "any_value(x_team) AS team FROM focus GROUP BY ALL ORDER BY k").to_dicts()
    assert rows == [{"k": "Credit", "cur": "EUR", "t": Decimal("-0.25"), "team": "ml"},
                    {"k": "Usage", "cur": "EUR", "t": Decimal("3.25"), "team": "ml"}]
    assert str(store.query("SELECT min(BillingPeriodStart) AS m FROM focus")["m"][0])[:7] == "2026-09"


def test_azure_localized_headers(store, tmp_path):
    header = ["Datum (Date)", "Kosten (CostInBillingCurrency)", "Währung (BillingCurrencyCode)",
              "Abonnement-ID (SubscriptionId)", "Verbrauchter Dienst (ConsumedService)",
              "Ressourcengruppe (ResourceGroup)", "Tags"]
    rows = [["09/02/2026", "1.5", "EUR", "s-1", "Microsoft.Compute", "rg", '"Team": "ml"'],
            ["09/03/2026", "2.25", "EUR", "s-1", "Microsoft.Compute", "rg", ""]]
    f = write_csv(tmp_path / "de.csv", rows, header)
    f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes().replace(b"\n", b"\r\n"))
    r = ingest_billing(store, [f])
    assert r[0]["format"] == "azure"
    got = store.query("SELECT sum(BilledCost) AS t, min(BillingPeriodStart) AS m, "
                      "max(x_team) AS team FROM focus").to_dicts()[0]
    assert got["t"] == Decimal("3.75") and got["m"].isoformat().startswith("2026-09-01") and got["team"] == "ml"


def test_cur_delivery_split_over_files_does_not_supersede_itself(store, tmp_path):
    header = ["bill/BillingPeriodStartDate", "bill/PayerAccountId", "lineItem/UsageStartDate",
              "lineItem/UnblendedCost", "lineItem/CurrencyCode"]
    row = lambda c: ["2026-09-01T00:00:00Z", "123", "2026-09-02T00:00:00Z", c, "USD"]  # noqa: E731

    def deliver(folder, assembly, parts):
        folder.mkdir(parents=True)
        names = []
        for i, cost in enumerate(parts, 1):
            names.append(f"cur-{i}.csv")
            write_csv(folder / names[-1], [row(cost)], header)
        (folder / "cur-Manifest.json").write_text(json.dumps(
            {"assemblyId": assembly, "reportKeys": [f"x/{n}" for n in names],
             "billingPeriod": {"start": "20260901T000000.000Z", "end": "20261001T000000.000Z"}}))
        return folder

    ingest_billing(store, [deliver(tmp_path / "d1", "a-1", ["1", "2"])])
    assert total(store) == Decimal("3"), "both files of one delivery count"
    ingest_billing(store, [deliver(tmp_path / "d2", "a-2", ["10", "20"])])
    assert total(store) == Decimal("30"), "the newer delivery replaces the older one"


def test_folder_skips_files_that_are_not_bills_and_cli_goes_on_after_a_bad_file(run_cli, tmp_path):
    d = tmp_path / "exports"
    d.mkdir()
    write_csv(d / "a.csv", [focus_row("1")])
    (d / "lookup.csv").write_text("product_code,category\nAmazonS3,Storage\n")
    write_csv(d / "b-bad.csv", [focus_row("x1")])
    write_csv(d / "c.csv", [focus_row("2", account="acct-2")])
    proc = run_cli("ingest", "billing", d, "--db", tmp_path / "s.duckdb", "--output", "json")
    assert proc.returncode == 1
    assert "b-bad.csv, line 2, column 'BilledCost'" in proc.stderr
    assert sorted(r["file"].rsplit("/", 1)[1] for r in json.loads(proc.stdout)) == ["a.csv", "c.csv"]
    out = run_cli("sql", "select sum(BilledCost) as t from focus", "--db", tmp_path / "s.duckdb",
                  "--format", "json", check=True)
    assert Decimal(json.loads(out.stdout)[0]["t"]) == Decimal("3")


@pytest.mark.parametrize("tags", ['{"team": oops}', '["team", "a"]', '"team"'])
def test_tags_that_are_not_json_fail_with_line_and_column(store, tmp_path, tags):
    rows = [focus_row("1", tags='{"Team":"a"}'), focus_row("2", tags=tags)]
    bad = write_csv(tmp_path / "tags.csv", rows)
    with pytest.raises(InputError) as exc:
        ingest_billing(store, [bad])
    assert (exc.value.line, exc.value.column) == (3, "Tags")
    assert store.query("SELECT count(*) AS n FROM focus")["n"][0] == 0


def test_a_line_longer_than_the_readers_default_limit_still_loads(store, tmp_path):
    huge = json.dumps({"team": "search", "notes": "x" * 3_000_000})     # one 3 MB line
    f = write_csv(tmp_path / "long.csv", [focus_row("1", tags=huge), focus_row("2.5")])
    ingest_billing(store, [f])
    assert total(store) == Decimal("3.5")
    assert store.query("SELECT max(length(Tags)) AS n FROM focus")["n"][0] == len(huge.replace(" ", ""))


def test_messy_tags_on_many_rows_normalize_like_the_rule_says(store, tmp_path):
    # many rows, few distinct tag texts (as in real bills): each row gets the normalized object
    texts = ['{"user:Team":" Search ","Service":"Ranker","team":"ignored","Env":null}',
             '{"resourceTags/user:Model_Version":"V2","owner":7}', '{"team":"ads"}']
    rows = [focus_row(str(i % 5), tags=texts[i % 3], resource=f"r-{i}") for i in range(3000)]
    ingest_billing(store, [write_csv(tmp_path / "many.csv", rows)])
    got = store.query("SELECT Tags, x_service, x_team, x_model_version, count(*) AS n FROM focus "
                      "GROUP BY ALL ORDER BY n DESC, Tags").rows()
    assert sorted(got) == sorted([
        ('{"team":"Search","service":"Ranker"}', "Ranker", "Search", None, 1000),
        ('{"model_version":"V2","owner":"7"}', "__unallocated__", "7", "V2", 1000),
        ('{"team":"ads"}', "__unallocated__", "ads", None, 1000)])


def test_tag_texts_after_the_lookup_sample_get_the_same_rule(store, tmp_path, monkeypatch):
    # The load normalizes the tag texts of its first rows once (a lookup table) and every other
    # text per row: both must give what the rule says, whichever path a row takes.
    from collectors.billing import ingest as billing_ingest

    monkeypatch.setattr(billing_ingest, "TAG_SAMPLE_ROWS", 40)
    used = []
    real = billing_ingest.tag_lookup
    monkeypatch.setattr(billing_ingest, "tag_lookup", lambda *a: used.append(real(*a)) or used[-1])
    early = ['{"user:Team":"Search","Service":"Ranker"}', '{"team":"ads","service":"bidder"}']
    late = ['{"Team":"Fraud","app":"scorer"}', '{"team":"infra","model_version":"v9"}', "",
            '{"TEAM":"ads ","Service":"Bidder"}']
    rows = [focus_row("1", tags=early[i % 2], resource=f"r-{i}") for i in range(40)]
    rows += [focus_row("1", tags=(late + early)[i % 6], resource=f"s-{i}") for i in range(60)]
    ingest_billing(store, [write_csv(tmp_path / "late.csv", rows)])
    assert used == [True]
    got = store.query("SELECT Tags, x_service, x_team, x_model_version, count(*) AS n FROM focus "
                      "GROUP BY ALL").rows()
    assert sorted(got, key=str) == sorted([
        ('{"team":"Search","service":"Ranker"}', "Ranker", "Search", None, 30),
        ('{"team":"ads","service":"bidder"}', "bidder", "ads", None, 30),
        ('{"team":"Fraud","app":"scorer"}', "scorer", "Fraud", None, 10),
        ('{"team":"infra","model_version":"v9"}', "__unallocated__", "infra", "v9", 10),
        (None, "__unallocated__", "__unallocated__", None, 10),
        ('{"team":"ads","service":"Bidder"}', "Bidder", "ads", None, 10)], key=str)


def test_gcp_python_repr_labels_with_quotes_in_values(store, tmp_path):
    header = ["billing_account_id", "service.description", "usage_start_time", "usage_end_time",
              "labels", "cost", "currency", "credits", "invoice.month"]
    labels = """[{'key': 'team', 'value': "O'Brien's team"}, {'key': 'Service', 'value': 'say "hi"'}]"""
    credits = "[{'name': 'SUD', 'amount': -0.1000000000000000001, 'full_name': None, 'id': 'c1'}]"
    rows = [["0X-1", "Compute Engine", "2026-09-02 00:00:00+00:00", "2026-09-02 01:00:00+00:00",
             labels, "1.25", "USD", credits, "202609"]]
    r = ingest_billing(store, [write_csv(tmp_path / "gcp.csv", rows, header)])
    assert r[0]["format"] == "gcp"
    got = store.query("SELECT ChargeCategory AS k, BilledCost AS c, x_team, x_service, Tags FROM focus "
                      "ORDER BY k").to_dicts()
    assert [(g["k"], g["c"]) for g in got] == [("Credit", Decimal("-0.100000000000000000")),
                                               ("Usage", Decimal("1.25"))]
    assert {g["x_team"] for g in got} == {"O'Brien's team"} and {g["x_service"] for g in got} == {'say "hi"'}
    assert json.loads(got[0]["Tags"]) == {"team": "O'Brien's team", "service": 'say "hi"'}
