"""Postmortem draft from an incident and its audit trail (Markdown, for a human to finish).

Timeline = the incident's own timeline merged with the audit records, each row put in a phase:
detected, diagnosed, acted, escalated, human (anything done by someone other than ``aisre``),
resolved, notified. The root cause is the diagnosis, always marked *suspected*. What went well /
what to improve / action items are placeholders seeded with what the data shows.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

from aisre.models import AuditRecord, Incident
from aisre.notify.escape import clean
from aisre.notify.report import _time, build_report
from aisre.notify.templating import render_template

_PHASE = {"detected": "detected", "correlated": "detected", "diagnosed": "diagnosed", "decided": "decided",
          "acted": "acted", "verified": "acted", "escalated": "escalated", "resolved": "resolved", "human": "human"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class PostmortemEvent:
    ts: float
    time: str
    phase: str
    actor: str
    text: str


def _audit_text(rec: AuditRecord) -> tuple[str, str]:
    d: Mapping[str, Any] = rec.data or {}
    if rec.kind == "decision":
        reasons = "; ".join(str(r) for r in d.get("reasons", []))
        action = f" {d['action']}" if d.get("action") else ""
        return ("escalated" if d.get("verdict") == "escalate" else "decided",
                f"decision: {d.get('verdict', '?')}{action}" + (f" ({reasons})" if reasons else ""))
    if rec.kind == "action":
        return "acted", f"{d.get('action', '?')} {d.get('status', '?')}" + (f" on {d['target']}" if d.get("target") else "")
    if rec.kind == "notification":
        return "notified", f"notified {d.get('channel', '?')} ({d.get('kind', '?')})" + ("" if d.get("ok", True) else " - FAILED")
    if rec.kind == "approval":
        verb = "approved" if d.get("approved") else "denied"
        return "human", f"{verb} {d.get('action', '')}".strip()
    if rec.kind == "mode":
        return "decided", f"mode set to {d.get('mode', '?')}"
    return rec.kind, clean(str(dict(d)), 200)


def postmortem_timeline(incident: Incident, audit_records: Iterable[AuditRecord]) -> list[PostmortemEvent]:
    events = [PostmortemEvent(ts=e.ts, time=_time(e.ts), phase=_PHASE.get(e.kind, e.kind), actor="aisre"
                              if e.kind != "human" else "human", text=clean(e.text, 300)) for e in incident.timeline]
    for rec in audit_records:
        if rec.incident_id != incident.id:
            continue
        phase, text = _audit_text(rec)
        if rec.actor != "aisre":
            phase = "human"
        events.append(PostmortemEvent(ts=rec.ts, time=_time(rec.ts), phase=phase, actor=clean(rec.actor, 60),
                                      text=clean(text, 300)))
    return sorted(events, key=lambda e: (e.ts, e.phase, e.text))


def _minutes(a: float | None, b: float | None) -> str:
    if a is None or b is None or b < a:
        return "n/a"
    return f"{(b - a) / 60:.0f} min"


def draft_postmortem(incident: Incident, audit_records: Iterable[AuditRecord] = (), *,
                     links: Mapping[str, str] | None = None, environment: str = "") -> str:
    """The postmortem draft as Markdown (see the module docstring)."""
    records = list(audit_records)
    report = build_report(incident, environment=environment, links=links)
    timeline = postmortem_timeline(incident, records)
    onset = min((s.onset_ts or s.ts for s in incident.signals), default=incident.opened_at) or incident.opened_at
    first_action = min((e.ts for e in timeline if e.phase == "acted"), default=None)
    humans = [e for e in timeline if e.phase == "human"]
    timings = [("time to detect (onset → opened)", _minutes(onset, incident.opened_at)),
               ("time to first action", _minutes(incident.opened_at, first_action)),
               ("time to escalate", _minutes(incident.opened_at, incident.escalated_at)),
               ("time to resolve", _minutes(incident.opened_at, incident.resolved_at))]
    went_well, improve, items = [], [], []
    if first_action is not None and incident.opened_at and first_action - incident.opened_at <= 600:
        went_well.append("aisre acted within 10 minutes of detection.")
    if any(a.verify is not None and not a.verify.ok for a in incident.actions):
        improve.append("The automatic action did not fix the problem (verification failed).")
    if incident.changes:
        items.append("Review the change that preceded the incident and add a test or a canary check for it.")
    if incident.diagnosis and incident.diagnosis.runbook_id:
        items.append(f"Update runbook `{clean(incident.diagnosis.runbook_id, 80)}` with what was learned.")
    return render_template("postmortem.md.j2", r=report, timeline=timeline, timings=timings,
                           humans=humans, went_well=went_well, improve=improve, items=items,
                           duration=_minutes(incident.opened_at, incident.resolved_at))
