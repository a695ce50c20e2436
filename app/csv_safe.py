"""CSV cells a spreadsheet would run as formulas get a leading `'` (OWASP CSV injection): every CSV
onepane writes - the app's downloads (app.components.charts.to_csv) and `--format csv` on the
command line (app.common.emit) - passes text cells and headers through `neutralize`."""
from __future__ import annotations

import re

# A cell starting with one of these is a formula; some spreadsheets also take the full-width forms,
# and a locale that splits on `;` starts a new cell after it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_AFTER_SEMICOLON = re.compile(r";(\s*)(?=[=+\-@\t\r\uff1d\uff0b\uff0d\uff20])")


def neutralize(value):
    """Prefix a text cell that a spreadsheet would run as a formula with a quote."""
    if not isinstance(value, str):
        return value
    if ";" in value:                 # `a;=cmd()` read with `;` as separator: quote that cell too
        value = _AFTER_SEMICOLON.sub(r";\1'", value)
    if value.lstrip(" ").startswith(FORMULA_START):
        return "'" + value
    return value
