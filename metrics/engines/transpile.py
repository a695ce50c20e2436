"""DuckDB SQL -> ClickHouse SQL: SQLGlot plus the rewrites SQLGlot does not do (tested one by one).

Everything here works on SQLGlot's syntax tree, never on text, so a string or a comment that
happens to contain a function name is left alone. `portable_functions()` is the tested list that
`onepane metrics check` holds metric SQL to.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import sqlglot
from sqlglot import exp

from metrics.errors import OnepaneError


class NotPortable(OnepaneError):
    """A query uses something the ClickHouse mapping does not cover (named in the message)."""


def literal(value) -> exp.Expression:
    """A Python value as a ClickHouse literal of the right type (params are inlined)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, Decimal)):
        return exp.Literal.number(str(value))
    if isinstance(value, datetime):
        v = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return exp.Anonymous(this="toDateTime64", expressions=[
            exp.Literal.string(v.strftime("%Y-%m-%d %H:%M:%S.%f")), exp.Literal.number(6),
            exp.Literal.string("UTC")])
    if isinstance(value, date):
        return exp.Anonymous(this="toDate", expressions=[exp.Literal.string(value.isoformat())])
    if isinstance(value, timedelta):
        return exp.Interval(this=exp.Literal.number(str(value.total_seconds())), unit=exp.Var(this="SECOND"))
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[literal(v) for v in value])
    return exp.Literal.string(str(value))


