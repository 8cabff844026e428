"""One self-contained HTML file for a drill suite: summary table and targets at the top, then one
section per drill with inline SVG charts (fault, action, escalation and resolution marked), the
timeline, the incidents and the audit trail. No scripts, no external assets; every piece of text
that came from the simulation or the agent (log lines, summaries) is HTML-escaped.
"""
from __future__ import annotations

import datetime as _dt
import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:   # pragma: no cover
    from aisre.sim.drill import ChartSeries, DrillResult, DrillSuite

CSS = """
body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1d2430;margin:0;background:#f4f6f9}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:19px;margin:0} h3{font-size:14px;margin:16px 0 6px;color:#3b4656}
.sub{color:#5d6b7e;margin-bottom:18px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0 18px}
.card{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 14px;flex:1;min-width:120px}
.card b{display:block;font-size:22px} .card span{color:#5d6b7e;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde3ea;border-radius:8px;overflow:hidden}
th,td{padding:5px 7px;border-bottom:1px solid #edf0f4;text-align:left;vertical-align:top;font-size:13px}
th{background:#eef2f7;font-weight:600;color:#3b4656;white-space:nowrap;font-size:12.5px}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:last-child td{border-bottom:none}
td.name{white-space:nowrap}
.ok{color:#0b7a3e;font-weight:600} .bad{color:#c0262d;font-weight:600} .muted{color:#8793a3}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.pill.ok{background:#dcf3e6} .pill.bad{background:#fbe0e1}
.targets{list-style:none;padding:0;margin:12px 0 24px}
.targets li{padding:3px 0}
section.drill{background:#fff;border:1px solid #dde3ea;border-radius:10px;padding:16px 20px;margin:22px 0}
section.drill header{display:flex;align-items:center;gap:12px}
.desc{color:#3b4656;margin:6px 0 10px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.kv td:first-child{color:#5d6b7e;width:38%;white-space:nowrap}
.fail{background:#fff4f4;border:1px solid #f3c9cb;border-radius:6px;padding:6px 10px;margin:8px 0;color:#8c1d22}
.charts{display:flex;flex-wrap:wrap;gap:10px}
svg{background:#fbfcfe;border:1px solid #e3e8ee;border-radius:6px}
.k-fault{color:#c0262d}.k-action,.k-effect{color:#0b7a3e}.k-escalated{color:#b35c00}.k-resolved{color:#1f5fbf}
.k-decision{color:#5b3fa6}.k-signal{color:#3b4656}.k-change{color:#6b6f00}.k-error{color:#c0262d;font-weight:600}
.tl td:nth-child(2){white-space:nowrap;font-weight:600}
.tl td:last-child{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-word}
details{margin-top:8px} summary{cursor:pointer;color:#3b4656;font-weight:600}
pre{white-space:pre-wrap;word-break:break-word;font-size:11.5px;background:#f6f8fa;padding:8px;border-radius:6px;margin:4px 0}
.legend{font-size:12px;color:#5d6b7e;margin:4px 0}
.legend i{display:inline-block;width:14px;height:3px;margin:0 4px 3px 10px;vertical-align:middle}
"""

MARK_COLOURS = {"fault": "#c0262d", "action": "#0b7a3e", "escalated": "#e07b00", "resolved": "#1f5fbf"}


def e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _s(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.0f} s" if abs(v) < 600 else f"{v / 60:.1f} min"


def _yes(ok: bool, yes: str = "yes", no: str = "no") -> str:
    return f'<span class="{"ok" if ok else "bad"}">{yes if ok else no}</span>'


