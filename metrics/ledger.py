"""The unit-economics ledger: typed query functions over the SQL in metrics/sql/ledger/.

Trace: `onepane unit-economics` -> `unit_economics()` -> ledger_unit_economics.sql -> ledger_cost /
ledger_predictions / ledger_funnel .sql -> stg_cost, stg_requests, stg_telemetry, stg_kpis.

The ledger views are TEMP views created on a read-only connection, over two small tables built
from onepane.toml: `ledger_services` (team, baseline_version, funnel, attribution window) and
`ledger_fx` ([fx] rates into `reporting_currency`). So they need no migration, follow the config
in use, and every figure is available as of a past ingestion time (`as_of`), because they read
the time-travelled stg_* views.

Cost is `effective_cost` (amortised), falling back to `billed_cost` for lines without an effective
cost (flagged `used_billed_cost`). Currencies are never summed together: each stays on its own
row unless [fx] converts it to `reporting_currency` (flagged `fx_converted`).
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from metrics.config import Service, Settings
from metrics.errors import OnepaneError
from metrics.store import Store
from metrics.times import parse_duration

log = logging.getLogger(__name__)

LEDGER_SQL = Path(__file__).parent / "sql" / "ledger"

UNIT_ECONOMICS_COLUMNS = [
    "service", "model_version", "day", "currency", "cost", "predictions", "cost_per_prediction",
    "funnel_actions", "improved_actions", "cost_per_improved_action", "cost_per_1k_predictions",
    "cost_per_funnel_action", "funnel_denominator", "kpi_rate", "baseline_rate", "team",
    "direct_cost", "spread_cost", "fx_converted", "used_billed_cost", "predictions_source", "note",
]


def _services(store: Store, config: Settings, con: duckdb.DuckDBPyConnection) -> list[Service]:
    """The configured services; with none configured, the last published ones (stg_services)."""
    if config.services:
        return list(config.services)
    rows = con.execute("SELECT config FROM stg_services WHERE config IS NOT NULL").fetchall()
    return [Service.model_validate_json(r[0]) for r in rows]


def ledger_connection(store: Store, config: Settings | None = None, as_of=None) -> duckdb.DuckDBPyConnection:
    """A read-only connection with the ledger views (as of `as_of` when given)."""
    config = config or Settings()
    con = store.connect(as_of)
    try:
        services = _services(store, config, con)
        rows = []
        for s in services:
            days = None
            if s.funnel:
                days = max(1, math.ceil(parse_duration(s.funnel.attribution_window).total_seconds() / 86400))
            rows.append((s.name, s.team, s.baseline_version, s.funnel.action if s.funnel else None,
                         s.funnel.denominator if s.funnel else None, days))
        con.execute("CREATE TEMP TABLE ledger_services (service VARCHAR, team VARCHAR, "
                    "baseline_version VARCHAR, funnel_action VARCHAR, funnel_denominator VARCHAR, "
                    "attribution_days INTEGER)")
        if rows:
            con.executemany("INSERT INTO ledger_services VALUES (?, ?, ?, ?, ?, ?)", rows)
        con.execute("CREATE TEMP TABLE ledger_fx (currency VARCHAR, rate DECIMAL(18,9))")
        rc = config.reporting_currency.upper() if config.reporting_currency else None
        if config.fx and not rc:
            raise OnepaneError("onepane.toml: [fx] rates need `reporting_currency` (the currency "
                               "they convert into)")
        for cur, rate in config.fx.items():
            con.execute("INSERT INTO ledger_fx VALUES (?, ?)", [cur.upper(), rate])
        con.execute("SET VARIABLE ledger_reporting_currency = ?", [rc])
        con.execute("CREATE TEMP TABLE ledger_gpus (service VARCHAR, gpu VARCHAR)")
        gpus = [(s.name, g) for s in services for g in s.gpus]
        if gpus:
            con.executemany("INSERT INTO ledger_gpus VALUES (?, ?)", gpus)
        con.execute("CREATE TEMP TABLE ledger_shared (what VARCHAR, name VARCHAR)")
        al = config.allocation
        shared = [("service", x) for x in al.shared_services] + [("category", x) for x in al.shared_categories]
        if shared:
            con.executemany("INSERT INTO ledger_shared VALUES (?, ?)", shared)
        con.execute("SET VARIABLE ledger_shared_basis = ?", [al.shared_basis])
        for p in sorted(LEDGER_SQL.glob("*.sql")):
            text = p.read_text(encoding="utf-8")
            con.execute(text)
            if "-- materialize: true" in text:
                # computed once per connection: later views read it several times
                name = re.search(r"^-- name:\s*(\w+)", text, re.M).group(1)
                con.execute(f"CREATE TEMP TABLE _m_{name} AS SELECT * FROM {name}; "
                            f"DROP VIEW {name}; ALTER TABLE _m_{name} RENAME TO {name}")
    except Exception:
        con.close()
        raise
    return con


def _window(start, end, column: str = "day") -> tuple[str, list]:
    where, params = [], []
    if start is not None:
        where.append(f"{column} >= ?::TIMESTAMPTZ::DATE")
        params.append(start)
    if end is not None:
        where.append(f"{column} < ?::TIMESTAMPTZ::DATE")
        params.append(end)
    return (" AND ".join(where) or "TRUE"), params


def unit_economics(store: Store, config: Settings | None = None, service: str | None = None,
                   start: datetime | None = None, end: datetime | None = None,
                   as_of=None) -> pl.DataFrame:
    """One row per service × model_version × day × currency; see ledger_unit_economics.sql."""
    con = ledger_connection(store, config, as_of)
    try:
        where, params = _window(start, end)
        if service:
            where += " AND service = ?"
            params.append(service)
        return store.query(f"SELECT {', '.join(UNIT_ECONOMICS_COLUMNS)} FROM ledger_unit_economics "
                           f"WHERE {where} ORDER BY service, day, model_version NULLS FIRST, currency",
                           params, con=con)
    finally:
        con.close()


def team_economics(store: Store, config: Settings | None = None, start=None, end=None,
                   as_of=None) -> pl.DataFrame:
    con = ledger_connection(store, config, as_of)
    try:
        where, params = _window(start, end)
        return store.query(f"SELECT * FROM ledger_team WHERE {where} ORDER BY team, day, currency",
                           params, con=con)
    finally:
        con.close()


def token_economics(store: Store, config: Settings | None = None, service: str | None = None,
                    start=None, end=None, as_of=None) -> pl.DataFrame:
    """Cost per 1k tokens, vendor-billed and self-hosted side by side; see ledger_tokens.sql."""
    con = ledger_connection(store, config, as_of)
    try:
        where, params = _window(start, end)
        if service:
            where += " AND service = ?"
            params.append(service)
        return store.query(f"SELECT * FROM ledger_tokens WHERE {where} "
                           "ORDER BY service, day, currency", params, con=con)
    finally:
        con.close()


# ---- marginal infrastructure cost per basis point of lift -------------------------------------
@dataclass
class ArmTotals:
    model_version: str
    days: int                   # days with traffic (denominator > 0) in the window
    cost: float                 # Σ cost over those days
    daily_cost: float
    actions: float
    denominator: float
    rate: float | None
    daily_actions: list[float]
    daily_denominators: list[float]


def funnel_days(store: Store, config: Settings, service: str, start=None, end=None,
                as_of=None) -> tuple[str | None, pl.DataFrame]:
    """Per version and day of one service over [start, end): cost and funnel counts; the currency."""
    con = ledger_connection(store, config, as_of)
    try:
        where, params = _window(start, end)
        df = store.query(
            f"""SELECT model_version, day, currency, cost, funnel_actions, funnel_denominator
                FROM ledger_unit_economics
                WHERE service = ? AND model_version IS NOT NULL AND {where}
                ORDER BY model_version, day""", [service, *params], con=con)
    finally:
        con.close()
    currencies = sorted({c for c in df["currency"].to_list() if c is not None})
    if len(currencies) > 1:
        raise OnepaneError(f"service {service!r} is billed in {', '.join(currencies)}; costs in "
                           "different currencies cannot be compared. Add [fx] rates and "
                           "reporting_currency to onepane.toml")
    return (currencies[0] if currencies else None), df


def arm_totals(df: pl.DataFrame) -> dict[str, ArmTotals]:
    """Totals per version over the days with funnel traffic (denominator > 0)."""
    out: dict[str, ArmTotals] = {}
    for (version,), g in df.group_by(["model_version"], maintain_order=True):
        g = g.filter(pl.col("funnel_denominator").fill_null(0) > 0)
        acts = [float(x or 0) for x in g["funnel_actions"].to_list()]
        dens = [float(x) for x in g["funnel_denominator"].to_list()]
        cost = float(sum((c for c in g["cost"].to_list() if c is not None), 0))
        n = g.height
        out[version] = ArmTotals(version, n, cost, cost / n if n else math.nan, sum(acts), sum(dens),
                                 (sum(acts) / sum(dens)) if sum(dens) else None, acts, dens)
    return out


def experiment_window(store: Store, service: str, as_of=None) -> dict | None:
    """The full days inside the service's latest experiment (experiment_start .. the next
    experiment_stop, from stg_events): partial first and last days would mix the arms' costs."""
    df = store.query(
        """WITH s AS (SELECT occurred_at, detail FROM stg_events
                      WHERE service = ? AND kind = 'experiment_start'
                      ORDER BY occurred_at DESC LIMIT 1)
           SELECT s.occurred_at AS started_at, s.detail,
                  (SELECT min(e.occurred_at) FROM stg_events e WHERE e.service = ?
                     AND e.kind = 'experiment_stop' AND e.occurred_at > s.occurred_at) AS stopped_at
           FROM s""", [service, service], as_of=as_of)
    if df.height == 0:
        return None
    r = df.to_dicts()[0]
    first = r["started_at"].replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    last = (r["stopped_at"].replace(hour=0, minute=0, second=0, microsecond=0)
            if r["stopped_at"] is not None else None)
    return {"start": first, "end": last, "started_at": r["started_at"],
            "stopped_at": r["stopped_at"], "detail": r["detail"]}


