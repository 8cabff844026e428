"""The standalone agent: the same steps the StackStorm workflow runs, in one loop.

Used for drills against the simulated fleet, shadow mode against real monitoring (``aisre watch``),
development and CI. Each :meth:`Agent.tick` polls the watchers, hands new signals to the pipeline
(:mod:`aisre.steps`) and follows up on fixes that await verification.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from aisre import steps
from aisre.config import Config, secret_values, work_dir
from aisre.errors import IntegrationError, SreError, StateError
from aisre.models import (ActionResult, ActionStatus, Change, Classification, Decision, Incident, IncidentStatus,
                          Mode, RunbookAction, Severity, Signal, Verdict, iso)
from aisre.state import MemoryStore, StateStore
from aisre.watch import LogWatchRunner, MetricWatcher

log = logging.getLogger(__name__)

#: a non-critical page waits until the incident has lasted this long (a blip heals within it)
CONFIRM_S = 120.0
#: a log signal counts as ongoing for this long after it was seen
LOG_ACTIVE_S = 90.0
#: metrics whose forecast runs into a hard limit (percent of capacity)
CAPACITY_METRICS = {"memory_pct": 100.0, "disk_pct": 100.0, "cpu_pct": 100.0, "cache_memory_pct": 100.0,
                    "db_cpu_pct": 100.0}
DIRECTIONS = {"uptime": "down", "request_rate": "both"}


@dataclass
class PendingFix:
    incident_id: str
    action: str
    service: str
    rb_action: RunbookAction | None
    deadline: float
    started: float


@dataclass
class TickReport:
    now: float
    signals: list[Signal] = field(default_factory=list)
    decisions: list[tuple[str, Decision]] = field(default_factory=list)
    actions: list[ActionResult] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


class Agent:
    """One autonomous SRE. Every collaborator is injected; :func:`build_agent` wires the defaults."""

    def __init__(self, *, config: Config, metric_sources: Mapping[str, Any], executors: Mapping[str, Any],
                 notifiers: Sequence[Any], retriever: Any, analyst: Any, store: StateStore, audit: Any,
                 clock: Callable[[], float] = time.time, log_sources: Mapping[str, Any] | None = None,
                 correlator: Any = None, guardrails: Any = None, owner: str = "aisre-standalone",
                 change_feed: Callable[[float], Iterable[Change]] | None = None, capture: Any = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        from aisre.correlate import correlator_from_config
        from aisre.policy import Guardrails

        self.config = config
        self.store = store
        self.clock = clock
        self.audit = audit
        self.retriever = retriever
        self.analyst = analyst
        self.executors = dict(executors)
        self.dispatcher = _as_dispatcher(notifiers, store)
        self.owner = owner
        self.change_feed = change_feed
        self.capture = capture
        self.on_event = on_event or (lambda kind, data: None)
        self.metric_watch = MetricWatcher(config, metric_sources, store, clock=clock)
        self.log_watch = LogWatchRunner(config, log_sources, store, clock=clock) if log_sources else None
        self.correlator = correlator or correlator_from_config(store, config, clock=clock)
        self.guardrails = guardrails or Guardrails(config.safety, store, clock=clock, environment=config.environment,
                                                   targets=dict(config.targets), audit=audit)
        self.pending: dict[str, PendingFix] = {}
        self.watching: dict[str, float] = {}      # incident id -> last signal time (transient / cooling down)
        self.awaiting: dict[str, Any] = {}        # incident id -> runbook whose action waits for its preconditions
        self.confirming: dict[str, float] = {}    # incident id -> when a deferred non-critical page is due
        self.cleared_at: dict[str, float] = {}    # incident id -> when its symptoms last cleared before a page
        self.triaged_on: dict[str, frozenset[tuple[str, str]]] = {}   # incident id -> evidence of its last triage
        self.ledger: list[dict[str, Any]] = []    # shadow mode: what it would have done and why
        self.incidents: dict[str, Incident] = {}  # every incident this agent touched (for reports and drills)
        self._seen_changes: set[str] = set()
        self.retry_signals: list[Signal] = []     # drained from the outbox but not handled yet (store down)
        self._charted: set[str] = set()           # incidents whose humans already got a metric chart
        #: latest values for prechecks and verification; % thresholds are relative to the metric's capacity
        self.reader = steps.LiveReader(self.read_latest, lambda svc, m: steps.config_capacity(config, svc, m))

    # ------------------------------------------------------------------------------------ loop
    def tick(self, now: float | None = None) -> TickReport:
        now = self.clock() if now is None else now
        report = TickReport(now=now)
        if self.change_feed is not None:
            for change in self.change_feed(now):
                if change.id not in self._seen_changes:
                    self._seen_changes.add(change.id)
                    self.correlator.add_change(change)
                    self.on_event("change", {"ts": change.ts, "service": change.service, "version": change.version})
        from aisre.health import record_heartbeat
        for kind, watcher in (("metrics", self.metric_watch), ("logs", self.log_watch)):
            if watcher is None:
                continue
            try:
                watcher.poll_once(now)
                sent = watcher.drain_outbox(report.signals.append)
                st = watcher.stats
                record_heartbeat(self.store, kind, now=now, polled=st.polled, points=st.points, errors=st.errors,
                                 sent=sent)
            except Exception as exc:  # a broken watcher must not stop the other one or the follow-ups
                log.error("%s watcher failed: %s", kind, exc)
                record_heartbeat(self.store, kind, now=now, polled=0, points=0, errors=(),
                                 fatal=f"{type(exc).__name__}: {exc}")
        # Correlate every signal of this poll first, then triage each touched incident once, on all of
        # its evidence: signals that arrive together (memory at 99 % and the kernel's OOM kill) must not
        # be diagnosed one at a time, the first one deciding the fix.
        touched: dict[str, Incident] = {}
        retry, self.retry_signals = self.retry_signals, []
        for signal in (*retry, *report.signals):
            try:
                incident = self.ingest(signal, now)
            except (StateError, IntegrationError) as exc:   # the store is down: keep it for the next tick
                log.error("signal %s not handled, retrying next tick: %s", signal.id, exc)
                self.retry_signals.append(signal)
                continue
            except SreError as exc:                          # a signal that can never be handled
                log.error("signal %s dropped: %s", signal.id, exc)
                continue
            if incident is not None:
                touched[incident.id] = incident
        for inc_id in touched:
            latest = self.correlator.get(inc_id)
            if latest is None or _merged_away(latest):    # folded into another incident: one incident
                gone = self.incidents.get(inc_id)
                if gone is not None and not gone.actions and gone.escalated_at is None:
                    self.incidents.pop(inc_id, None)
                elif latest is not None:
                    self.incidents[inc_id] = latest
                continue
            self.incidents[inc_id] = latest
            self._triage_if_ours(latest, now, report)
        self.follow_up(now, report)
        return report

    def read_latest(self, service: str, metric: str) -> float | None:
        return self.metric_watch.latest_value(service, metric)

    # ------------------------------------------------------------------------------------ pipeline
    def handle_signal(self, signal: Signal, now: float, report: TickReport) -> Incident | None:
        """Correlate one signal and triage its incident (a single signal; :meth:`tick` batches a poll)."""
        incident = self.ingest(signal, now)
        if incident is None:
            return None
        return self._triage_if_ours(incident, now, report)

    def ingest(self, signal: Signal, now: float) -> Incident | None:
        """Attach ``signal`` to its incident (new or existing); no triage."""
        if self.guardrails.mode() is Mode.OFF:
            return None
        incident, is_new = self.correlator.ingest(signal)
        self.incidents[incident.id] = incident
        self.on_event("signal", {"ts": now, "incident": incident.id, "service": signal.service, "name": signal.name,
                                 "class": signal.anomaly_class.value if signal.anomaly_class else signal.kind,
                                 "summary": signal.summary})
        return incident

    def _triage_if_ours(self, incident: Incident, now: float, report: TickReport) -> Incident:
        if incident.id in self.pending:
            return incident            # a fix is under way; verification decides what happens next
        if incident.status is IncidentStatus.ESCALATED and self._materially_new(incident):
            # escalated on weaker evidence; a fatal signature, an alert, a change or another service
            # arrived since: triage again (the page already sent is not repeated: the Dispatcher
            # dedups per fingerprint; a known problem with a safe fix is fixed and the humans told)
            incident = steps.add_timeline(incident, now, "retriage", "materially new evidence since the escalation")
            incident = dataclasses.replace(incident, status=IncidentStatus.OPEN)
            self._save(incident)
            self.watching[incident.id] = now
            return self.process(incident, now, report)
        if incident.status in (IncidentStatus.ESCALATED, IncidentStatus.AWAITING_APPROVAL):
            self._share_new_evidence(incident)
            return incident            # humans own it now; they get the new evidence, the agent does not act
        if incident.status is IncidentStatus.RESOLVED:
            return incident
        self.watching[incident.id] = now
        return self.process(incident, now, report)

    def _materially_new(self, incident: Incident) -> bool:
        """Evidence that can change a diagnosis arrived after the last triage: a fatal log signature,
        an alert or status signal, a change, or a service the incident did not involve."""
        seen = self.triaged_on.get(incident.id)
        return seen is not None and bool(evidence_keys(incident) - seen)

    def _share_new_evidence(self, incident: Incident) -> None:
        """The first metric graph of an escalated incident goes to the humans' thread and ticket."""
        chartable = steps.chartable_signals(incident)
        if incident.id in self._charted or not chartable:
            return
        self._charted.add(incident.id)
        newest = max(chartable, key=lambda s: s.ts)
        steps.notify(incident, "update", f"New evidence: {newest.summary}", dispatcher=self.dispatcher,
                     audit=self.audit, environment=self.config.environment, chart=True)

    def process(self, incident: Incident, now: float, report: TickReport) -> Incident:
        mode = self.guardrails.mode()
        if mode is Mode.OFF:
            return incident
        diagnosis, retrieval, runbooks = steps.triage(incident, retriever=self.retriever, analyst=self.analyst)
        self.triaged_on[incident.id] = evidence_keys(incident)
        incident = dataclasses.replace(incident, diagnosis=diagnosis)
        incident = steps.add_timeline(incident, now, "diagnosed",
                                      f"{diagnosis.classification.value}: {diagnosis.summary}",
                                      runbook=diagnosis.runbook_id, confidence=round(diagnosis.confidence, 3),
                                      analyst=diagnosis.analyst)
        runbook = runbooks.get(diagnosis.runbook_id or "")
        request, waiting = steps.plan_request(incident, diagnosis, runbook, self.config, read=self.reader)
        decision = steps.decide(incident, diagnosis, runbook, request, guardrails=self.guardrails, audit=self.audit,
                                waiting=waiting)
        if waiting and request is None:
            self.awaiting[incident.id] = runbook
        else:
            self.awaiting.pop(incident.id, None)
        due = None if waiting else self._confirm_due(incident, diagnosis, runbook, decision, now)
        if due is not None:
            self.confirming[incident.id] = due
            decision = dataclasses.replace(decision, verdict=Verdict.WATCH, reasons=(
                f"not critical: confirming the problem persists before paging (due {iso(due)})", *decision.reasons))
            self.audit.append("decision", incident.id, {"verdict": "watch", "deferred": "escalate", "due": due,
                                                        "reasons": list(decision.reasons)})
        elif not (waiting and request is None):
            self.confirming.pop(incident.id, None)
        # (a page deferred for confirmation stays due while a known fix waits for its preconditions:
        #  follow_up pages then if users are still hurting)
        report.decisions.append((incident.id, decision))
        incident = steps.add_timeline(incident, now, "decided", f"{decision.verdict.value}: {'; '.join(decision.reasons)}",
                                      mode=decision.mode.value)
        self.on_event("decision", {"ts": now, "incident": incident.id, "verdict": decision.verdict.value,
                                   "classification": diagnosis.classification.value, "runbook": diagnosis.runbook_id,
                                   "action": request.action if request else None, "reasons": list(decision.reasons)})
        verdict = decision.verdict
        if verdict is Verdict.ACT and request is not None:
            incident = self._act(incident, request, runbook.action(request.action) if runbook else None, now, report)
        elif verdict in (Verdict.ESCALATE, Verdict.ASK):
            incident = self._escalate(incident, now, report, ask=verdict is Verdict.ASK, request=request)
        elif verdict is Verdict.RECORD:
            self.ledger.append({"ts": now, "incident": incident.id, "service": incident.service,
                                "would": request.action if request else "escalate",
                                "classification": diagnosis.classification.value, "runbook": diagnosis.runbook_id,
                                "reasons": list(decision.reasons)})
        elif verdict is Verdict.RESOLVE:
            incident = self._resolve(incident, now, report, "symptom gone")
        self._save(incident)
        return incident

    def _confirm_due(self, incident: Incident, diagnosis: Any, runbook: Any, decision: Decision,
                     now: float) -> float | None:
        """When a page for a non-critical incident should go out, or None to page now.

        An unknown-critical diagnosis, or a known problem whose runbook escalates at ``critical``
        (an expired certificate, a zone down), pages at once. A known problem with no automated fix
        whose runbook escalates below critical (a vendor blip) and an unrecognised minor anomaly are
        paged only once they have lasted :data:`CONFIRM_S` and still show: a transient blip heals
        within that and is closed without waking anybody. The clock restarts after a clearing."""
        if decision.verdict is not Verdict.ESCALATE or decision.mode not in (Mode.AUTONOMOUS, Mode.LIMITED):
            return None
        if incident.escalated_at is not None:
            return None
        if diagnosis.classification is Classification.KNOWN:
            declared = runbook.escalation.severity if runbook is not None and runbook.escalation else Severity.CRITICAL
            if declared.rank >= Severity.CRITICAL.rank or decision.request is not None:
                return None
        elif diagnosis.classification is not Classification.UNKNOWN_MINOR:
            return None
        cleared = self.cleared_at.get(incident.id)
        onsets = [s.onset_ts or s.ts for s in incident.signals if cleared is None or s.ts > cleared]
        start = min(onsets, default=now)
        if cleared is None:
            start = min(start, incident.opened_at)
        due = start + CONFIRM_S
        return due if now < due else None

    def still_showing(self, incident: Incident, now: float, *, user_facing_only: bool = False) -> bool:
        """Does the incident still show? A metric signal whose latest value is outside its band, or an
        error-level log signal, a fatal signature or an alert seen within :data:`LOG_ACTIVE_S` (a new
        warning-level log pattern alone, with every metric back in its band, is not an outage).
        ``user_facing_only``: only error / latency / availability metrics count."""
        from aisre.analysis.evidence import is_user_facing
        for s in incident.signals:
            if s.resolved:
                continue
            if s.kind in ("metric", "synthetic"):
                if user_facing_only and not is_user_facing(s):
                    continue
                metric = s.labels.get("metric") or s.name
                value = self.read_latest(s.service, metric)
                if value is None:
                    continue
                up = s.upper if s.upper is not None else s.expected
                low = s.lower if s.lower is not None else s.expected
                rising = s.value is not None and s.expected is not None and s.value >= s.expected
                if (rising and up is not None and value > up) or (not rising and low is not None and value < low):
                    return True
            elif now - s.ts < LOG_ACTIVE_S and (s.kind != "log" or s.signature or
                                                 s.severity.rank >= Severity.ERROR.rank):
                return True
        return False

    def _act(self, incident: Incident, request: Any, rb_action: RunbookAction | None, now: float,
             report: TickReport) -> Incident:
        steps.notify(incident, "acting", f"Taking action: {request.action} on {request.service} "
                     f"(runbook {request.runbook_id}). Reason: {request.reason}", dispatcher=self.dispatcher,
                     audit=self.audit, environment=self.config.environment)
        result = steps.remediate(request, executors=self.executors, guardrails=self.guardrails, audit=self.audit,
                                 owner=self.owner, clock=self.clock, rb_action=rb_action,
                                 read=steps.IncidentReader(self.reader, incident),
                                 capture=self.capture)
        report.actions.append(result)
        incident = dataclasses.replace(incident, actions=incident.actions + (result,),
                                       attempts=incident.attempts + (1 if result.status in
                                                                     (ActionStatus.SUCCEEDED, ActionStatus.FAILED) else 0))
        incident = steps.add_timeline(incident, now, "acted", f"{request.action}: {result.status.value} {result.detail or result.error}")
        self.on_event("action", {"ts": now, "incident": incident.id, "action": request.action,
                                 "service": request.service, "status": result.status.value,
                                 "detail": result.detail or result.error})
        if result.status is ActionStatus.SUCCEEDED:
            self.pending[incident.id] = PendingFix(incident.id, request.action, request.service, rb_action,
                                                   deadline=now + steps.verify_deadline_s(rb_action), started=now)
            return dataclasses.replace(incident, status=IncidentStatus.MITIGATING)
        if result.status is ActionStatus.SKIPPED and result.precheck is not None and not result.precheck.ok:
            return incident             # the symptom went away before we acted: keep watching
        if result.status is ActionStatus.SKIPPED:
            return incident             # another node is acting
        return self._escalate(incident, now, report, reason=f"{request.action} {result.status.value}: {result.error or result.detail}")

    def _escalate(self, incident: Incident, now: float, report: TickReport, *, ask: bool = False,
                  request: Any = None, reason: str = "") -> Incident:
        text = reason or (f"Approval needed for {request.action} on {request.service}" if ask and request else
                          "Escalating: the agent will not act on its own.")
        incident = dataclasses.replace(incident, status=IncidentStatus.AWAITING_APPROVAL if ask else IncidentStatus.ESCALATED,
                                       escalated_at=incident.escalated_at or now)
        incident = steps.add_timeline(incident, now, "escalated", text)
        receipts = steps.notify(incident, "approval" if ask else "escalated", text, dispatcher=self.dispatcher,
                                audit=self.audit, environment=self.config.environment)
        if steps.chartable_signals(incident) and receipts:
            self._charted.add(incident.id)
        report.escalated.append(incident.id)
        self.incidents[incident.id] = incident
        self.on_event("escalated", {"ts": now, "incident": incident.id, "service": incident.service, "text": text})
        self.pending.pop(incident.id, None)
        return incident

    def _resolve(self, incident: Incident, now: float, report: TickReport, how: str) -> Incident:
        incident = dataclasses.replace(incident, status=IncidentStatus.RESOLVED, resolved_at=now)
        incident = steps.add_timeline(incident, now, "resolved", how)
        self.correlator.save(incident)
        self.correlator.resolve(incident.id, how)
        self.incidents[incident.id] = incident
        steps.notify(incident, "resolved", how, dispatcher=self.dispatcher, audit=self.audit,
                     environment=self.config.environment)
        report.resolved.append(incident.id)
        self.on_event("resolved", {"ts": now, "incident": incident.id, "service": incident.service, "how": how})
        self.pending.pop(incident.id, None)
        self.watching.pop(incident.id, None)
        return incident

    def _cleared(self, incident: Incident, now: float, due: float) -> None:
        """The symptoms went away before the page was due: a transient; keep watching, page nobody."""
        from aisre.models import Diagnosis
        d = incident.diagnosis
        why = (f"symptoms cleared within {CONFIRM_S:.0f} s without action"
               + (f" (it looked like {d.runbook_id})" if d is not None and d.runbook_id else ""))
        diagnosis = Diagnosis(classification=Classification.TRANSIENT, severity=Severity.WARNING,
                              summary=f"Transient anomaly on {incident.service}: {why}", suspected_cause=why,
                              evidence=d.evidence if d is not None else (), confidence=0.7,
                              next_steps=("Keep watching; reopen if it recurs within the window.",),
                              analyst="agent")
        incident = dataclasses.replace(incident, diagnosis=diagnosis)
        incident = steps.add_timeline(incident, now, "diagnosed", f"transient: {why}")
        self.audit.append("decision", incident.id, {"verdict": "watch", "classification": "transient",
                                                    "reasons": [why]})
        self.on_event("decision", {"ts": now, "incident": incident.id, "verdict": "watch",
                                   "classification": "transient", "runbook": None, "action": None,
                                   "reasons": [why]})
        self.watching[incident.id] = now
        self.cleared_at[incident.id] = now
        self._save(incident)

    def _save(self, incident: Incident) -> None:
        self.correlator.save(incident)
        self.incidents[incident.id] = incident

    # ------------------------------------------------------------------------------------ follow-up
    def follow_up(self, now: float, report: TickReport) -> None:
        """Verify fixes under way; retry or escalate when they did not work; close quiet transients."""
        for inc_id, fix in list(self.pending.items()):
            incident = self.correlator.get(inc_id) or self.incidents.get(inc_id)
            if incident is None:
                self.pending.pop(inc_id, None)
                continue
            check = steps.verify_symptom(fix.rb_action, fix.service, steps.IncidentReader(self.reader, incident))
            if check.ok and now - fix.started >= 60:
                incident = steps.add_timeline(incident, now, "verified", check.detail)
                self._resolve(incident, now, report, f"auto-remediated by {fix.action}; {check.detail}")
                self.audit.append("verify", inc_id, {"ok": True, "detail": check.detail})
            elif now >= fix.deadline:
                self.audit.append("verify", inc_id, {"ok": False, "detail": check.detail})
                incident = steps.add_timeline(incident, now, "verified", f"fix did not hold: {check.detail}")
                self.pending.pop(inc_id, None)
                incident = dataclasses.replace(incident, status=IncidentStatus.OPEN)
                self._save(incident)
                self.process(incident, now, report)   # guardrails escalate once attempts reach the limit
        for inc_id, runbook in list(self.awaiting.items()):
            incident = self.incidents.get(inc_id)
            if incident is None or incident.status is not IncidentStatus.OPEN or inc_id in self.pending:
                self.awaiting.pop(inc_id, None)
                continue
            rb_action, _ = steps.choose_action(incident.diagnosis, runbook, steps.action_service(incident, runbook),
                                                steps.IncidentReader(self.reader, incident))
            if rb_action is not None:          # the pending action is now due: decide again, on live values
                self.awaiting.pop(inc_id, None)
                self.watching[inc_id] = now
                self.process(incident, now, report)
        for inc_id, due in list(self.confirming.items()):
            incident = self.incidents.get(inc_id)
            if incident is None or incident.status is not IncidentStatus.OPEN or inc_id in self.pending:
                self.confirming.pop(inc_id, None)
                continue
            if now < due:
                continue
            self.confirming.pop(inc_id, None)
            if inc_id in self.awaiting:
                # it began as something worth paging and lasted; the only known fix is not due yet
                if self.still_showing(incident, now, user_facing_only=True):
                    incident = self._escalate(incident, now, report, reason=(
                        f"Escalating: the problem lasted {CONFIRM_S:.0f} s with user-facing impact and the known "
                        f"fix ({getattr(self.awaiting[inc_id], 'id', '?')}) is not due yet."))
                    self.awaiting.pop(inc_id, None)
                    self._save(incident)
            elif self.still_showing(incident, now):
                self.process(incident, now, report)        # lasted: the deferred page goes out now
            else:
                self._cleared(incident, now, due)
        quiet_s = 600.0
        for inc_id, last in list(self.watching.items()):
            incident = self.incidents.get(inc_id)
            if incident is None or incident.status is not IncidentStatus.OPEN or inc_id in self.pending:
                self.watching.pop(inc_id, None)
                continue
            if inc_id in self.awaiting:
                continue                       # a known problem whose fix is pending is not a quiet transient
            last_signal = max((s.ts for s in incident.signals), default=last)
            if now - last_signal >= quiet_s:
                self._resolve(incident, now, report, "no recurrence for 10 minutes; closed without action")


