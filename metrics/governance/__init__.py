"""Governance: the AI service inventory ([services.governance] in onepane.toml), control rules as
data (metrics/definitions/controls.toml) and their evaluation from the store's data, as of a time.

    from metrics.governance import evaluate
    report = evaluate(store, config, at=..., as_of=None)      # -> dict (docs/governance-report.schema.json)
"""
from metrics.governance.controls import Control, Issue, load_controls
from metrics.governance.evaluate import evaluate, light, matrix

__all__ = ["Control", "Issue", "load_controls", "evaluate", "light", "matrix"]
