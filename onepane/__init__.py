"""`import onepane`: the public Python API (see metrics/api.py), opened on a store path.

    import onepane
    op = onepane.open("demo-data/onepane.duckdb", as_of="2026-11-30T00:00:00Z")
    op.unit_economics_week("2026-W48")
"""
from metrics.api import Onepane, Week, iso_week, open  # noqa: F401,A004

__all__ = ["Onepane", "Week", "iso_week", "open"]
