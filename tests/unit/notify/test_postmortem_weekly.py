"""draft_postmortem phases and placeholders; weekly_report figures on hand-computable data."""
from __future__ import annotations

import dataclasses

from aisre.models import ActionResult, ActionStatus, AuditRecord, Incident, IncidentStatus
from aisre.notify.postmortem import draft_postmortem, postmortem_timeline
from aisre.notify.weekly import weekly_report
from plugins.notify_samples import HOSTILE, T0, checkout_audit, checkout_incident


def test_postmortem_has_phases_suspected_cause_and_placeholders():
    inc = checkout_incident(IncidentStatus.RESOLVED)
    md = draft_postmortem(inc, checkout_audit())
    phases = {e.phase for e in postmortem_timeline(inc, checkout_audit())}
    assert {"detected", "acted", "escalated", "human", "resolved"} <= phases
    assert "## Root cause (suspected)" in md and "suspicion, not a finding" in md
    for section in ("## What went well", "## What to improve", "## Action items", "- [ ] _(fill in)_"):
        assert section in md
    assert "| 2026-11-28 01:45:00 | human | chat:dana | approved rollback\\_deployment |" in md
    assert "time to resolve: 36 min" in md and "Duration | 36 min" in md


def test_postmortem_ignores_other_incidents_and_escapes_audit_text():
    inc = checkout_incident()
    other = AuditRecord(seq=9, ts=T0, kind="action", incident_id="someone-else", data={"action": "drop_db"})
    hostile = AuditRecord(seq=10, ts=T0 + 1, kind="approval", incident_id=inc.id, actor="chat:<!channel>",
                          data={"action": HOSTILE, "approved": False})
    md = draft_postmortem(inc, [other, hostile])
    assert "drop_db" not in md and "<script>" not in md and "denied" in md
    assert "not resolved" in md


def _day(inc: Incident, d: int, *, escalated: bool = False, ok: bool = True) -> Incident:
    action = ActionResult(action="restart_deployment", service=inc.service,
                          status=ActionStatus.SUCCEEDED if ok else ActionStatus.FAILED, started_at=inc.opened_at + d * 86400 + 120)
    return dataclasses.replace(inc, id=f"i{d}", opened_at=inc.opened_at + d * 86400,
                               resolved_at=inc.opened_at + d * 86400 + 600, actions=(action,), timeline=(),
                               escalated_at=inc.opened_at + d * 86400 + 300 if escalated else None)


def test_weekly_figures_and_recurring_leak():
    base = checkout_incident(IncidentStatus.RESOLVED)
    incs = [_day(base, d, escalated=(d == 3)) for d in range(4)]
    old = dataclasses.replace(incs[0], id="old", opened_at=base.opened_at - 30 * 86400)
    w = weekly_report(incs + [old], (), now=base.opened_at + 6 * 86400)
    assert w.incidents == 4 and w.resolved == 4 and w.auto_resolved == 3 and w.escalated == 1
    assert w.auto_resolved_share == 0.75
    assert w.mtta_s == 120 and w.mttr_s == 600
    assert w.runbooks == (("memory-leak-restart", 4),)
    assert len(w.recurring) == 1 and w.recurring[0].actions == 4
    md = w.to_markdown()
    assert "a code fix is due" in md and "75%" in md and "2.0 min" in md


def test_weekly_with_nothing():
    w = weekly_report([], [], now=T0)
    assert w.incidents == 0 and w.mtta_s is None and w.auto_resolved_share == 0.0
    assert "n/a" in w.to_markdown() and "Recurring problems\n- none" in w.to_markdown()


def test_two_restarts_are_not_recurring():
    base = checkout_incident(IncidentStatus.RESOLVED)
    w = weekly_report([_day(base, d) for d in range(2)], [], now=base.opened_at + 6 * 86400)
    assert w.recurring == ()


def test_public_api_is_exported():
    import aisre.notify as notify
    for name in notify.__all__:
        assert getattr(notify, name) is not None
    from aisre.notify.base import Notifier
    assert isinstance(notify.ConsoleNotifier(), Notifier)
