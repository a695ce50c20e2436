"""Pure model-health computations (no Evidently, no store): quality, calibration, fairness,
data-quality signals, sampling, and the Evidently report runner/parsers in `drift` (which imports
evidently only inside its functions).

Every function returns result rows as dicts with the raw_model_health columns that do not depend on
the window: metric, feature, value, threshold, status, method, sample_size, details.
"""
from __future__ import annotations

from typing import Any

OK, WARN, DRIFTED, INSUFFICIENT, ERROR = "ok", "warn", "drifted", "insufficient_data", "error"


def row(metric: str, value: float | None, *, feature: str | None = None, status: str | None = None,
        threshold: float | None = None, method: str | None = None, sample_size: int | None = None,
        details: dict[str, Any] | None = None) -> dict[str, Any]:
    """One result; a missing value is always `insufficient_data` (never a silent zero)."""
    if value is not None and value != value:           # NaN
        value = None
    if value is None and status is None:
        status = INSUFFICIENT
    return {"metric": metric, "feature": feature, "value": None if value is None else float(value),
            "threshold": threshold, "status": status or OK, "method": method,
            "sample_size": sample_size, "details": details}
