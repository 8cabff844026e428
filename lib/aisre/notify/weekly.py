"""Weekly report: how many incidents, how many aisre fixed alone, MTTA/MTTR, runbooks, recurring problems.

Definitions (stated so the numbers can be checked):

* window: incidents with ``now - days*86400 <= opened_at < now``;
* auto-resolved: resolved, never escalated, with at least one succeeded/dry-run action;
* MTTA: mean of (first response - opened_at), first response = the earliest action start,
  escalation, ``acted``/``human``/``escalated`` timeline entry or audit action/approval;
* MTTR: mean of (resolved_at - opened_at) over resolved incidents;
* recurring: the same (service, runbook or signal) remediated :data:`RECURRING_MIN` or more times in
  the window -> "a code fix is due" (e.g. a memory leak restarted every day).
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as _dt
from typing import Iterable, Sequence

from aisre.models import AuditRecord, Incident
from aisre.notify.escape import clean
from aisre.notify.templating import render_template

RECURRING_MIN = 3


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecurringProblem:
    service: str
    problem: str            # runbook id, else the primary signal name
    incidents: int
    actions: int            # remediations run for it in the window
    action_names: tuple[str, ...]

    @property
    def advice(self) -> str:
        verb = "restarted" if any("restart" in a for a in self.action_names) else "remediated"
        return (f"{self.service}: {self.problem} {verb} {self.actions} times in {self.incidents} incidents "
                f"- a code fix is due.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class WeeklyReport:
    start: float
    end: float
    incidents: int
    by_severity: tuple[tuple[str, int], ...]
    by_service: tuple[tuple[str, int], ...]
    resolved: int
    auto_resolved: int
    escalated: int
    mtta_s: float | None
    mttr_s: float | None
    runbooks: tuple[tuple[str, int], ...]          # most used first
    actions: tuple[tuple[str, int], ...]
    recurring: tuple[RecurringProblem, ...]

    @property
    def auto_resolved_share(self) -> float:
        return self.auto_resolved / self.incidents if self.incidents else 0.0

    def to_markdown(self) -> str:
        return render_template("weekly.md.j2", w=self, start=_day(self.start), end=_day(self.end),
                               mtta=_dur(self.mtta_s), mttr=_dur(self.mttr_s))


def _day(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def _dur(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _first_response(inc: Incident, audits: Sequence[AuditRecord]) -> float | None:
    times = [a.started_at for a in inc.actions if a.started_at]
    times += [e.ts for e in inc.timeline if e.kind in ("acted", "human", "escalated")]
    times += [r.ts for r in audits if r.incident_id == inc.id and r.kind in ("action", "approval")]
    if inc.escalated_at:
        times.append(inc.escalated_at)
    times = [t for t in times if t >= inc.opened_at]
    return min(times) if times else None


def _problem(inc: Incident) -> str:
    if inc.diagnosis is not None and inc.diagnosis.runbook_id:
        return inc.diagnosis.runbook_id
    from aisre.notify.report import primary_signal
    sig = primary_signal(inc)
    return sig.signature or sig.name if sig is not None else "unknown"


def weekly_report(incidents: Iterable[Incident], audit_records: Iterable[AuditRecord] = (), *, now: float,
                  days: int = 7) -> WeeklyReport:
    """Summarise the incidents opened in the ``days`` before ``now`` (see the module docstring)."""
    start = now - days * 86400
    incs = sorted((i for i in incidents if start <= i.opened_at < now), key=lambda i: (i.opened_at, i.id))
    audits = [r for r in audit_records if start <= r.ts < now + 86400]
    resolved = [i for i in incs if i.resolved_at is not None]
    auto = [i for i in resolved if i.escalated_at is None and any(a.ok for a in i.actions)]
    responses = [r - i.opened_at for i in incs if (r := _first_response(i, audits)) is not None]
    repairs = [i.resolved_at - i.opened_at for i in resolved if i.resolved_at >= i.opened_at]
    runbooks = collections.Counter(i.diagnosis.runbook_id for i in incs if i.diagnosis and i.diagnosis.runbook_id)
    actions = collections.Counter(a.action for i in incs for a in i.actions if a.ok)
    ids = {i.id for i in incs}
    audit_actions = collections.Counter(str(r.data.get("action")) for r in audits
                                        if r.kind == "action" and r.incident_id not in ids and r.data.get("action"))
    actions.update(audit_actions)
    groups: dict[tuple[str, str], list[Incident]] = collections.defaultdict(list)
    for i in incs:
        groups[(i.service, _problem(i))].append(i)
    recurring = []
    for (service, problem), group in sorted(groups.items()):
        done = [a.action for i in group for a in i.actions if a.ok]
        if len(done) >= RECURRING_MIN:
            recurring.append(RecurringProblem(service=clean(service, 80), problem=clean(problem, 120),
                                              incidents=len(group), actions=len(done),
                                              action_names=tuple(sorted(set(done)))))
    recurring.sort(key=lambda r: (-r.actions, r.service))
    sev = collections.Counter(i.severity.value for i in incs)
    svc = collections.Counter(i.service for i in incs)
    order = {"critical": 0, "error": 1, "warning": 2, "info": 3}
    return WeeklyReport(
        start=start, end=now, incidents=len(incs),
        by_severity=tuple(sorted(sev.items(), key=lambda kv: order.get(kv[0], 9))),
        by_service=tuple(sorted(svc.items(), key=lambda kv: (-kv[1], kv[0]))),
        resolved=len(resolved), auto_resolved=len(auto), escalated=sum(1 for i in incs if i.escalated_at),
        mtta_s=sum(responses) / len(responses) if responses else None,
        mttr_s=sum(repairs) / len(repairs) if repairs else None,
        runbooks=tuple(sorted(runbooks.items(), key=lambda kv: (-kv[1], kv[0]))),
        actions=tuple(sorted(actions.items(), key=lambda kv: (-kv[1], kv[0]))),
        recurring=tuple(recurring),
    )
