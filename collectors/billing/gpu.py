"""Price of one GPU-hour for self-hosted inference (placeholder, filled below)."""
from decimal import Decimal


def gpu_hour_price(store, config):
    p = config.pricing
    return (Decimal(p.gpu_hour) if p.gpu_hour is not None else None), p.currency