# ---------------------------------------------------------------------------------------- wiring


def evidence_keys(incident: Incident) -> frozenset[tuple[str, str]]:
    """The diagnosis-changing evidence of an incident: fatal signatures, alerts, changes, services."""
    keys: set[tuple[str, str]] = {("service", s) for s in (incident.service, *incident.services)}
    for s in incident.signals:
        if s.resolved:
            continue
        if s.signature:
            keys.add(("signature", s.signature))
        if s.kind in ("alert", "status"):
            keys.add((s.kind, s.name))
    keys.update(("change", c.id) for c in incident.changes)
    return frozenset(keys)


def _merged_away(incident: Incident) -> bool:
    """Closed by the correlator because it was folded into another incident (a cascade's root)."""
    last = incident.timeline[-1] if incident.timeline else None
    return (incident.status is IncidentStatus.RESOLVED and last is not None and last.kind == "resolved"
            and last.text.startswith("merged into "))


def _as_dispatcher(notifiers: Any, store: StateStore) -> Any:
    """A Dispatcher as is, or a list of notifiers wrapped in one (routing and dedup in one place)."""
    if hasattr(notifiers, "dispatch"):
        return notifiers
    from aisre.notify.dispatch import Dispatcher
    return Dispatcher(list(notifiers or ()), store=store)


