"""The evidence pack as a self-contained HTML page (inline CSS, no scripts, no remote assets)."""
from __future__ import annotations

from html import escape

COLOURS = {"pass": "#1a7f37", "gap": "#cf222e", "error": "#8250df", "not applicable": "#6e7781",
           "not required": "#afb8c1", "green": "#1a7f37", "amber": "#bf8700", "red": "#cf222e"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}.s{font-weight:600;color:#fff;border-radius:3px;
padding:.05rem .4rem;white-space:nowrap}.muted{color:#59636e}.ev{font-size:12px;color:#59636e}
"""


def _badge(status: str) -> str:
    return f'<span class="s" style="background:{COLOURS.get(status, "#57606a")}">{escape(status)}</span>'


def _link(v) -> str:
    text = escape(str(v))
    return f'<a href="{text}">{text}</a>' if isinstance(v, str) and v.startswith(("http://", "https://")) else text


def _evidence(ev: dict) -> str:
    items = [f"{escape(k)} = {_link(v)}" for k, v in ev.items() if v not in (None, "", [])]
    return "<br>".join(items)


def to_html(report: dict) -> str:
    controls = report["controls"]
    head = (f"<h1>AI governance evidence pack</h1><p class=muted>{escape(report['framework'])}; controls judged "
            f"at <b>{escape(report['at'])}</b>; store read as of <b>{escape(report['as_of'] or 'latest')}</b>; "
            f"generated {escape(report['generated_at'])}; evidence window {escape(report['window'])}.</p>")
    # services x controls matrix
    m = ["<h2>Coverage</h2><table><tr><th>service</th><th>tier</th><th>light</th>"
         + "".join(f'<th title="{escape(c["title"])}">{escape(c["id"])}<br><span class=muted>'
                   f'{escape(c["category"])}</span></th>' for c in controls) + "</tr>"]
    for s in report["services"]:
        by_id = {i["id"]: i for i in s["controls"]}
        m.append(f"<tr><td><a href=\"#{escape(s['service'])}\">{escape(s['service'])}</a></td>"
                 f"<td>{escape(s['tier'] or 'unclassified')}</td><td>{_badge(s['light'])}</td>"
                 + "".join(f"<td>{_badge(by_id[c['id']]['status'])}</td>" for c in controls) + "</tr>")
    m.append("</table>")
    body = []
    for s in report["services"]:
        inv = s["inventory"]
        rows = "".join(f"<tr><th>{escape(k.replace('_', ' '))}</th><td>"
                       f"{', '.join(_link(x) for x in v) if isinstance(v, list) else _link(v if v is not None else '-')}"
                       f"</td></tr>" for k, v in inv.items())
        gaps = ", ".join(escape(g) for g in s["gaps"]) or "none"
        body.append(f"<h2 id=\"{escape(s['service'])}\">{escape(s['service'])} {_badge(s['light'])}</h2>"
                    f"<p>tier <b>{escape(s['tier'] or 'unclassified')}</b>, owner team <b>{escape(s['owner_team'])}</b>; "
                    f"gaps: <b>{gaps}</b></p><table>{rows}</table>"
                    "<table><tr><th>control</th><th>NIST AI RMF</th><th>status</th><th>finding</th><th>evidence</th></tr>")
        meta = {c["id"]: c for c in controls}
        for i in s["controls"]:
            c = meta[i["id"]]
            body.append(f"<tr><td><b>{escape(i['id'])}</b><br><span class=muted>{escape(c['title'])}</span></td>"
                        f"<td>{escape(c['category'])}</td><td>{_badge(i['status'])}</td>"
                        f"<td>{escape(i['detail'] or '')}</td><td class=ev>{_evidence(i['evidence'])}</td></tr>")
        body.append("</table>")
    ctl = ["<h2>Controls</h2><table><tr><th>id</th><th>function</th><th>category</th><th>tiers</th>"
           "<th>window</th><th>severity</th><th>rule</th></tr>"]
    for c in controls:
        ctl.append(f"<tr><td>{escape(c['id'])}</td><td>{escape(c['function'])}</td><td>{escape(c['category'])}</td>"
                   f"<td>{escape(', '.join(c['tiers']))}</td><td>{escape(c['window'])}</td>"
                   f"<td>{escape(c['severity'])}</td><td>{escape(c['title'])}</td></tr>")
    ctl.append("</table>")
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>AI governance evidence pack</title>"
            f"<style>{CSS}</style></head><body>{head}{''.join(m)}{''.join(body)}{''.join(ctl)}</body></html>\n")