def render_html(suite: "DrillSuite", path: str | os.PathLike[str]) -> str:
    """Write the report to ``path`` (directories created); returns the path as a string."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(suite), encoding="utf-8")
    return str(out)


def render(suite: "DrillSuite") -> str:
    m = suite.metrics()
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>aisre drills — {m['passed']}/"
             f"{m['drills']} passed</title><meta name=viewport content='width=device-width,initial-scale=1'>"
             f"<style>{CSS}</style></head><body><main>",
             "<h1>aisre drill report</h1>",
             f"<div class=sub>{m['drills']} drills on the simulated fleet · seed {suite.seed} · "
             f"{m['wall_s']:.1f} s wall · generated {e(generated)}</div>",
             _cards(m), _targets(suite), _summary_table(suite)]
    for r in suite.results:
        parts.append(_drill_section(r))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _cards(m: dict[str, Any]) -> str:
    cards = [
        (f"{m['passed']}/{m['drills']}", "drills passed"),
        (f"{m['known_auto_resolved']}/{m['known_pattern']}", "known patterns auto-resolved"),
        (f"{m['unknown_escalated_in_time']}/{m['unknown_critical']}", "unknown-critical escalated in time"),
        (str(m["transient_with_action"]), "actions on transients"),
        (str(m["forbidden_attempts"]), "forbidden attempts"),
        (str(m["false_actions"]), "false actions"),
        (str(m["false_alarms"]), "signals before any fault"),
    ]
    return "<div class=cards>" + "".join(f"<div class=card><b>{e(v)}</b><span>{e(k)}</span></div>"
                                         for v, k in cards) + "</div>"


def _targets(suite: "DrillSuite") -> str:
    items = "".join(f"<li>{_yes(met, '✔', '✘')} {e(name)} — <span class=muted>{e(obs)}</span></li>"
                    for name, met, obs in suite.targets())
    return f"<h2>Targets</h2><ul class=targets>{items}</ul>"


def _summary_table(suite: "DrillSuite") -> str:
    head = ["Drill", "Result", "Detect", "Class", "Runbook", "Action taken", "Resolved", "MTTR",
            "Escalated", "False act.", "Forb.", "Pre-fault sig."]
    rows = []
    for r in suite.results:
        actions = ", ".join(dict.fromkeys(f"{a}@{s}" for _, a, s in r.actions)) or "–"
        rows.append(
            f"<tr><td class=name><a href='#d-{e(r.name)}'>{e(r.name)}</a></td>"
            f"<td><span class='pill {'ok' if r.passed else 'bad'}'>{'pass' if r.passed else 'fail'}</span></td>"
            f"<td class=num>{_s(r.detect_s) if r.detected else '–'}</td><td class=name>{e(r.classification or '–')}</td>"
            f"<td class=name>{e(r.runbook or '–')}</td><td>{e(actions.replace('@', ' @ '))}</td>"
            f"<td>{'yes' if r.resolved else '–'}</td><td class=num>{_s(r.mttr_s)}</td>"
            f"<td class=num>{_s(r.escalate_s) if r.escalated else '–'}</td>"
            f"<td class=num>{len(r.false_actions)}</td><td class=num>{r.forbidden_attempts}</td>"
            f"<td class=num>{r.false_alarms}</td></tr>")
    return ("<h2>Summary</h2><table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _expect_text(r: "DrillResult") -> list[tuple[str, str]]:
    ex = r.expect
    want_action = " or ".join(ex.actions) if ex.actions else "none"
    if ex.needs_approval and ex.actions:
        want_action += " (caution: asking counts)"
    return [
        ("detected", _pair("yes" if ex.detected else "no" if ex.detected is False else "any",
                           ("yes, after " + _s(r.detect_s)) if r.detected else "no")),
        ("classification", _pair(ex.classification or "any", r.classification or "–")),
        ("runbook", _pair(" or ".join(ex.runbooks) or "any", r.runbook or "none")),
        ("action", _pair(want_action, ", ".join(f"{a}@{s} (+{_s(t)})" for t, a, s in r.actions) or
                         (f"proposed {r.proposed_action}" if r.proposed_action else "none"))),
        ("resolved", _pair("yes" if ex.resolved else "no", ("yes, MTTR " + _s(r.mttr_s)) if r.resolved else "no")),
        ("escalated", _pair("yes" if ex.escalated else "no",
                            ("yes, after " + _s(r.escalate_s)) if r.escalated else "no")),
        ("incidents", _pair(f"≤ {ex.max_incidents}" if ex.max_incidents else "any", str(r.incidents))),
    ]


def _pair(want: str, got: str) -> str:
    return f"<span class=muted>expected</span> {e(want)} · <span class=muted>got</span> {e(got)}"


def _drill_section(r: "DrillResult") -> str:
    parts = [f"<section class=drill id='d-{e(r.name)}'><header><h2>{e(r.name)}</h2>"
             f"<span class='pill {'ok' if r.passed else 'bad'}'>{'pass' if r.passed else 'fail'}</span>"
             f"<span class=muted>{e(', '.join(r.tags))}</span></header>",
             f"<div class=desc>{e(r.description)}</div>"]
    if r.failures:
        parts.append("<div class=fail>" + "<br>".join(e(f) for f in r.failures) + "</div>")
    kv = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in _expect_text(r))
    extra = (f"<tr><td>false actions</td><td>{e(', '.join(r.false_actions) or 'none')}</td></tr>"
             f"<tr><td>forbidden attempts</td><td>{r.forbidden_attempts}</td></tr>"
             f"<tr><td>false alarms before the fault</td><td>{r.false_alarms}</td></tr>"
             f"<tr><td>ticks · wall</td><td>{r.ticks} · {r.wall_s:.2f} s</td></tr>")
    if r.evidence_found:
        extra += "<tr><td>evidence names</td><td>" + ", ".join(
            f"{e(k)} {_yes(v, '✔', '✘')}" for k, v in r.evidence_found.items()) + "</td></tr>"
    parts.append(f"<div class=grid><div><h3>Expected vs observed</h3><table class=kv>{kv}{extra}</table></div>"
                 f"<div><h3>Metrics</h3>{_charts(r)}</div></div>")
    if r.incident_summaries:
        parts.append(_incidents(r))
    parts.append(_timeline(r))
    if r.audit:
        rows = "".join(f"<tr><td class=num>{e(a.get('seq', ''))}</td><td>{e(a.get('kind', ''))}</td>"
                       f"<td>{e(a.get('incident_id', ''))}</td><td><pre>{e(_short(a.get('data', {})))}</pre></td></tr>"
                       for a in r.audit)
        parts.append(f"<details><summary>Audit trail ({len(r.audit)} records)</summary><table><thead><tr><th>#</th>"
                     f"<th>kind</th><th>incident</th><th>data</th></tr></thead><tbody>{rows}</tbody></table></details>")
    parts.append("</section>")
    return "\n".join(parts)


def _short(data: Any, limit: int = 600) -> str:
    import json
    text = json.dumps(data, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + " …"


def _incidents(r: "DrillResult") -> str:
    rows = []
    for i in r.incident_summaries:
        ev = "".join(f"<li>{e(x)}</li>" for x in i.get("evidence", [])[:6])
        rows.append(f"<tr><td>{e(i.get('id'))}</td><td>{e(i.get('service'))}</td><td>{e(i.get('status'))}</td>"
                    f"<td class=num>{_s(i.get('opened_t'))}</td><td>{e(i.get('classification') or '–')}</td>"
                    f"<td>{e(i.get('runbook') or '–')}</td><td>{e(i.get('proposed_action') or '–')}</td>"
                    f"<td>{e(i.get('summary'))}{('<ul>' + ev + '</ul>') if ev else ''}</td></tr>")
    return ("<h3>Incidents</h3><table><thead><tr><th>id</th><th>service</th><th>status</th><th>opened</th>"
            "<th>class</th><th>runbook</th><th>proposed</th><th>diagnosis</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _timeline(r: "DrillResult", limit: int = 60) -> str:
    events = list(r.timeline)
    shown = events[:limit]
    rows = "".join(f"<tr><td class=num>{_mmss(ev.t)}</td><td class='k-{e(ev.kind)}'>{e(ev.kind)}</td>"
                   f"<td>{e(ev.text)}</td></tr>" for ev in shown)
    more = f"<div class=muted>… {len(events) - limit} more events</div>" if len(events) > limit else ""
    return (f"<details {'open' if len(events) <= 25 else ''}><summary>Timeline ({len(events)} events; t = time since "
            f"the scenario start)</summary><table class=tl><thead><tr><th>t</th><th>event</th><th>detail</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>{more}</details>")


def _mmss(t: float) -> str:
    sign = "-" if t < 0 else ""
    t = abs(t)
    return f"{sign}{int(t // 60):02d}:{int(t % 60):02d}"


def _charts(r: "DrillResult") -> str:
    if not r.charts:
        return "<div class=muted>no series</div>"
    marks = _marks(r)
    legend = ("<div class=legend>" + "".join(f"<i style='background:{c}'></i>{k}" for k, c in MARK_COLOURS.items())
              + "<i style='background:#9aa5b1'></i>baseline</div>")
    return legend + "<div class=charts>" + "".join(svg_chart(c, marks) for c in r.charts) + "</div>"


def _marks(r: "DrillResult") -> list[tuple[float, str]]:
    """Fault starts, actions, escalations and resolutions (one mark per kind per 30 s)."""
    seen: set[tuple[int, str]] = set()
    out: list[tuple[float, str]] = []
    for ev in r.timeline:
        if ev.kind in MARK_COLOURS:
            key = (int(ev.t // 30), ev.kind)
            if key not in seen:
                seen.add(key)
                out.append((ev.t, ev.kind))
    return out


def svg_chart(c: "ChartSeries", marks: Iterable[tuple[float, str]], width: int = 520, height: int = 140) -> str:
    """A line chart of one series as inline SVG, with vertical event markers."""
    pts = c.points
    left, right, top, bottom = 46, 8, 18, 22
    w, h = width - left - right, height - top - bottom
    t0, t1 = pts[0][0], pts[-1][0]
    if t1 <= t0:
        t1 = t0 + 1
    vals = [v for _, v in pts] + [c.baseline]
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-9:
        hi = lo + 1.0
    pad = (hi - lo) * 0.08
    lo, hi = max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * w

    def y(v: float) -> float:
        return top + (1 - (v - lo) / (hi - lo)) * h

    step = max(1, len(pts) // 400)
    poly = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts[::step])
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='{e(c.key)}'>",
             f"<text x='{left}' y='12' font-size='11.5' font-weight='600' fill='#1d2430'>{e(c.key)}"
             f"{(' (' + e(c.unit) + ')') if c.unit else ''}</text>"]
    for frac in (0.0, 0.5, 1.0):
        v = lo + frac * (hi - lo)
        yy = y(v)
        parts.append(f"<line x1='{left}' x2='{left + w}' y1='{yy:.1f}' y2='{yy:.1f}' stroke='#edf0f4'/>")
        parts.append(f"<text x='{left - 4}' y='{yy + 3:.1f}' font-size='10' text-anchor='end' fill='#6b7888'>"
                     f"{_num(v)}</text>")
    minute_step = _tick_minutes(t1 - t0)
    m = int(t0 // 60 // minute_step * minute_step)
    while m * 60 <= t1:
        if m * 60 >= t0:
            xx = x(m * 60)
            parts.append(f"<text x='{xx:.1f}' y='{height - 6}' font-size='10' text-anchor='middle' fill='#6b7888'>"
                         f"{m}m</text>")
        m += minute_step
    by = y(c.baseline)
    parts.append(f"<line x1='{left}' x2='{left + w}' y1='{by:.1f}' y2='{by:.1f}' stroke='#9aa5b1' "
                 f"stroke-dasharray='4 3'/>")
    for t, kind in marks:
        if t0 <= t <= t1:
            xx = x(t)
            parts.append(f"<line x1='{xx:.1f}' x2='{xx:.1f}' y1='{top}' y2='{top + h}' "
                         f"stroke='{MARK_COLOURS.get(kind, '#666')}' stroke-width='1.5' stroke-dasharray='3 2'>"
                         f"<title>{e(kind)} at {_mmss(t)}</title></line>")
    parts.append(f"<polyline fill='none' stroke='#2f6fdf' stroke-width='1.6' points='{poly}'/>")
    parts.append("</svg>")
    return "".join(parts)


def _tick_minutes(span_s: float) -> int:
    for m in (1, 2, 5, 10, 15, 30, 60):
        if span_s / 60 / m <= 8:
            return m
    return 120


def _num(v: float) -> str:
    a = abs(v)
    if a >= 1000:
        return f"{v / 1000:.1f}k"
    if a >= 10:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.1f}"
    return f"{v:.3f}"
