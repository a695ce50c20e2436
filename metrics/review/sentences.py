"""Sentences of the weekly pack, from templates (no language model). Every sentence states its
numbers, formatted one way: money with its currency, ratios as signed percentages."""
from __future__ import annotations

from datetime import datetime

from metrics.analysis.slo import budget_text


def num(x: float | None, digits: int = 4) -> str:
    """4 significant digits, thousands separated: 1,372.9 / 0.0001158 / n/a."""
    if x is None:
        return "n/a"
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) >= 1000 or (x == int(x) and abs(x) < 1e15):
        if x == int(x):
            return f"{int(x):,}"
        return f"{x:,.0f}" if abs(x) >= 1e5 else f"{x:,.1f}"
    return f"{x:.{digits}g}"


def money(x: float | None, currency: str | None) -> str:
    if x is None:
        return "n/a"
    if abs(float(x)) >= 1:
        return f"{float(x):,.2f} {currency or ''}".strip()
    return f"{num(x)} {currency or ''}".strip()


def pct(rel: float | None) -> str:
    """0.153 -> '+15.3%'."""
    return "n/a" if rel is None else f"{rel * 100:+.1f}%"


def when(t: datetime | None) -> str:
    return "never" if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


RATIOS = (("cost_per_prediction", "Cost per prediction", "per prediction"),
          ("cost_per_1k_tokens", "Cost per 1k tokens", "per 1k tokens"),
          ("cost_per_improved_action", "Cost per improved action", "per improved action"))


def unit_economics(r: dict) -> list[str]:
    cur = r["currency"]
    out = [f"{r['service']} cost {money(r['cost'], cur)} this week ({pct(r.get('cost_change'))} "
           f"against {money(r.get('prev_cost'), cur)} the week before) for {num(r['predictions'])} predictions."]
    for key, label, _ in RATIOS:
        v, p = r.get(key), r.get(f"prev_{key}")
        if v is None and p is None:
            continue
        out.append(f"{label}: {money(v, cur)} this week against {money(p, cur)} the week before "
                   f"({pct(r.get(f'{key}_change'))}).")
    return out


def experiment(e: dict) -> str:
    lo, hi = e["marginal_cost_per_bp_ci"]
    return (f"Experiment {e['b']} vs {e['a']} ({e['kpi']} per {e['denominator']}): lift "
            f"{num(e['lift_bp'])} bp (95% CI {num(e['lift_ci_bp'][0])} to {num(e['lift_ci_bp'][1])}), "
            f"extra cost {money(e['delta_daily_cost'], e['currency'])}/day, so a marginal cost of "
            f"{money(e['marginal_cost_per_bp'], e['currency'])} per bp per day "
            f"(interval {money(lo, e['currency'])} to {money(hi, e['currency'])}).")


def budget(b: dict) -> str:
    share = b["month_to_date"] / b["budget"] if b["budget"] else None
    verdict = {"ok": "within budget", "warning": "forecast over budget",
               "critical": "over budget"}[b["status"]]
    return (f"{b['level'].capitalize()} {b['name']} has spent {money(b['month_to_date'], b['currency'])} "
            f"({pct(share).lstrip('+')} of its {money(b['budget'], b['currency'])} budget) in {b['month']}; "
            f"month-end forecast {money(b['forecast'], b['currency'])} (80% interval "
            f"{money(b['forecast_low'], b['currency'])} to {money(b['forecast_high'], b['currency'])}): {verdict}.")


def slo(s: dict) -> str:
    firing = [w for w in s["burn"] if w["firing"]]
    burn = max((w["burn_long"] for w in s["burn"]), default=0.0)
    unit = "one-minute slices" if s.get("mode") == "time_slice" else "requests"
    return (f"{s['description']} ({s['slo']}, threshold {num(s['threshold'])}): "
            f"{num(s['bad_events'])} of {num(s['events'])} {unit} bad over the {s['observed']} observed, "
            f"{budget_text(s)}, highest burn rate {num(burn)}×"
            + (f"; {len(firing)} burn alert(s) firing." if firing else "; no burn alert firing."))


def model_health(m: dict) -> str:
    return (f"{m['metric']}: {num(m['value'])} this week against {num(m['previous'])} the week before "
            f"(change {'+' if m['change'] >= 0 else ''}{num(m['change'])}).")


def freshness(f: dict) -> str:
    late = f" {num(f['late_rows'])} of {num(f['rows'])} rows arrived late." if f["late_rows"] else ""
    if f["breach"]:
        return (f"{f['layer']}: newest data {when(f['newest_data_at'])}, {num(f['age_hours'])} h old, "
                f"beyond the {num(f['limit_hours'])} h freshness SLO.{late}")
    return f"{f['layer']}: newest data {when(f['newest_data_at'])} ({num(f['age_hours'])} h old).{late}"


def anomaly(a: dict) -> str:
    rc = a.get("root_cause")
    return (f"Cost of {a['key']} on {a['day']} was {money(a['cost'], a['currency'])}, "
            f"{money(a['severity'], a['currency'])} above the expected {money(a['expected'], a['currency'])}"
            + (f", mostly {rc['dimension']} {rc['value']}." if rc else "."))


def decision(d: dict) -> str:
    exp = f", expires {when(d['expires_at'])}" if d.get("expires_at") else ""
    return (f"{when(d['decided_at'])} — {d['service']} — {d['kind']}: {d['text']}"
            f" (by {d.get('decided_by') or 'unknown'}{exp}).")


def agenda(a: dict) -> str:
    if a["kind"] == "budget":
        b = a["budget"]
        return (f"{a['service']}: forecast {money(b['forecast'], b['currency'])} against a budget of "
                f"{money(b['budget'], b['currency'])}, and no decision recorded. What do we do?")
    return f"{a['service']}: likely cause #{a['rank']} has no decision yet: {a['summary']}"


def company_total(t: dict) -> str:
    return (f"All services together cost {money(t['cost'], t['currency'])} this week ({pct(t['cost_change'])} "
            f"against {money(t['prev_cost'], t['currency'])}), {num(t['predictions'])} predictions, "
            f"{money(t['cost_per_prediction'], t['currency'])} per prediction.")
