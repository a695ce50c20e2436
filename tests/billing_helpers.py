"""Small billing exports written by tests (FOCUS columns unless stated)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

FOCUS_HEADER = ["BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
                "ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost",
                "ChargeCategory", "ServiceName", "ResourceId", "Tags"]


def focus_row(cost="1.5", account="acct-1", month="2026-09", currency="USD", day="02",
              tags="", resource="r-1", effective=None, category="Usage", service="EC2") -> list[str]:
    y, m = map(int, month.split("-"))
    nxt = f"{y + (m == 12)}-{(m % 12) + 1:02d}"
    return [account, currency, f"{month}-01 00:00:00", f"{nxt}-01 00:00:00",
            f"{month}-{day} 00:00:00", f"{month}-{day} 01:00:00", cost,
            cost if effective is None else effective, category, service, resource, tags]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = FOCUS_HEADER,
              newline: str = "\n") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def total(store, where: str = "true", as_of=None, measure: str = "BilledCost"):
    return store.query(f"SELECT sum({measure}) AS t FROM focus WHERE {where}", as_of=as_of)["t"][0]