def marginal_cost_per_bp(store: Store, config: Settings, service: str, a: str | None = None,
                         b: str | None = None, start=None, end=None, as_of=None,
                         confidence: float = 0.95, binary: bool | None = None) -> dict:
    """(daily cost B − daily cost A) ÷ (rate B − rate A in basis points), with an interval.

    A defaults to the service's baseline_version, B to the other version with most traffic.
    Costs are per day of traffic in the window, so arms that ran for different numbers of days
    compare fairly. Without --from/--to the window is the full days of the service's latest
    experiment (experiment_start/stop events), else the days on which both versions served, else
    (versions that took turns) each version's own days. The interval comes from the rate difference's interval (two-proportion normal
    interval for a binary KPI, a bootstrap over days otherwise; see metrics.whatif).
    """
    from metrics import whatif

    svc = config.service(service)
    if svc is None:
        raise OnepaneError(f"unknown service {service!r}; declare it in onepane.toml")
    if svc.funnel is None:
        raise OnepaneError(f"service {service!r} has no funnel in onepane.toml "
                           "([services.funnel] action and denominator)")
    window = {"start": start, "end": end, "basis": "given"}
    if start is None and end is None:
        exp = experiment_window(store, service, as_of)
        if exp is not None:
            window = {"start": exp["start"], "end": exp["end"],
                      "basis": f"full days of the experiment started {exp['started_at'].isoformat()}"
                               f" ({exp['detail']})"}
    currency, df = funnel_days(store, config, service, window["start"], window["end"], as_of)
    arms = arm_totals(df)
    a = a or svc.baseline_version
    if a is None:
        raise OnepaneError(f"service {service!r} has no baseline_version; pass --a")
    if b is None:
        others = sorted((x for x in arms.values() if x.model_version != a),
                        key=lambda x: -x.denominator)
        if not others:
            raise OnepaneError(f"service {service!r}: no version other than {a!r} has funnel data")
        b = others[0].model_version
    if window["basis"] == "given" and start is None and end is None:
        # no window and no experiment: compare the arms on the days both served traffic
        served = df.filter(pl.col("funnel_denominator").fill_null(0) > 0)
        both = (set(served.filter(pl.col("model_version") == a)["day"].to_list())
                & set(served.filter(pl.col("model_version") == b)["day"].to_list()))
        if both:
            arms = arm_totals(df.filter(pl.col("day").is_in(sorted(both))))
            window = {"start": min(both), "end": max(both) + timedelta(days=1),
                      "basis": "days both versions served traffic"}
        elif served.height:   # versions took turns: each arm over its own days
            window = {"start": served["day"].min(), "end": served["day"].max() + timedelta(days=1),
                      "basis": "each version's own days (no experiment events, no day both served)"}
    for v in (a, b):
        if v not in arms or arms[v].days == 0:
            raise OnepaneError(f"service {service!r}: version {v!r} has no funnel traffic in the window")
    A, B = arms[a], arms[b]
    if binary is None:   # a conversion-type KPI: every action is one of the denominator's units
        binary = all(x <= d for x, d in zip(A.daily_actions + B.daily_actions,
                                            A.daily_denominators + B.daily_denominators))
    res = whatif.marginal_cost_per_bp(
        cost_a=A.daily_cost, cost_b=B.daily_cost, actions_a=A.actions, n_a=A.denominator,
        actions_b=B.actions, n_b=B.denominator, confidence=confidence,
        daily_a=None if binary else list(zip(A.daily_actions, A.daily_denominators)),
        daily_b=None if binary else list(zip(B.daily_actions, B.daily_denominators)))
    return {"service": service, "a": a, "b": b, "currency": currency, "window": window,
            "kpi": svc.funnel.action, "denominator": svc.funnel.denominator,
            "arm_a": _arm(A), "arm_b": _arm(B), **res}


