"""Pure functions behind marginal cost per basis point and what-if scenarios (no I/O).

    marginal cost per bp = (daily cost B − daily cost A) ÷ ((rate B − rate A) × 10 000)

Its interval comes from the interval of the rate difference, the cost difference being known
from the bills: a two-proportion (Wald, unpooled) interval for a binary KPI (each action is one
unit of the denominator, e.g. purchases per impression), or a percentile bootstrap over days for
any other ratio KPI (e.g. revenue per session). When the lift interval spans zero the marginal
cost is reported as "not significant", not as a number.

What-if (see `scenario`): cost = fixed + variable × predictions, with fixed and variable parts
fitted on daily history (`fit_fixed_variable`).
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from statistics import NormalDist

BP = 10_000


def z_value(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def two_proportion_diff_ci(x_a: float, n_a: float, x_b: float, n_b: float,
                           confidence: float = 0.95) -> tuple[float, float, float]:
    """(p_b − p_a, low, high): Wald interval with unpooled standard error."""
    if n_a <= 0 or n_b <= 0:
        raise ValueError("both arms need a positive denominator")
    pa, pb = x_a / n_a, x_b / n_b
    se = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    d, z = pb - pa, z_value(confidence)
    return d, d - z * se, d + z * se


def bootstrap_ratio_diff_ci(days_a: list[tuple[float, float]], days_b: list[tuple[float, float]],
                            confidence: float = 0.95, n_boot: int = 2000,
                            seed: int = 0) -> tuple[float, float, float]:
    """(ratio B − ratio A, low, high), ratio = Σ actions ÷ Σ denominator, days resampled per arm."""
    def ratio(days):
        den = sum(d for _, d in days)
        return sum(a for a, _ in days) / den if den else math.nan

    rng = random.Random(seed)
    point = ratio(days_b) - ratio(days_a)
    diffs = []
    for _ in range(n_boot):
        sa = [days_a[rng.randrange(len(days_a))] for _ in days_a]
        sb = [days_b[rng.randrange(len(days_b))] for _ in days_b]
        v = ratio(sb) - ratio(sa)
        if not math.isnan(v):
            diffs.append(v)
    diffs.sort()
    alpha = (1 - confidence) / 2
    lo = diffs[int(math.floor(alpha * (len(diffs) - 1)))]
    hi = diffs[int(math.ceil((1 - alpha) * (len(diffs) - 1)))]
    return point, lo, hi


def marginal_cost_per_bp(cost_a: float, cost_b: float, actions_a: float, n_a: float,
                         actions_b: float, n_b: float, confidence: float = 0.95,
                         daily_a: list[tuple[float, float]] | None = None,
                         daily_b: list[tuple[float, float]] | None = None) -> dict:
    """Marginal cost per bp of lift and its interval; `daily_*` given => bootstrap over days."""
    if daily_a is not None and daily_b is not None:
        d, lo, hi = bootstrap_ratio_diff_ci(daily_a, daily_b, confidence)
        method = "bootstrap over days"
    else:
        d, lo, hi = two_proportion_diff_ci(actions_a, n_a, actions_b, n_b, confidence)
        method = "two-proportion (Wald)"
    delta_cost = cost_b - cost_a
    lift_bp, lo_bp, hi_bp = d * BP, lo * BP, hi * BP
    significant = lo_bp > 0 or hi_bp < 0
    point = delta_cost / lift_bp if lift_bp else None
    ci = sorted((delta_cost / lo_bp, delta_cost / hi_bp)) if significant else None
    return {
        "delta_daily_cost": delta_cost, "lift_bp": lift_bp, "lift_ci_bp": [lo_bp, hi_bp],
        "confidence": confidence, "method": method, "significant": significant,
        "marginal_cost_per_bp": point if significant else None,
        "marginal_cost_per_bp_ci": ci,
        "point_estimate": point,
        "display": (f"{point:.6g} per bp (CI {ci[0]:.6g} .. {ci[1]:.6g})" if significant
                    else "not significant"),
    }


# ---- fixed / variable cost -------------------------------------------------------------------
def fit_fixed_variable(daily_cost: list[float], daily_predictions: list[float]) -> tuple[float, float, str]:
    """cost_day ≈ fixed + variable × predictions_day, least squares on the history.

    Falls back to "all variable" (fixed 0, variable = Σcost ÷ Σpredictions) with fewer than three
    days, no spread in traffic, or a fit that is not meaningful (negative slope or intercept)."""
    pts = [(float(p), float(c)) for c, p in zip(daily_cost, daily_predictions)
           if c is not None and p is not None]
    total_p = sum(p for p, _ in pts)
    all_variable = (0.0, (sum(c for _, c in pts) / total_p) if total_p else math.nan)
    if len(pts) < 3:
        return (*all_variable, "all variable (fewer than 3 days of history)")
    mp = total_p / len(pts)
    mc = sum(c for _, c in pts) / len(pts)
    sxx = sum((p - mp) ** 2 for p, _ in pts)
    if sxx == 0:
        return (*all_variable, "all variable (traffic did not vary)")
    slope = sum((p - mp) * (c - mc) for p, c in pts) / sxx
    intercept = mc - slope * mp
    if slope < 0:
        return (mc, 0.0, "all fixed (cost does not grow with traffic)")
    if intercept < 0:
        return (*all_variable, "all variable (fit gave a negative fixed part)")
    return intercept, slope, "least squares on daily history"


@dataclass
class Baseline:
    """A service's average day in the history window."""
    daily_cost: float
    fixed_cost: float                 # per day
    variable_cost_per_prediction: float
    predictions: float                # per day
    funnel_denominator: float | None  # per day
    funnel_actions: float | None      # per day
    baseline_rate: float | None       # the control's rate
    marginal_cost_per_bp: float | None = None
    lift_bp: float | None = None      # the experiment's lift of B over A (metrics.ledger.marginal_cost_per_bp)


