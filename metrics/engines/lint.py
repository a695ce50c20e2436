"""`onepane metrics check`: every view and query file must run on both engines.

Returns one issue per (file, problem); an empty list means every metric is written in the tested,
portable subset of DuckDB SQL (metrics/engines/transpile.py: PORTABLE and FUNCTION_MAP).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from metrics import queries
from metrics.analysis import signals
from metrics.engines.transpile import check_sql
from metrics.store import SQL_DIR

_VIEW = re.compile(r"(?is)CREATE\s+OR\s+REPLACE\s+(?:TEMP\s+)?VIEW\s+\w+\s+AS\s+")


@dataclass(frozen=True)
class Issue:
    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def sql_files() -> list[tuple[str, str]]:
    """(path relative to metrics/sql, the statement(s) as an engine would run them)."""
    out = []
    for layer in ("staged", "public", "queries", "analysis", "ledger"):
        for p in sorted((SQL_DIR / layer).glob("*.sql")):
            if layer == "queries":
                text = queries.sql_text(p.stem)
            elif layer == "analysis":
                text = signals.sql(p.stem)
            else:
                text = p.read_text(encoding="utf-8")
            text = text.replace("{lake}", "lake")
            for stmt in [s for s in _split(text) if s.strip()]:
                m = _VIEW.search(stmt)
                out.append((f"{layer}/{p.name}", stmt[m.end():] if m else stmt))
    return out


def _split(text: str) -> list[str]:
    """Statements of a file: split on `;` at line ends (the SQL files put one there)."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return re.split(r";\s*(?:\n|$)", body)


def check() -> list[Issue]:
    return [Issue(name, problem) for name, sql in sql_files() for problem in check_sql(sql)]