def build_agent(config: Config, *, store: StateStore | None = None, clock: Callable[[], float] = time.time,
                metric_sources: Mapping[str, Any] | None = None, log_sources: Mapping[str, Any] | None = None,
                executors: Mapping[str, Any] | None = None, notifiers: Sequence[Any] | None = None,
                retriever: Any = None, analyst: Any = None, audit_path: str | None = None, **kw: Any) -> Agent:
    """Wire an :class:`Agent` from the config, with any collaborator overridable."""
    from aisre.policy.audit import AuditLog

    store = store if store is not None else MemoryStore(clock=clock)
    if metric_sources is None:
        from aisre.sources import build_metric_sources
        metric_sources = build_metric_sources(config)
    if log_sources is None:
        from aisre.sources import build_log_sources
        log_sources = build_log_sources(config, store)
    if executors is None:
        from aisre.remediate.registry import build_executors
        executors = build_executors(config, store)
    if notifiers is None:
        from aisre.notify import build_dispatcher
        notifiers = build_dispatcher(config, store)
    if retriever is None:
        from aisre.knowledge import build_retriever
        retriever = build_retriever(config)
    if analyst is None:
        from aisre.analysis import build_analyst
        analyst = build_analyst(config)
    path = audit_path or config.audit.get("path") or os.path.join(work_dir(), "audit.jsonl")
    audit = AuditLog(path, clock=clock, environment=config.environment, secrets=secret_values(config))
    return Agent(config=config, metric_sources=metric_sources, log_sources=log_sources, executors=executors,
                 notifiers=notifiers, retriever=retriever, analyst=analyst, store=store, audit=audit, clock=clock, **kw)

