"""Price of one GPU-hour: moved to metrics/pricing.py (the base layer); re-exported here for
callers of `collectors.billing.gpu_hour_price`."""
from __future__ import annotations

from metrics.pricing import GPU_MATCH, gpu_hour_price  # noqa: F401