def _arm(x: ArmTotals) -> dict:
    d = asdict(x)
    d.pop("daily_actions")
    d.pop("daily_denominators")
    return d


# ---- what-if ---------------------------------------------------------------------------------
def service_baseline(store: Store, config: Settings, service: str, start=None, end=None,
                     as_of=None):
    """A service's average day over [start, end) and the fixed/variable split of its cost."""
    from metrics import whatif

    df = unit_economics(store, config, service, start, end, as_of)
    if df.height == 0:
        raise OnepaneError(f"no ledger data for service {service!r} in the window")
    currencies = sorted({c for c in df["currency"].to_list() if c is not None})
    if len(currencies) > 1:
        raise OnepaneError(f"service {service!r} is billed in {', '.join(currencies)}; add [fx] "
                           "rates and reporting_currency to onepane.toml to combine them")
    daily = (df.group_by("day").agg(
        pl.col("cost").cast(pl.Float64).sum().alias("cost"),
        pl.col("predictions").sum().alias("predictions"),
        pl.col("funnel_actions").sum().alias("actions"),
        pl.col("funnel_denominator").sum().alias("denominator"),
        pl.col("funnel_actions").is_not_null().any().alias("has_funnel"),
    ).sort("day"))
    daily = daily.filter(pl.col("cost") > 0)
    if daily.height == 0:
        raise OnepaneError(f"no cost for service {service!r} in the window")
    fixed, variable, how = whatif.fit_fixed_variable(daily["cost"].to_list(),
                                                     daily["predictions"].to_list())
    n = daily.height
    svc = config.service(service)
    base_rate = None
    funnel = bool(daily["has_funnel"].any())
    if funnel and svc and svc.baseline_version:
        b = df.filter(pl.col("model_version") == svc.baseline_version)
        den = b["funnel_denominator"].sum()
        base_rate = (b["funnel_actions"].sum() / den) if den else None
    marginal, marginal_note, lift = None, None, None
    if funnel and svc and svc.funnel and svc.baseline_version:
        try:   # the experiment's own window, whatever [start, end) is: one lift, one marginal cost
            m = marginal_cost_per_bp(store, config, service, as_of=as_of)
            marginal, marginal_note, lift = m["marginal_cost_per_bp"], m["display"], m["lift_bp"]
        except OnepaneError as e:
            marginal_note = str(e)
    base = whatif.Baseline(
        daily_cost=daily["cost"].sum() / n, fixed_cost=fixed, variable_cost_per_prediction=variable,
        predictions=daily["predictions"].sum() / n,
        funnel_denominator=(daily["denominator"].sum() / n) if funnel else None,
        funnel_actions=(daily["actions"].sum() / n) if funnel else None,
        baseline_rate=base_rate, marginal_cost_per_bp=marginal, lift_bp=lift)
    return base, {"currency": currencies[0] if currencies else None, "days": n,
                  "cost_split": how, "marginal_cost": marginal_note}


def what_if(store: Store, config: Settings, service: str, kpi_drop: float = 0.0,
            price_change: float = 0.0, traffic: float = 0.0, start=None, end=None,
            as_of=None) -> dict:
    """Today's average day for the service next to the scenario's (see metrics.whatif.scenario)."""
    from metrics import whatif

    base, info = service_baseline(store, config, service, start, end, as_of)
    return {"service": service, **info, **whatif.scenario(base, kpi_drop, price_change, traffic)}
