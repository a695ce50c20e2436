"""Governance controls as data: load `metrics/definitions/controls.toml` (or `[governance] controls`)
and validate it whole. Every problem comes back at once as an Issue naming the file and control id;
`load_controls` raises one DefinitionError listing them all, so a bad file never half-loads.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from metrics.errors import DefinitionError, OnepaneError
from metrics.times import parse_duration

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "definitions" / "controls.toml"
SQL_DIR = Path(__file__).resolve().parents[1] / "sql" / "governance"
TIERS = ("low", "medium", "high")
FUNCTIONS = ("GOVERN", "MAP", "MEASURE", "MANAGE")
SEVERITIES = ("high", "medium", "low")
KEYS = {"title", "nist", "tiers", "query", "sql", "evidence", "window", "window_by_tier", "severity"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_CATEGORY = re.compile(r"^(GOVERN|MAP|MEASURE|MANAGE) \d+(\.\d+)?$")


@dataclass(frozen=True)
class Issue:
    file: str
    control: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: controls.{self.control}: {self.message}"


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    function: str
    category: str
    tiers: tuple[str, ...]
    sql: str
    source: str                              # the .sql file, or "<file>#controls.<id>" for inline SQL
    evidence: tuple[str, ...] = ()
    window: timedelta | None = None          # None: [governance] window
    window_by_tier: dict[str, timedelta] = field(default_factory=dict)
    severity: str = "medium"

    def applies_to(self, tier: str | None) -> bool:
        return (tier or "low") in self.tiers

    def window_for(self, tier: str | None, default: timedelta) -> timedelta:
        return self.window_by_tier.get(tier or "low", self.window or default)


def _duration(value, file: str, cid: str, key: str, issues: list[Issue]) -> timedelta | None:
    if not isinstance(value, str):
        issues.append(Issue(file, cid, f"{key}: expected a duration such as \"30d\""))
        return None
    try:
        return parse_duration(value)
    except OnepaneError as e:
        issues.append(Issue(file, cid, f"{key}: {e}"))
        return None


def check_control(cid: str, raw, file: str, base: Path) -> tuple[Control | None, list[Issue]]:
    """One control entry -> (Control or None, its issues)."""
    issues: list[Issue] = []
    add = lambda msg: issues.append(Issue(file, cid, msg))
    if not _ID.match(cid):
        add("id must be lower_snake_case")
    if not isinstance(raw, dict):
        add("must be a table")
        return None, issues
    for k in sorted(set(raw) - KEYS):
        add(f"unknown key {k!r} (known: {', '.join(sorted(KEYS))})")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        add("title is missing")
    nist = raw.get("nist")
    function = category = ""
    if not isinstance(nist, dict):
        add("nist is missing: nist = { function = \"MEASURE\", category = \"MEASURE 2.4\" }")
    else:
        function, category = nist.get("function", ""), nist.get("category", "")
        for k in sorted(set(nist) - {"function", "category"}):
            add(f"nist: unknown key {k!r}")
        if function not in FUNCTIONS:
            add(f"nist.function {function!r} is not one of {', '.join(FUNCTIONS)}")
        if not isinstance(category, str) or not _CATEGORY.match(category):
            add(f"nist.category {category!r} is not like \"MEASURE 2.4\"")
        elif function in FUNCTIONS and not category.startswith(function + " "):
            add(f"nist.category {category!r} is not in function {function}")
    tiers = raw.get("tiers")
    if not isinstance(tiers, list) or not tiers:
        add(f"tiers must list at least one of {', '.join(TIERS)}")
        tiers = []
    for t in tiers:
        if t not in TIERS:
            add(f"tiers: unknown tier {t!r} (known: {', '.join(TIERS)})")
    sql = None
    source = f"{file}#controls.{cid}"
    if ("query" in raw) == ("sql" in raw):
        add("needs exactly one of query (a .sql file) or sql")
    elif "sql" in raw:
        sql = raw["sql"] if isinstance(raw["sql"], str) and raw["sql"].strip() else None
        if sql is None:
            add("sql is empty")
    else:
        q = raw["query"]
        path = None
        if isinstance(q, str) and q.endswith(".sql"):
            for folder in (base, SQL_DIR):
                if (folder / q).is_file():
                    path = folder / q
                    break
        if path is None:
            add(f"query {q!r}: no such .sql file beside {file} or in metrics/sql/governance/")
        else:
            sql, source = path.read_text(encoding="utf-8"), str(path)
    evidence = raw.get("evidence", [])
    if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
        add("evidence must be a list of column names")
        evidence = []
    window = _duration(raw["window"], file, cid, "window", issues) if "window" in raw else None
    by_tier: dict[str, timedelta] = {}
    wbt = raw.get("window_by_tier", {})
    if not isinstance(wbt, dict):
        add("window_by_tier must be a table such as { high = \"90d\" }")
    else:
        for t, v in wbt.items():
            if t not in TIERS:
                add(f"window_by_tier: unknown tier {t!r}")
            d = _duration(v, file, cid, f"window_by_tier.{t}", issues)
            if d is not None:
                by_tier[t] = d
    severity = raw.get("severity", "medium")
    if severity not in SEVERITIES:
        add(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    if issues:
        return None, issues
    return Control(cid, title.strip(), function, category, tuple(t for t in TIERS if t in tiers), sql,
                   source, tuple(evidence), window, by_tier, severity), []


def check_controls(data: dict, file: str, base: Path) -> tuple[list[Control], list[Issue]]:
    issues: list[Issue] = []
    for k in sorted(set(data) - {"controls"}):
        issues.append(Issue(file, "-", f"unknown top-level key {k!r}; controls go under [controls.<id>]"))
    entries = data.get("controls", {})
    if not isinstance(entries, dict) or not entries:
        issues.append(Issue(file, "-", "no [controls.<id>] tables"))
        return [], issues
    out: list[Control] = []
    for cid, raw in entries.items():
        c, errs = check_control(cid, raw, file, base)
        issues += errs
        if c:
            out.append(c)
    return out, issues


def load_controls(path: str | Path | None = None) -> list[Control]:
    """Read and validate a controls file as a whole; raise DefinitionError naming every issue."""
    p = Path(path) if path else DEFAULT_FILE
    if not p.is_file():
        raise DefinitionError(f"{p}: controls file not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise DefinitionError(f"{p}: not valid TOML: {e}") from None
    controls, issues = check_controls(data, str(p), p.parent)
    if issues:
        err = DefinitionError(f"{len(issues)} problem(s) in the controls: " + "; ".join(map(str, issues)))
        err.file, err.issues = str(p), issues
        raise err
    return controls
