"""Price of one GPU-hour, so self-hosted inference has a cost too (read by the telemetry summary,
what-changed and the billing collector alike; it lives in the base layer because it only reads).

`gpu_hour_price(store, config)` -> (Decimal | None, currency):
1. `[pricing] gpu_hour` (and `currency`) from onepane.toml when set;
2. otherwise the billed GPU lines of the newest billing month in `focus` (gpu_hour_price.sql): rows
   whose unit is hours and whose SKU, description, service or resource type names a GPU (GPU,
   NVIDIA, A100, H100, L4, T4, V100, or an AWS GPU instance family p3/p4/p5/g4/g5/g6). Price =
   sum(EffectiveCost, else BilledCost) / sum(PricingQuantity), in the currency with the most such
   cost; the quantity is taken as GPU-hours (an instance with several GPUs bills per
   instance-hour: set `pricing.gpu_hour` for exact figures);
3. (None, currency) when neither exists.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

GPU_MATCH = ("(?i)(\\bgpu|nvidia|\\ba100|\\bh100|\\bh200|\\bl4\\b|\\bt4\\b|\\bv100|\\bl40"
             "|\\b(p3|p4d|p4de|p5|p5e|g4dn|g5|g6|g6e)\\.[0-9a-z]+)")
SQL = Path(__file__).parent / "sql" / "queries" / "gpu_hour_price.sql"


def gpu_hour_price(store, config) -> tuple[Decimal | None, str]:
    if config is None:
        from metrics.config import Settings

        config = Settings()
    p = config.pricing
    if p.gpu_hour is not None:
        return Decimal(str(p.gpu_hour)), p.currency
    df = store.query(SQL.read_text(encoding="utf-8"), {"gpu_match": GPU_MATCH})
    if not df.height or not df["qty"][0]:
        return None, p.currency
    return Decimal(df["cost"][0]) / Decimal(df["qty"][0]), df["currency"][0] or p.currency
