"""The weekly pack as one self-contained HTML file: plotly.js inlined once, no external request,
CSS that keeps each chart on one printed page. Byte-identical for the same pack apart from the
single generation timestamp (`<p class="generated">`), so two packs can be compared with diff."""
from __future__ import annotations

import html
from datetime import datetime

from metrics.review import sentences as S

CSS = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 24px; color: #1b1b1b; font-size: 13px; }
h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 2px solid #335; padding-bottom: 4px; }
h3 { font-size: 14px; margin-bottom: 4px; }
section.service, section.company { page-break-before: always; break-before: page; }
section.company:first-of-type { page-break-before: avoid; break-before: avoid; }
.chart { page-break-inside: avoid; break-inside: avoid; height: 330px; width: 100%; margin: 8px 0 16px;
         border: 3px solid #8040c0; box-sizing: border-box; }   /* the frame: tests find cut charts by it */
table { border-collapse: collapse; margin: 6px 0 12px; page-break-inside: avoid; break-inside: avoid; }
td, th { border: 1px solid #ccd; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
ul { margin-top: 2px; } li { margin: 2px 0; }
.status-critical { color: #b00020; font-weight: bold; } .status-warning { color: #a65c00; }
.generated { color: #666; font-size: 11px; }
@media print { body { margin: 0; } .modebar-container { display: none; } }
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _ul(items: list[str], empty: str) -> str:
    if not items:
        return f"<p>{_e(empty)}</p>"
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _chart(fig, div_id: str) -> str:
    fig.update_layout(height=320, margin=dict(l=60, r=20, t=50, b=40), template="plotly_white")
    return ('<div class="chart">' + fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                                                 config={"displaylogo": False, "responsive": True})
            + "</div>")


def _daily_chart(daily: list[dict], title_service: str, div_id: str) -> str:
    import plotly.graph_objects as go

    if not daily:
        return ""
    cur = daily[0]["billing_currency"]
    fig = go.Figure(go.Scatter(x=[d["day"].strftime("%Y-%m-%d") for d in daily],
                               y=[d["cost_per_prediction"] for d in daily], mode="lines+markers",
                               name="cost per prediction"))
    fig.update_layout(title=f"{title_service}: cost per prediction per day ({cur} per prediction)",
                      yaxis_title=f"{cur} per prediction", xaxis_title="day (UTC)")
    return _chart(fig, div_id)


def _company_chart(services: list[dict], div_id: str) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    currency = None
    for s in services:
        if not s["daily"]:
            continue
        currency = currency or s["daily"][0]["billing_currency"]
        fig.add_trace(go.Bar(x=[d["day"].strftime("%Y-%m-%d") for d in s["daily"]],
                             y=[float(d["effective_cost"] or 0) for d in s["daily"]], name=s["service"]))
    if currency is None:
        return ""
    fig.update_layout(barmode="stack", title=f"Cost per day by service ({currency} per day)",
                      yaxis_title=f"{currency} per day", xaxis_title="day (UTC)")
    return _chart(fig, div_id)


def _ue_table(rows: list[dict]) -> str:
    head = "<tr><th>metric</th><th>this week</th><th>week before</th><th>change</th></tr>"
    body = ""
    for r in rows:
        cur = r["currency"]
        body += (f"<tr><td>cost ({_e(cur)})</td><td>{_e(S.money(r['cost'], cur))}</td>"
                 f"<td>{_e(S.money(r.get('prev_cost'), cur))}</td><td>{_e(S.pct(r.get('cost_change')))}</td></tr>")
        for key, label, _ in S.RATIOS:
            body += (f"<tr><td>{_e(label)} ({_e(cur)})</td><td>{_e(S.money(r.get(key), cur))}</td>"
                     f"<td>{_e(S.money(r.get('prev_' + key), cur))}</td>"
                     f"<td>{_e(S.pct(r.get(key + '_change')))}</td></tr>")
    return f"<table>{head}{body}</table>" if rows else ""


def _budgets(budgets: list[dict]) -> str:
    if not budgets:
        return "<p>No budget configured.</p>"
    return "<ul>" + "".join(f'<li class="status-{_e(b["status"])}">{_e(S.budget(b))}</li>'
                            for b in budgets) + "</ul>"


def _service(s: dict, i: int) -> str:
    out = [f'<section class="service" id="service-{_e(s["service"])}">',
           f"<h2>{_e(s['service'])} <small>(team {_e(s['team'] or 'unassigned')})</small></h2>",
           "<h3>Unit economics</h3>", _ue_table(s["unit_economics"]),
           _ul([x for r in s["unit_economics"] for x in S.unit_economics(r)], "No cost or traffic this week."),
           _daily_chart(s["daily"], s["service"], f"chart-service-{i}")]
    if s["experiment"]:
        out += ["<h3>Running experiment</h3>", _ul([S.experiment(s["experiment"])], "")]
    out += ["<h3>What moved</h3>",
            _ul([f"#{m['rank']} ({m['layer']}, score {S.num(m['score'])}): {m['summary']}"
                 for m in s["what_moved"]], "Nothing moved significantly against the week before."),
            "<h3>Budget</h3>", _budgets(s["budgets"]),
            "<h3>SLOs and error budget</h3>", _ul([S.slo(x) for x in s["slos"]], "No SLO configured."),
            "<h3>Model health</h3>", _ul([S.model_health(m) for m in s["model_health"]],
                                         "No model-health values in both weeks."),
            "<h3>Data freshness and late data</h3>", _ul([S.freshness(f) for f in s["freshness"]], "No data."),
            "<h3>Open anomalies and alerts</h3>",
            _ul([S.anomaly(a) for a in s["anomalies"]]
                + [S.budget(b) for b in s["budgets"] if b["status"] != "ok"]
                + [S.slo(x) for x in s["slos"] if any(w["firing"] for w in x["burn"])]
                + [S.freshness(f) for f in s["freshness"] if f["breach"]], "None open at the week's end."),
            "<h3>Decisions since the last review</h3>",
            _ul([S.decision(d) for d in s["decisions"]], "No decision recorded."),
            "<h3>Agenda: open questions</h3>",
            _ul([S.agenda(a) for a in s["agenda"]], "No open question."), "</section>"]
    return "\n".join(out)


def render_html(pack: dict, generated_at: datetime) -> str:
    """The pack as HTML; `generated_at` is its only clock-dependent byte."""
    from plotly.offline import get_plotlyjs

    w, c = pack["week"], pack["company"]
    as_of = S.when(pack["as_of"]) if pack["as_of"] else "everything loaded"
    company = ['<section class="company" id="company">', "<h2>Company</h2>",
               _ul([S.company_total(t) for t in c["totals"]], "No cost this week."),
               _company_chart(pack["services"], "chart-company"),
               "<h3>What moved (all services)</h3>",
               _ul([f"{m['service']} #{m['rank']} ({m['layer']}, score {S.num(m['score'])}): {m['summary']}"
                    for m in c["what_moved"]], "Nothing moved significantly."),
               "<h3>Budgets</h3>", _budgets([b for s in pack["services"] for b in s["budgets"]]
                                            + c["team_budgets"]),
               "<h3>Decisions since the last review</h3>",
               _ul([S.decision(d) for d in c["decisions"]], "No decision recorded."),
               "<h3>Agenda: open questions</h3>", _ul([S.agenda(a) for a in c["agenda"]], "No open question."),
               "</section>"]
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>onepane weekly review {_e(w.label)}</title>", f"<style>{CSS}</style>",
             f'<script type="text/javascript">{get_plotlyjs()}</script>', "</head><body>",
             f"<h1>Weekly review {_e(w.label)}</h1>",
             f"<p>Week [{_e(S.when(w.start))}, {_e(S.when(w.end))}) against the week before; "
             f"store as of {_e(as_of)}; services: {_e(', '.join(s['service'] for s in pack['services']))}.</p>",
             f'<p class="generated">Generated {_e(generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"))}</p>',
             *company, *(_service(s, i) for i, s in enumerate(pack["services"])), "</body></html>"]
    return "\n".join(parts) + "\n"