def _args(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    return [a for a in (node.args.get(k) for k in node.arg_types) if isinstance(a, exp.Expression)]


def _ch(template: str, **parts: exp.Expression) -> exp.Expression:
    """A ClickHouse expression from a template whose {names} are replaced by sub-trees."""
    tree = sqlglot.parse_one(template.format(**{k: f"__{k}__" for k in parts}), read="clickhouse")
    return tree.transform(lambda n: parts[n.name[2:-2]].copy()
                          if isinstance(n, exp.Column) and n.name.startswith("__") and n.name[2:-2] in parts
                          else n)


def _epoch(node):                      # DuckDB epoch(ts): seconds as a double, sub-second kept
    (ts,) = _args(node)[:1]
    return _ch("toUnixTimestamp64Micro(toDateTime64({ts}, 6, 'UTC')) / 1000000.0", ts=ts)


def _time_bucket(node):                # time_bucket(INTERVAL n unit, ts): the bucket's start
    width, ts = _args(node)[:2]          # toStartOfInterval gives a DateTime: keep DuckDB's type
    start = exp.Anonymous(this="toStartOfInterval", expressions=[ts.copy(), width.copy()])
    return exp.Anonymous(this="toDateTime64", expressions=[start, exp.Literal.number(6),
                                                          exp.Literal.string("UTC")])


def _timestamp_trunc(node):           # dateTrunc gives Date for month/year: keep a UTC timestamp
    if node.meta.get("ch_wrapped"):
        return node
    inner = node.copy()
    inner.meta["ch_wrapped"] = True
    return exp.Anonymous(this="toDateTime64", expressions=[inner, exp.Literal.number(6),
                                                          exp.Literal.string("UTC")])


def _quantile_cont(node):              # linear interpolation between order statistics (R7)
    x, q = _args(node)[:2]
    return _ch(f"quantileExactInclusive({q.sql()})({{x}})", x=x)


def _bool_agg(fn: str):                # bool_or/bool_and: max/min of a Bool is a Bool in ClickHouse
    return lambda node: exp.Anonymous(this=fn, expressions=[_args(node)[0].copy()])


def _series(node):                    # DuckDB range(a, b) is [a, b); generate_series(a, b) is [a, b]
    start, end, step = node.args.get("start"), node.args.get("end"), node.args.get("step")
    if not node.args.get("is_end_exclusive"):
        end = exp.Add(this=end.copy(), expression=exp.Literal.number(1))
    args = [start.copy(), end.copy()] + ([step.copy()] if step is not None else [])
    return exp.Anonymous(this="range", expressions=args)


# DuckDB function (lower case) -> builder of the ClickHouse expression. Each entry is tested
# against DuckDB in tests/test_engines.py; `onepane metrics check` allows exactly these plus the
# functions SQLGlot maps itself (PORTABLE).
FUNCTION_MAP = {
    "epoch": _epoch,
    "time_to_unix": _epoch,
    "time_bucket": _time_bucket,
    "date_bin": _time_bucket,
    "quantile_cont": _quantile_cont,
    "timestamp_trunc": _timestamp_trunc,
    "isfinite": _bool_agg("isFinite"),
    "generate_series": _series,
    "logical_or": _bool_agg("max"),
    "logical_and": _bool_agg("min"),
    "percentile_cont": _quantile_cont,
}


_TIMESTAMPS = {exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPLTZ}
# DuckDB's infinite timestamps, as the ends of ClickHouse's DateTime64 range
_INFINITY = {"infinity": datetime(2299, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
             "-infinity": datetime(1900, 1, 1, tzinfo=timezone.utc)}


def _similar_to(node: exp.Expression) -> exp.Expression:
    """x SIMILAR TO 'p' (DuckDB: the regular expression matches the whole string) -> match()."""
    if isinstance(node, exp.SimilarTo):
        pattern = exp.Concat(expressions=[exp.Literal.string("^(?:"), node.expression.copy(),
                                          exp.Literal.string(")$")])
        return exp.Anonymous(this="match", expressions=[node.this.copy(), pattern])
    return node


def _decimal_cast(node: exp.Cast) -> exp.Expression:
    """CAST(x AS DECIMAL(p, s)): DuckDB rounds half away from zero to s decimals, ClickHouse
    truncates. Cutting x to s + 1 decimals first (exact for text and decimals) and then rounding
    (ClickHouse's round() of a Decimal is half away from zero) gives DuckDB's digits. TRY_CAST
    stays a TRY_CAST inside (ClickHouse's Nullable cast gives NULL for text that is no number)."""
    params = [p.this.name if isinstance(p.this, exp.Expression) else str(p.this)
              for p in node.to.expressions]
    precision, scale = (int(params[0]), int(params[1])) if len(params) == 2 else \
        ((int(params[0]), 0) if params else (18, 3))            # DuckDB's DECIMAL = DECIMAL(18,3)
    wide = node.__class__(this=node.this.copy(), to=exp.DataType.build(f"DECIMAL(76, {scale + 1})"))
    out = node.__class__(this=exp.Anonymous(this="round", expressions=[wide, exp.Literal.number(scale)]),
                         to=exp.DataType.build(f"DECIMAL({precision}, {scale})"))
    wide.meta["ch_decimal"] = out.meta["ch_decimal"] = True
    return out


def _cast(node: exp.Cast) -> exp.Expression | None:
    """Casts whose ClickHouse form SQLGlot gets wrong: timestamps (microseconds, UTC, infinity),
    a cast of an interval to INTERVAL (a no-op), and text to JSON: DuckDB's JSON is the text
    itself, checked and kept as written (spaces, key order, number spelling), while ClickHouse's
    JSON type parses and writes it again (`{"a": 1}` -> `{"a":1}`); keep the text, refuse non-JSON."""
    to = node.to
    inner = node.this
    if to.this == exp.DataType.Type.DECIMAL and not node.meta.get("ch_decimal"):
        return _decimal_cast(node)
    if to.this == exp.DataType.Type.JSON:
        return _ch("if({x} IS NULL OR isValidJSON({x}), {x}, toString(throwIf(1, 'value is not valid JSON')))",
                   x=inner)
    if to.this in _TIMESTAMPS:
        if isinstance(inner, exp.Literal) and inner.is_string and inner.this.lower() in _INFINITY:
            return literal(_INFINITY[inner.this.lower()])
        return exp.Anonymous(this="toDateTime64", expressions=[inner.copy(), exp.Literal.number(6),
                                                              exp.Literal.string("UTC")])
    if to.this == exp.DataType.Type.INTERVAL and isinstance(inner, exp.Interval):
        return inner.copy()
    return None


def _json_keys(path: exp.Expression) -> list[exp.Expression]:
    """A DuckDB JSON path as ClickHouse's key arguments: `'$.a.b'` -> 'a', 'b' (array positions
    1-based), and the one dynamic form the SQL uses, `'$."' || expr || '"'` -> expr."""
    if isinstance(path, exp.JSONPath):
        keys: list[exp.Expression] = []
        for part in path.expressions:
            if isinstance(part, exp.JSONPathRoot):
                continue
            if isinstance(part, exp.JSONPathKey) and isinstance(part.this, str):
                keys.append(exp.Literal.string(part.this))
            elif isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, int):
                keys.append(exp.Literal.number(part.this + 1))
            else:
                raise NotPortable(f"JSON path {path.sql('duckdb')} has no ClickHouse form")
        return keys
    if (isinstance(path, exp.DPipe) and isinstance(path.this, exp.DPipe)
            and path.this.this.is_string and path.this.this.this == '$."'
            and path.expression.is_string and path.expression.this == '"'):
        return [path.this.expression.copy()]
    raise NotPortable(f"JSON path {path.sql('duckdb')} has no ClickHouse form")


def _json_extract_string(node: exp.Expression) -> exp.Expression:
    """json_extract_string(j, path) / j->>path: DuckDB gives NULL for a missing key and for a JSON
    null, ClickHouse's JSONExtractString '' for both (so a COALESCE over two keys never reached
    the second); JSONType is 'Null' in exactly those two cases."""
    if not isinstance(node, exp.JSONExtractScalar):
        return node
    args = [node.this.copy(), *_json_keys(node.expression)]
    typ = exp.Anonymous(this="JSONType", expressions=[a.copy() for a in args])
    return exp.If(this=exp.EQ(this=exp.Anonymous(this="toString", expressions=[typ]),
                              expression=exp.Literal.string("Null")),
                  true=exp.Null(), false=exp.Anonymous(this="JSONExtractString", expressions=args))


def _fname(node: exp.Expression) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def _values_pass(node: exp.Expression, values: dict) -> exp.Expression:
    """$param, getvariable(...) and now() -> literals (the engine inlines them)."""
    if isinstance(node, (exp.Parameter, exp.Placeholder)):
        name = node.name or (node.this.name if isinstance(node.this, exp.Expression) else str(node.this))
        if name not in values:
            raise NotPortable(f"parameter ${name} has no value")
        return literal(values[name])
    if isinstance(node, (exp.Anonymous, exp.Func)) and _fname(node) == "getvariable":
        var = node.expressions[0].name if isinstance(node, exp.Anonymous) else node.this.name
        if var not in values:
            raise NotPortable(f"getvariable({var!r}) has no value")
        return literal(values[var])
    if "__now__" in values and (isinstance(node, exp.CurrentTimestamp) or (
            isinstance(node, exp.Anonymous) and _fname(node) in ("now", "get_current_timestamp"))):
        return literal(values["__now__"])
    return node


def _function_pass(node: exp.Expression) -> exp.Expression:
    if isinstance(node, (exp.Anonymous, exp.Func)):
        mapped = FUNCTION_MAP.get(_fname(node))
        if mapped is not None:
            return mapped(node)
    return node


def _unshadow(select: exp.Select) -> None:
    """DuckDB resolves a name in WHERE, GROUP BY and inside aggregates to the source's column;
    ClickHouse to a same-named alias of the SELECT list first (`sum(x) AS x` then `max(x)`).
    Where the SELECT reads one named source and an alias's own definition reads the same-named
    column (so the source has it), qualify such references with the source."""
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is None or select.args.get("joins"):
        return
    source = from_.this
    name = source.alias_or_name if isinstance(source, (exp.Table, exp.Subquery)) else ""
    if not name:
        return
    # only aliases whose own definition reads a same-named column: then the source has it
    aliases = {e.alias for e in select.expressions if isinstance(e, exp.Alias)
               and any(c.name == e.alias and not c.table for c in e.this.find_all(exp.Column))}
    if not aliases:
        return
    parts = [e.this for e in select.expressions if isinstance(e, exp.Alias)]
    parts += [e for e in select.expressions if not isinstance(e, exp.Alias)]
    parts += [select.args[k] for k in ("where", "group", "having") if select.args.get(k)]
    having = select.args.get("having")
    for part in parts:
        for col in list(part.find_all(exp.Column)):
            if col.table or col.name not in aliases or col.find_ancestor(exp.Select) is not select:
                continue
            if part is having and not col.find_ancestor(exp.AggFunc):
                continue                              # DuckDB: a bare name in HAVING is the alias
            if isinstance(col.parent, exp.Alias) and col.parent.alias == col.name:
                continue                              # `x AS x`: nothing shadows
            col.set("table", exp.to_identifier(name))


def _zip_unnests(select: exp.Select, counter: list[int]) -> None:
    """DuckDB runs several unnest() of one SELECT list side by side (one row per position);
    ClickHouse's arrayJoin() of each would multiply them. Zip the arrays into one arrayJoin of
    tuples and take each column from it."""
    explodes = [e for e in select.expressions
                if isinstance(e.unalias(), exp.Explode) and not isinstance(e.unalias(), exp.Posexplode)]
    if len(explodes) < 2:
        return
    counter[0] += 1
    name = f"_unnest{counter[0]}"
    arrays = [e.unalias().this.copy() for e in explodes]
    new = []
    k = 0
    for e in select.expressions:
        if e in explodes:
            k += 1
            if k == 1:
                src = _ch(f"arrayJoin(arrayZip({', '.join(f'{{a{i}}}' for i in range(len(arrays)))})) AS {name}",
                          **{f"a{i}": a for i, a in enumerate(arrays)})
            else:
                src = exp.column(name)
            col = exp.Anonymous(this="tupleElement", expressions=[src, exp.Literal.number(k)])
            new.append(exp.alias_(col, e.alias) if isinstance(e, exp.Alias) else col)
        else:
            new.append(e)
    select.set("expressions", new)


def _counts_signed(tree: exp.Expression) -> exp.Expression:
    """count() is BIGINT (signed) in DuckDB, UInt64 in ClickHouse: cast it, so that a count in one
    branch of a UNION and a BIGINT in another find a common type, as in DuckDB."""
    for node in list(tree.find_all(exp.Count)):
        top = node
        while isinstance(top.parent, (exp.Filter, exp.Window)) and top.parent.this is top:
            top = top.parent
        if isinstance(top.parent, exp.Cast):
            continue
        top.replace(exp.Cast(this=top.copy(), to=exp.DataType.build("BIGINT")))
    return tree


_OR_NULL = {exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max"}


def _filtered_or_null(node: exp.Expression) -> exp.Expression:
    """sum/avg/min/max(x) FILTER (WHERE c): NULL when no row passes, as in DuckDB. ClickHouse's
    `sumIf` gives 0 (and avgIf nan) unless x is Nullable: `<agg>IfOrNull(x, c)`. (count FILTER
    is 0 on both.)"""
    if not isinstance(node, exp.Filter):
        return node
    name = _OR_NULL.get(type(node.this))
    where = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
    if name is None or where is None:
        return node
    return exp.Anonymous(this=f"{name}IfOrNull", expressions=[node.this.this.copy(), where.copy()])


def _name_subqueries(tree: exp.Expression) -> None:
    """A FROM (subquery) without an alias gets one, so that _unshadow can qualify with it."""
    for i, sub in enumerate(tree.find_all(exp.Subquery)):
        if not sub.alias and isinstance(sub.parent, exp.From):
            sub.set("alias", exp.TableAlias(this=exp.to_identifier(f"_src{i}")))


def _materialize_shared_ctes(tree: exp.Expression) -> None:
    """A CTE read more than once becomes `WITH name AS MATERIALIZED (...)` (run once, kept in a
    temporary table; ClickHouse's `enable_materialized_cte`). DuckDB materialises such a CTE
    itself, while ClickHouse inlines a plain CTE at every reference, so a page query whose final
    UNION reads `counts` twice, each of them over `inc` over `seq` over the samples, computed the
    service's counter increases four times (service_technical: 8 s on chdb, 0.8 s on DuckDB)."""
    for with_ in tree.find_all(exp.With):
        if with_.args.get("recursive"):
            continue
        for cte in with_.expressions:
            name = cte.alias
            reads = sum(1 for t in tree.find_all(exp.Table) if t.name == name and not t.db)
            if reads > 1:
                cte.set("materialized", True)


def to_clickhouse(sql: str, values: dict | None = None, materialize: bool = False) -> str:
    """Transpile one DuckDB statement; `values` fills $params and getvariable(...). `materialize`:
    CTEs read more than once are MATERIALIZED (the session has `enable_materialized_cte = 1`)."""
    values = {} if values is None else values
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as e:
        raise NotPortable(f"does not parse: {str(e).splitlines()[0]}") from None
    for node in tree.find_all(exp.Union):
        if node.args.get("by_name"):
            raise NotPortable("UNION ... BY NAME has no ClickHouse form; list the columns")
    # the tree is this call's own (just parsed): each pass rewrites it in place, where SQLGlot's
    # default would deep-copy the whole tree once per pass (half the transpile time of a page query)
    tree = tree.transform(lambda n: _values_pass(n, values), copy=False)
    tree = tree.transform(_function_pass, copy=False)
    tree = tree.transform(_similar_to, copy=False)
    tree = tree.transform(_json_extract_string, copy=False)
    tree = tree.transform(lambda n: (_cast(n) or n) if isinstance(n, exp.Cast)
                          and (not isinstance(n, exp.TryCast) or n.to.this == exp.DataType.Type.DECIMAL) else n,
                          copy=False)
    tree = _counts_signed(tree)
    tree = tree.transform(_filtered_or_null, copy=False)
    _name_subqueries(tree)
    counter = [0]
    for select in list(tree.find_all(exp.Select)):
        _unshadow(select)
        _zip_unnests(select, counter)
    for select in tree.find_all(exp.Select):      # `b.minute` is named `b.minute` in ClickHouse
        select.set("expressions", [exp.alias_(e, e.name) if isinstance(e, exp.Column) and e.table
                                   and not isinstance(e.this, exp.Star) else e
                                   for e in select.expressions])
    if materialize:
        _materialize_shared_ctes(tree)
    try:
        return tree.sql(dialect="clickhouse", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as e:
        raise NotPortable(str(e).splitlines()[0]) from None


# Functions (SQLGlot's names, lower case) whose ClickHouse form is checked against DuckDB: by
# FUNCTION_MAP's tests and by `onepane engines compare` on the demo company and the edge fixture.
PORTABLE = frozenset({
    "and", "or", "case", "cast", "try_cast", "if", "coalesce", "nullif", "greatest", "least",
    "exists", "array", "array_contains", "explode", "concat_ws", "lower", "regexp_like",
    "count", "sum", "avg", "min", "max", "any_value", "arg_max", "arg_min", "logical_or",
    "row_number", "lag", "floor", "ceil", "round", "is_nan", "is_inf", "isfinite",
    "json_extract", "json_extract_scalar", "timestamp_trunc", "datediff", "now", "getvariable",
    *FUNCTION_MAP,
})


class _AnyValue(dict):
    """Values for a lint run: every parameter and variable is NULL."""
    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return None


def function_names(tree: exp.Expression) -> set[str]:
    return {(f.name if isinstance(f, exp.Anonymous) else f.sql_name()).lower()
            for f in tree.find_all(exp.Func)}


def check_sql(sql: str) -> list[str]:
    """Problems that keep one statement off ClickHouse: functions outside PORTABLE, or a construct
    the transpiler refuses. Empty = portable."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as e:
        return [f"does not parse: {str(e).splitlines()[0]}"]
    issues = [f"function {name}() is not in the tested ClickHouse list"
              for name in sorted(function_names(tree) - PORTABLE)]
    try:
        to_clickhouse(sql, _AnyValue())
    except NotPortable as e:
        issues.append(str(e))
    return issues
