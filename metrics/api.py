"""The public Python API: one object, opened on a store path, that notebooks, the weekly report,
the /metrics exporter and the app share, so each number is computed one way only.

    >>> import onepane                                       # or: from metrics import api
    >>> onepane.iso_week("2026-W48").start.isoformat()
    '2026-11-23T00:00:00+00:00'
    >>> op = onepane.open("demo-data/onepane.duckdb", as_of="2026-11-30T00:00:00Z")  # doctest: +SKIP
    >>> op.unit_economics_week("2026-W48").columns[:4]    # doctest: +SKIP
    ['service', 'currency', 'cost', 'predictions']

Every method reads the store as it was at `as_of` (None = now), so a report built with a fixed
`as_of` never changes after a bill restatement. Methods that need "now" use `self.now` (default:
`as_of`, else the clock when the object was opened): pass `now=` to pin it.

Trace: a method here -> metrics.ledger / metrics.analysis.* / metrics.queries -> .sql -> stg_* -> raw_*.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import polars as pl

from metrics.config import Settings, load_settings
from metrics.errors import OnepaneError
from metrics.store import Store
from metrics.times import parse_time, utcnow

log = logging.getLogger(__name__)

__all__ = ["Onepane", "Week", "open", "iso_week"]


@dataclass(frozen=True)
class Week:
    """An ISO week as a half-open UTC window [start, end)."""
    label: str
    start: datetime
    end: datetime

    def previous(self) -> "Week":
        return iso_week(self.start - timedelta(days=1))


def iso_week(value: str | date | datetime) -> Week:
    """'2026-W48' (or any instant or date inside the week) -> Week.

    >>> iso_week("2026-W48").start.isoformat(), iso_week("2026-W48").end.isoformat()
    ('2026-11-23T00:00:00+00:00', '2026-11-30T00:00:00+00:00')
    >>> iso_week("2026-11-29T23:59:00Z").label
    '2026-W48'
    >>> iso_week("2026-W01").start.date().isoformat()     # ISO week 1 holds the first Thursday
    '2025-12-29'
    """
    if isinstance(value, str) and "-W" in value.upper():
        try:
            y, w = value.upper().split("-W")
            d = date.fromisocalendar(int(y), int(w), 1)
        except ValueError:
            raise OnepaneError(f"not an ISO week: {value!r} (use e.g. 2026-W48)") from None
    else:
        t = value if isinstance(value, date) and not isinstance(value, datetime) else \
            parse_time(value).date()
        d = t - timedelta(days=t.weekday())
    y, w, _ = d.isocalendar()
    start = datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
    return Week(f"{y}-W{w:02d}", start, start + timedelta(days=7))


def _ratio(num, den, scale: float = 1.0) -> float | None:
    if num is None or den is None or float(den) <= 0:
        return None
    return float(num) * scale / float(den)


def _sum(values: Iterable) -> Decimal | float | None:
    vals = [v for v in values if v is not None]
    return sum(vals[1:], vals[0]) if vals else None


class Onepane:
    """A store opened for reading, pinned to one point in (ingestion) time.

    `path`: the DuckDB store; `config`: a Settings or a path to onepane.toml (default: the usual
    lookup); `as_of`: what the store knew then (None = everything); `now`: the clock for methods
    that need one (default: as_of, else the time of opening).
    """

    def __init__(self, path: str | Path | Store, config: Settings | str | Path | None = None,
                 as_of=None, now=None):
        self.store = path if isinstance(path, Store) else Store(path)
        if not Path(self.store.db_path).exists():
            raise OnepaneError(f"no store at {self.store.db_path}; run `onepane init` or `onepane demo`")
        self.config = config if isinstance(config, Settings) else load_settings(config)
        self.as_of = parse_time(as_of) if as_of is not None else None
        self.now = parse_time(now) if now is not None else (self.as_of or utcnow())

    def __repr__(self) -> str:
        return f"Onepane({str(self.store.db_path)!r}, as_of={self.as_of and self.as_of.isoformat()!r})"

    # ---- plumbing ------------------------------------------------------------------------
    def connect(self):
        """A read-only DuckDB connection showing the store as of `self.as_of`."""
        return self.store.connect(self.as_of)

    def sql(self, query: str, params: list | dict | None = None) -> pl.DataFrame:
        """Any read query, as of `self.as_of`."""
        return self.store.query(query, params, as_of=self.as_of)

    def week(self, value: str | date | datetime | None = None) -> Week:
        """The ISO week named (default: the last full week before `now`)."""
        return iso_week(value) if value is not None else iso_week(self.now).previous()

    def services(self) -> list[str]:
        """Configured services, else the services the store has data for."""
        names = [s.name for s in self.config.services]
        if names:
            return names
        from metrics import queries
        return sorted(queries.services_known(self.store, as_of=self.as_of)["service"].to_list())

    def team_of(self, service: str) -> str | None:
        svc = self.config.service(service)
        return svc.team if svc is not None else None

    # ---- unit economics ------------------------------------------------------------------
    def unit_economics(self, start=None, end=None, service: str | None = None) -> pl.DataFrame:
        """The ledger: one row per service × model_version × day × currency (metrics.ledger)."""
        from metrics.ledger import unit_economics
        return unit_economics(self.store, self.config, service, start, end, self.as_of)

    def token_economics(self, start=None, end=None, service: str | None = None) -> pl.DataFrame:
        from metrics.ledger import token_economics
        return token_economics(self.store, self.config, service, start, end, self.as_of)

    def unit_economics_window(self, start: datetime, end: datetime,
                              service: str | None = None, by_version: bool = False) -> pl.DataFrame:
        """Totals over [start, end) per service (× model_version when `by_version`) × currency:
        cost, predictions, tokens, improved_actions and the ratios cost_per_prediction,
        cost_per_1k_tokens, cost_per_improved_action (None where undefined, never 0)."""
        ue = self.unit_economics(start, end, service)
        tk = self.token_economics(start, end, service)
        keys = ["service", "model_version", "currency"] if by_version else ["service", "currency"]
        out = []
        for key, g in ue.group_by(keys, maintain_order=True):
            row = dict(zip(keys, key))
            cost = _sum(g["cost"].to_list())
            preds = _sum(g["predictions"].to_list())
            improved = _sum(g.filter(pl.col("improved_actions") > 0)["improved_actions"].to_list())
            cost_impr = _sum(g.filter(pl.col("improved_actions") > 0)["cost"].to_list())
            t = tk.filter((pl.col("service") == row["service"])
                          & (pl.col("currency").eq_missing(row["currency"])))
            tcost = _sum([(a or 0) + (b or 0) for a, b in zip(t["vendor_cost"].to_list(),
                                                               t["self_hosted_cost"].to_list())
                          if a is not None or b is not None]) if t.height else None
            tokens = _sum(t["served_tokens"].to_list()) if t.height else None
            out.append({**row, "cost": cost, "predictions": preds,
                        "cost_per_prediction": _ratio(cost, preds),
                        "tokens": tokens, "cost_per_1k_tokens": None if by_version else _ratio(tcost, tokens, 1000),
                        "improved_actions": improved,
                        "cost_per_improved_action": _ratio(cost_impr, improved)})
        schema = {**{k: pl.Utf8 for k in keys}, "cost": pl.Float64, "predictions": pl.Float64,
                  "cost_per_prediction": pl.Float64, "tokens": pl.Float64,
                  "cost_per_1k_tokens": pl.Float64, "improved_actions": pl.Float64,
                  "cost_per_improved_action": pl.Float64}
        return pl.DataFrame([{k: (float(v) if isinstance(v, Decimal) else v) for k, v in r.items()}
                             for r in out], schema=schema, orient="row") if out else pl.DataFrame(schema=schema)

    def unit_economics_week(self, week: str | Week | None = None,
                            service: str | None = None) -> pl.DataFrame:
        """This week's unit economics per service × currency next to the week before's, with
        relative changes (`<ratio>_change`, e.g. 0.5 = +50 %)."""
        w = week if isinstance(week, Week) else self.week(week)
        cur = self.unit_economics_window(w.start, w.end, service)
        prev = self.unit_economics_window(w.previous().start, w.previous().end, service)
        ratios = ["cost_per_prediction", "cost_per_1k_tokens", "cost_per_improved_action"]
        prev = prev.select("service", "currency", "cost", *ratios).rename(
            {c: f"prev_{c}" for c in ["cost", *ratios]})
        df = cur.join(prev, on=["service", "currency"], how="left")
        for c in ["cost", *ratios]:
            df = df.with_columns(pl.when(pl.col(f"prev_{c}") > 0)
                                 .then(pl.col(c) / pl.col(f"prev_{c}") - 1).otherwise(None)
                                 .alias(f"{c}_change"))
        return df.with_columns(pl.lit(w.label).alias("week")).sort("service", "currency")

    def marginal_cost(self, service: str, **kw) -> dict | None:
        """Marginal infrastructure cost per basis point of lift of the service's latest
        experiment (metrics.ledger.marginal_cost_per_bp), or None when it has none."""
        from metrics.ledger import marginal_cost_per_bp
        try:
            return marginal_cost_per_bp(self.store, self.config, service, as_of=self.as_of, **kw)
        except OnepaneError as e:
            log.info("no marginal cost service=%s reason=%s", service, e)
            return None

    def running_experiments(self, at: datetime | None = None) -> list[dict]:
        """Services whose latest experiment had started by `at` (default now) and was still running
        at the start of the week before `at`."""
        from metrics.ledger import experiment_window
        at = at or self.now
        out = []
        for s in self.services():
            exp = experiment_window(self.store, s, self.as_of)
            if exp and exp["started_at"] < at and (exp["stopped_at"] is None
                                                  or exp["stopped_at"] > at - timedelta(days=7)):
                out.append({"service": s, **exp})
        return out

    # ---- what moved, budgets, SLOs, alerts -----------------------------------------------
    def what_changed(self, service: str, at: datetime | None = None,
                     window: timedelta = timedelta(days=7)) -> list[dict[str, Any]]:
        """Ranked explanations for `service` in [at − window, at) against the window before
        (metrics.analysis.what_changed); [] when the service has no data then."""
        from metrics.analysis.what_changed import what_changed
        try:
            return what_changed(self.store, service, at or self.now, window=window,
                                config=self.config, as_of=self.as_of)
        except OnepaneError as e:
            log.info("what changed skipped service=%s reason=%s", service, e)
            return []

    def budgets(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """Per configured budget: month to date, month-end forecast (80 % interval) and status."""
        from metrics.analysis.budgets import budget_status
        con = self.connect()
        try:
            return budget_status(self.store, self.config, at or self.now, con=con)
        finally:
            con.close()

    def slos(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """Per service and SLO: error budget spent/remaining over its period and burn-rate windows."""
        from metrics.analysis.slo import evaluate_slos
        con = self.connect()
        try:
            return evaluate_slos(self.store, self.config, at or self.now, con=con)
        finally:
            con.close()

    def cost_anomalies(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Days of unusually high cost per service/team/SKU in [start, end), worst first."""
        from metrics.analysis.anomalies import cost_anomalies
        return cost_anomalies(self.store, start, end, as_of=self.as_of)

    def decompose_cost(self, service: str | None, before: tuple[datetime, datetime],
                       after: tuple[datetime, datetime]) -> dict[str, Any] | None:
        """Cost change between two windows split into price, volume and mix effects, with each
        dimension's top contributor (metrics.analysis.anomalies.decompose_cost)."""
        from metrics.analysis.anomalies import decompose_cost
        return decompose_cost(self.store, service, before, after, as_of=self.as_of)

    def freshness(self, late_after: str = "1d") -> pl.DataFrame:
        """Per layer and service: newest data time, rows and late rows (metrics.queries)."""
        from metrics import queries
        return queries.freshness(self.store, late_after, self.as_of)

    def model_health(self, service: str, start: datetime, end: datetime) -> pl.DataFrame:
        """Drift, quality, calibration and fairness values per window (metrics.queries.service_model)."""
        from metrics import queries
        return queries.service_model(self.store, service, start, end, self.as_of)

    def events(self, start=None, end=None, services: Iterable[str] | None = None) -> pl.DataFrame:
        from metrics import queries
        return queries.events(self.store, start, end, services, self.as_of)

    def daily_unit_cost(self, start=None, end=None, services: Iterable[str] | None = None) -> pl.DataFrame:
        """day, service, billing_currency, effective_cost, requests, cost_per_prediction."""
        from metrics import queries
        return queries.unit_cost_daily(self.store, start, end, services, self.as_of)

    # ---- decisions -----------------------------------------------------------------------
    def decisions(self, service: str | None = None, since=None, until=None,
                  kind: str | None = None) -> pl.DataFrame:
        """Recorded decisions in [since, until) (metrics.decisions.list_decisions)."""
        from metrics.decisions import list_decisions
        return list_decisions(self.store, service=service, since=since, until=until, kind=kind,
                              as_of=self.as_of)


def open(path: str | Path, config: Settings | str | Path | None = None, as_of=None,  # noqa: A001
         now=None) -> Onepane:
    """Open a store for reading: `onepane.open("onepane.duckdb", as_of="2026-11-30T00:00:00Z")`."""
    return Onepane(path, config, as_of, now)
