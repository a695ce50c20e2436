"""Helpers for the ledger tests: publish small hand-written rows through real Loads."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from metrics.lake import Load


def day(d: str) -> datetime:
    return datetime.fromisoformat(d).replace(tzinfo=timezone.utc)


def put_costs(store, rows, scope="bill", supersede=False):
    """rows: (day, service, model_version, currency, effective_cost, billed_cost
    [, service_category [, consumed_unit]]) with costs as str."""
    recs = []
    for r in rows:
        d, s, v, cur, eff, billed = r[:6]
        extra = list(r[6:]) + [None, None]
        recs.append({"charge_period_start": day(d), "charge_period_end": day(d) + timedelta(days=1),
                     "billing_period_start": day(d[:7] + "-01"), "x_service": s, "x_model_version": v,
                     "billing_currency": cur, "effective_cost": eff, "billed_cost": billed,
                     "service_category": extra[0], "consumed_unit": extra[1]})
    frame = pl.DataFrame(
        recs,
        schema={"charge_period_start": pl.Datetime("us", "UTC"), "charge_period_end": pl.Datetime("us", "UTC"),
                "billing_period_start": pl.Datetime("us", "UTC"), "x_service": pl.Utf8,
                "x_model_version": pl.Utf8, "billing_currency": pl.Utf8, "effective_cost": pl.Utf8,
                "billed_cost": pl.Utf8, "service_category": pl.Utf8, "consumed_unit": pl.Utf8})
    with Load(store, "raw_focus", collector="test") as load:
        load.write(frame, scope=scope)
        if supersede:
            load.supersede_scopes([scope])
    return load


def put_requests(store, counts):
    """counts: {(day, service, version): n} -> n request rows spread over the day."""
    rows = []
    for (d, s, v), n in counts.items():
        for i in range(n):
            rows.append({"request_id": f"{s}-{v}-{d}-{i}", "arrived_at": day(d) + timedelta(seconds=60 * i),
                         "service": s, "model_version": v, "status": "200"})
    with Load(store, "raw_requests", collector="test") as load:
        load.write(pl.DataFrame(rows, schema={"request_id": pl.Utf8, "arrived_at": pl.Datetime("us", "UTC"),
                                              "service": pl.Utf8, "model_version": pl.Utf8,
                                              "status": pl.Utf8}))


def put_counter(store, service, version, points, metric="inference_requests_total", labels_extra=""):
    """points: [(iso time, cumulative value)] of one counter series."""
    labels = f'{{"model_version":"{version}","service":"{service}"{labels_extra}}}'
    rows = [{"sampled_at": day(t) if len(t) == 10 else datetime.fromisoformat(t.replace("Z", "+00:00")),
             "metric": metric, "labels": labels, "labels_hash": f"{service}/{version}{labels_extra}",
             "service": service, "model_version": version, "value": float(v)} for t, v in points]
    with Load(store, "raw_telemetry", collector="test") as load:
        load.write(pl.DataFrame(rows, schema={"sampled_at": pl.Datetime("us", "UTC"), "metric": pl.Utf8,
                                              "labels": pl.Utf8, "labels_hash": pl.Utf8,
                                              "service": pl.Utf8, "model_version": pl.Utf8,
                                              "value": pl.Float64}))


def put_kpis(store, tmp_path, rows, config, name="kpis.csv"):
    """rows: (day, service, version, kpi, value) -> a CSV ingested by the real KPI collector."""
    from collectors.kpi import ingest_kpis

    p = tmp_path / name
    p.write_text("time,service,model_version,kpi,value\n"
                 + "".join(f"{d},{s},{v},{k},{x}\n" for d, s, v, k, x in rows))
    return ingest_kpis(store, p, config=config)
