"""`onepane exporter`: onepane's derived numbers as Prometheus gauges on /metrics.

Computed from the store at scrape time through the public API (metrics.api), so a PromQL query
returns what the CLI reports; results are cached for `ttl` seconds and recomputed at once when a
load commits (the run log's folder changes). Gauges (labels in braces):

    onepane_cost_per_prediction{service,model_version,team,currency}       last full UTC day
    onepane_cost_per_improved_action{service,model_version,team,currency}  last full UTC day
    onepane_cost_per_1k_tokens{service,team,currency}                     last full UTC day
    onepane_budget{service|team,currency}, onepane_budget_month_to_date{...}, onepane_budget_forecast{...}
    onepane_budget_burn_ratio{...}           month to date / budget
    onepane_budget_forecast_overrun{...}     month-end forecast - budget (negative = headroom)
    onepane_slo_burn_rate{service,team,slo,window}    error-budget burn rate over each alert window
    onepane_slo_error_budget_remaining_ratio{service,team,slo}
    onepane_data_freshness_age_seconds{service,team,layer}
"""
from __future__ import annotations

import http.server
import logging
import math
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from metrics.api import Onepane
from metrics.times import utcnow

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

HELP = {
    "onepane_cost_per_prediction": "Effective cost per prediction over the last full UTC day.",
    "onepane_cost_per_improved_action": "Effective cost per improved funnel action over the last full UTC day.",
    "onepane_cost_per_1k_tokens": "Cost per 1000 served tokens (vendor + self-hosted) over the last full UTC day.",
    "onepane_budget": "Monthly budget.",
    "onepane_budget_month_to_date": "Effective cost spent this month so far.",
    "onepane_budget_forecast": "Month-end spend forecast (point).",
    "onepane_budget_burn_ratio": "Month-to-date spend divided by the monthly budget.",
    "onepane_budget_forecast_overrun": "Month-end forecast minus budget (negative: headroom).",
    "onepane_slo_burn_rate": "Error-budget burn rate over the window (1 = spending exactly the budget).",
    "onepane_slo_error_budget_remaining_ratio": "Share of the SLO period's error budget left.",
    "onepane_data_freshness_age_seconds": "Age of the newest data of a layer at scrape time.",
}


def _esc(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(samples: list[tuple[str, dict, float]]) -> str:
    """Prometheus text format 0.0.4, one HELP/TYPE block per gauge, samples sorted."""
    out: list[str] = []
    for name in sorted({s[0] for s in samples}):
        out += [f"# HELP {name} {HELP.get(name, name)}", f"# TYPE {name} gauge"]
        rows = sorted((s for s in samples if s[0] == name), key=lambda s: sorted(s[1].items()))
        for _, labels, value in rows:
            lab = ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(labels.items()) if v is not None)
            out.append(f"{name}{{{lab}}} {float(value)!r}")
    return "\n".join(out) + "\n"


def _f(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def gauges(op: Onepane, at: datetime) -> list[tuple[str, dict, float]]:
    """Every gauge at `at` (a store read as of op.as_of)."""
    day1 = at.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    day0 = day1 - timedelta(days=1)
    team = op.team_of
    out: list[tuple[str, dict, float]] = []

    def add(name, labels, value):
        v = _f(value)
        if v is not None:
            out.append((name, labels, v))

    for r in op.unit_economics(day0, day1).to_dicts():
        labels = {"service": r["service"], "model_version": r["model_version"] or "",
                  "team": r["team"] or team(r["service"]) or "", "currency": r["currency"] or ""}
        add("onepane_cost_per_prediction", labels, r["cost_per_prediction"])
        add("onepane_cost_per_improved_action", labels, r["cost_per_improved_action"])
    for r in op.token_economics(day0, day1).to_dicts():
        add("onepane_cost_per_1k_tokens", {"service": r["service"], "team": team(r["service"]) or "",
                                           "currency": r["currency"] or ""}, r["cost_per_1k_tokens"])
    for b in op.budgets(at):
        labels = {b["level"]: b["name"], "currency": b["currency"]}
        if b["level"] == "service":
            labels["team"] = team(b["name"]) or ""
        add("onepane_budget", labels, b["budget"])
        add("onepane_budget_month_to_date", labels, b["month_to_date"])
        add("onepane_budget_forecast", labels, b["forecast"])
        add("onepane_budget_burn_ratio", labels, b["month_to_date"] / b["budget"] if b["budget"] else None)
        add("onepane_budget_forecast_overrun", labels, b["forecast"] - b["budget"])
    for s in op.slos(at):
        base = {"service": s["service"], "team": team(s["service"]) or "", "slo": s["slo"]}
        add("onepane_slo_error_budget_remaining_ratio", base, s["budget_remaining"])
        seen = set()
        for w in s["burn"]:
            for window, value in ((w["long"], w["burn_long"]), (w["short"], w["burn_short"])):
                if window not in seen:
                    seen.add(window)
                    add("onepane_slo_burn_rate", {**base, "window": window}, value)
    for r in op.freshness().to_dicts():
        if r["newest_data_at"] is not None and r["layer"] != "events":
            add("onepane_data_freshness_age_seconds",
                {"service": r["service"], "team": team(r["service"]) or "", "layer": r["layer"]},
                max((at - r["newest_data_at"]).total_seconds(), 0.0))
    return out


class Exporter:
    """Scrape-time computation with a short cache (ttl seconds, or until the next load commits)."""

    def __init__(self, op: Onepane, ttl: float = 30.0, clock: Callable[[], datetime] = utcnow):
        self.op, self.ttl, self.clock = op, ttl, clock
        self._lock = threading.Lock()
        self._cached: tuple[float, float, str] | None = None      # (monotonic, data version, body)

    def _version(self) -> float:
        folder = self.op.store.lake / "_onepane_loads"
        try:
            return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.iterdir() if p.is_dir())])
        except OSError:
            return 0.0

    def body(self) -> str:
        with self._lock:
            v = self._version()
            if self._cached and time.monotonic() - self._cached[0] < self.ttl and self._cached[1] == v:
                return self._cached[2]
            t0 = time.perf_counter()
            text = exposition(gauges(self.op, self.clock()))
            text += ("# HELP onepane_exporter_scrape_seconds Time to compute the gauges.\n"
                     "# TYPE onepane_exporter_scrape_seconds gauge\n"
                     f"onepane_exporter_scrape_seconds {time.perf_counter() - t0!r}\n")
            self._cached = (time.monotonic(), v, text)
            return text


def serve(exporter: Exporter, host: str = "127.0.0.1", port: int = 9464) -> http.server.ThreadingHTTPServer:
    """An HTTP server answering /metrics (and / with a pointer to it); call .serve_forever()."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            log.debug("exporter %s", fmt % args)

        def do_GET(self):
            if self.path.split("?")[0] != "/metrics":
                body, status, ctype = b"onepane exporter: see /metrics\n", 404 if self.path != "/" else 200, "text/plain"
            else:
                try:
                    body, status, ctype = exporter.body().encode(), 200, CONTENT_TYPE
                except Exception as e:  # noqa: BLE001 - a failed scrape is reported, the server lives on
                    log.exception("scrape failed")
                    body, status, ctype = f"scrape failed: {e}\n".encode(), 500, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return http.server.ThreadingHTTPServer((host, port), Handler)