@dataclass
class Outcome:
    daily_cost: float
    predictions: float
    cost_per_prediction: float | None
    cost_per_1k_predictions: float | None
    funnel_actions: float | None
    improved_actions: float | None
    cost_per_improved_action: float | None
    lift_bp: float | None
    marginal_cost_per_bp: float | None


def _div(a, b):
    return a / b if a is not None and b not in (None, 0) and not (isinstance(b, float) and math.isnan(b)) else None


def outcome(daily_cost: float, predictions: float, denominator: float | None,
            actions: float | None, baseline_rate: float | None,
            marginal: float | None, lift: float | None = None) -> Outcome:
    improved = (actions - denominator * baseline_rate
                if None not in (actions, denominator, baseline_rate) else None)
    return Outcome(daily_cost, predictions, _div(daily_cost, predictions),
                   _div(1000 * daily_cost, predictions), actions, improved,
                   daily_cost / improved if improved is not None and improved > 0 else None,
                   lift, marginal)


def scenario(base: Baseline, kpi_drop: float = 0.0, price_change: float = 0.0,
             traffic: float = 0.0) -> dict:
    """Unit economics of an average day after the changes, next to today's.

    kpi_drop      the model underperforms by this fraction: its lift over the baseline rate is
                  scaled by (1 − kpi_drop); the baseline rate itself is unchanged
    price_change  the vendor's prices move by this fraction: every cost × (1 + price_change)
    traffic       predictions and the funnel denominator × (1 + traffic); cost = fixed +
                  variable × predictions, so only the variable part grows
    The marginal cost per bp assumes the cost difference between versions moves like the
    service's cost (scenario cost ÷ today's cost) and the lift shrinks with kpi_drop. `lift_bp`
    in the outcomes is the experiment's lift of B over A (the one lift the pages show, from
    metrics.ledger.marginal_cost_per_bp), × (1 − kpi_drop) in the scenario; None without one.
    """
    t, p, k = 1 + traffic, 1 + price_change, 1 - kpi_drop
    now = outcome(base.daily_cost, base.predictions, base.funnel_denominator,
                  base.funnel_actions, base.baseline_rate, base.marginal_cost_per_bp, base.lift_bp)
    preds = base.predictions * t
    cost = (base.fixed_cost + base.variable_cost_per_prediction * preds) * p
    den = base.funnel_denominator * t if base.funnel_denominator is not None else None
    actions = None
    if den is not None and base.funnel_actions is not None and base.baseline_rate is not None:
        rate = base.funnel_actions / base.funnel_denominator if base.funnel_denominator else base.baseline_rate
        actions = den * (base.baseline_rate + (rate - base.baseline_rate) * k)
    elif den is not None and base.funnel_actions is not None:
        actions = base.funnel_actions * t
    marginal = None
    if base.marginal_cost_per_bp is not None and k > 0 and base.daily_cost:
        # the versions' cost difference moves like the service's cost; the lift shrinks by k
        marginal = base.marginal_cost_per_bp * (cost / base.daily_cost) / k
    lift = base.lift_bp * k if base.lift_bp is not None else None
    after = outcome(cost, preds, den, actions, base.baseline_rate, marginal, lift)
    return {"assumptions": {"kpi_drop": kpi_drop, "price_change": price_change, "traffic": traffic},
            "baseline": asdict(base), "today": asdict(now), "scenario": asdict(after)}
