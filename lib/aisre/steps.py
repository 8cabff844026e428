"""The incident pipeline as plain functions: correlate → triage → decide → remediate → verify → escalate/close.

Each function is one step of the Orquesta workflow ``aisre.handle_incident`` (a thin st2 action calls it)
and of the standalone :class:`aisre.agent.Agent`, so both paths share the decision logic. Every decision
and every action is written to the audit log here, in one place.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any, Callable, Mapping, Sequence

from aisre import conditions, slots
from aisre.config import Config
from aisre.errors import ForbiddenAction, PolicyDenied, ValidationError
from aisre.models import (ActionRequest, ActionResult, ActionStatus, Check, Classification, Decision, Diagnosis,
                          Incident, Mode, Retrieval, Runbook, RunbookAction, Safety, Signal, Target,
                          TimelineEntry, Verdict)

log = logging.getLogger(__name__)

#: reads the latest value of a service's metric (None when unknown). A reader may also have a
#: ``capacity(service, metric)`` method: ``%`` thresholds are then percentages of that capacity.
MetricReader = Callable[[str, str], "float | None"]


class LiveReader:
    """A :data:`MetricReader` that also knows each metric's capacity (from the service config)."""

    def __init__(self, latest: MetricReader, capacity: Callable[[str, str], "float | None"]) -> None:
        self._latest = latest
        self._capacity = capacity

    def __call__(self, service: str, metric: str) -> float | None:
        return self._latest(service, metric)

    def capacity(self, service: str, metric: str) -> float | None:
        return self._capacity(service, metric)


def config_capacity(config: Config, service: str, metric: str) -> float | None:
    """The configured capacity of ``service``'s ``metric`` (None when not configured)."""
    svc = config.service(service)
    spec = next((m for m in svc.metrics if m.name == metric), None) if svc else None
    cap = getattr(spec, "capacity", None) if spec is not None else None
    return float(cap) if cap else None


def _capacity(read: Any, service: str, metric: str) -> float | None:
    fn = getattr(read, "capacity", None)
    return fn(service, metric) if callable(fn) else None


def add_timeline(incident: Incident, ts: float, kind: str, text: str, **data: Any) -> Incident:
    entry = TimelineEntry(ts=ts, kind=kind, text=text, data=data)
    return dataclasses.replace(incident, timeline=incident.timeline + (entry,), updated_at=max(ts, incident.updated_at))


# --------------------------------------------------------------------------- triage


def query_text(incident: Incident) -> str:
    """What we ask the knowledge base: signal names, summaries and log samples (no LLM text)."""
    parts: list[str] = []
    for s in incident.signals[-10:]:
        parts.append(f"{s.name} {s.anomaly_class.value if s.anomaly_class else ''} {s.summary}")
        parts.extend(s.samples[:2])
    return " \n".join(p for p in parts if p).strip()[:4000]


def triage(incident: Incident, *, retriever: Any, analyst: Any) -> tuple[Diagnosis, Retrieval, dict[str, Runbook]]:
    """Retrieve runbooks for the incident, then diagnose it (LLM or offline analyst)."""
    signatures = tuple(sorted({s.signature for s in incident.signals if s.signature}))
    alerts = tuple(sorted({s.name for s in incident.signals if s.kind in ("alert", "status")}))
    metrics = tuple(sorted({(s.name, s.anomaly_class.value if s.anomaly_class else "") for s in incident.signals
                            if s.kind in ("metric", "synthetic")}))
    retrieval = retriever.search(query_text(incident), k=5, service=incident.service, signatures=signatures,
                                 alerts=alerts, metrics=metrics)
    runbooks: dict[str, Runbook] = {}
    for m in retrieval.matches:
        rb = retriever.get(m.runbook_id)
        if rb is not None:
            runbooks[m.runbook_id] = rb
    diagnosis = analyst.diagnose(incident, retrieval, runbooks)
    return diagnosis, retrieval, runbooks


# --------------------------------------------------------------------------- decide


def target_for(config: Config, service: str) -> Target:
    spec = config.service(service)
    if spec is None:
        return Target(kind="kubernetes", name=service, namespace="default")
    t = spec.target
    return Target(kind=t.kind, name=t.name or service, namespace=t.namespace, extra=dict(t.extra))


def action_service(incident: Incident, runbook: Runbook | None) -> str:
    """The service the runbook's fix applies to: the one showing the runbook's symptoms.

    A correlated incident can span services (its ``service`` is the root dependency); a memory leak on
    checkout inside an incident grouped under orders-db must restart checkout, not the database.
    (Datastore actions requested on an app land on its datastore, as the executors resolve them; the
    metrics a precondition reads come from whichever service of the incident has them, see
    :class:`IncidentReader`.)
    """
    if runbook is None:
        return incident.service
    metrics = {m.metric for m in runbook.symptoms.metrics}
    sigs = {x.lower() for x in runbook.symptoms.log_signatures}
    for s in sorted(incident.signals, key=lambda s: (s.severity.rank, s.ts), reverse=True):
        if s.resolved:
            continue
        if s.name in metrics or (s.signature and s.signature.lower() in sigs) or \
                (s.evidence.get("runbook_id") == runbook.id if isinstance(s.evidence, Mapping) else False):
            return s.service
    return incident.service


class IncidentReader:
    """A :data:`MetricReader` for one incident: a metric the acting service does not have is read on
    the other services of the incident (a cache-full precondition ``cache_memory_pct > 90`` of a fix
    requested on checkout reads sessions-cache). Capacities follow the service that answered."""

    def __init__(self, read: MetricReader, incident: Incident) -> None:
        self._read = read
        self._services = tuple(dict.fromkeys((incident.service, *incident.services,
                                              *(s.service for s in incident.signals))))

    def locate(self, service: str, metric: str) -> tuple[str, float | None]:
        value = self._read(service, metric)
        if value is not None:
            return service, value
        for other in self._services:
            if other != service:
                value = self._read(other, metric)
                if value is not None:
                    return other, value
        return service, None

    def __call__(self, service: str, metric: str) -> float | None:
        return self.locate(service, metric)[1]

    def capacity(self, service: str, metric: str) -> float | None:
        return _capacity(self._read, self.locate(service, metric)[0], metric)


def choose_action(diagnosis: Diagnosis, runbook: Runbook | None, service: str,
                  read: MetricReader | None) -> tuple[RunbookAction | None, str]:
    """The runbook action to run now, or ``(None, why we wait)``.

    The analyst judged preconditions on the evidence it saw (the signals). A known problem whose action
    is not yet warranted (a leak at 60 % when the runbook restarts above 80 %) is *pending*: the
    preconditions are re-read on live values, and the action becomes due once they hold.
    """
    if runbook is None:
        return None, ""
    if diagnosis.proposed_action:
        return runbook.action(diagnosis.proposed_action), ""
    if diagnosis.classification is not Classification.KNOWN or not runbook.auto_remediate or read is None:
        return None, ""
    waiting: list[str] = []
    due: list[RunbookAction] = []
    for act in runbook.actions:
        if not act.preconditions:
            continue
        pre = preconditions_hold(act, service, read)
        if pre.ok:
            due.append(act)
            continue
        detail = pre.detail.replace("precondition no longer holds: ", "")
        if detail not in waiting:
            waiting.append(detail)
    if due:
        return safest(due), ""
    return None, ("waiting for " + "; ".join(waiting)) if waiting else ""


def safest(actions: Sequence[RunbookAction]) -> RunbookAction:
    """The least risky of several applicable runbook actions (declared safety, then runbook order):
    a safe restart of the leaking app before a caution terminate of database sessions."""
    rank = {Safety.SAFE: 0, Safety.CAUTION: 1, Safety.FORBIDDEN: 2}
    return min(actions, key=lambda a: rank.get(a.safety or Safety.SAFE, 2))


def build_request(incident: Incident, diagnosis: Diagnosis, runbook: Runbook | None, config: Config,
                  *, requested_by: str = "aisre", read: MetricReader | None = None) -> ActionRequest | None:
    """The action to take, with the runbook's parameters. Only the matched runbook's actions qualify."""
    return plan_request(incident, diagnosis, runbook, config, requested_by=requested_by, read=read)[0]


def plan_request(incident: Incident, diagnosis: Diagnosis, runbook: Runbook | None, config: Config,
                 *, requested_by: str = "aisre", read: MetricReader | None = None) -> tuple[ActionRequest | None, str]:
    """``(request, waiting)``: the request to decide on, or None with why a known fix is not due yet."""
    service = action_service(incident, runbook)
    read = IncidentReader(read, incident) if read is not None else None
    rb_action, waiting = choose_action(diagnosis, runbook, service, read)
    if runbook is None or rb_action is None:
        return None, waiting
    params = dict(rb_action.params)
    # The runbook's values always win. A model may only fill a parameter the runbook leaves open
    # (a "{{ name }}" placeholder or null), with a plain scalar; the registry validates it afterwards.
    for k, v in (diagnosis.action_params or {}).items():
        open_slot = k in params and (params[k] is None or (isinstance(params[k], str) and "{{" in params[k]))
        if open_slot and isinstance(v, (str, int, float, bool)) and not (isinstance(v, str) and "{{" in v):
            params[k] = v
    # Slots nobody filled are read from the incident's evidence (the flag of the flag change, the node
    # the kubelet names). A slot still open means we do not know what to act on: no request at all
    # (the registry would refuse the template text as forbidden); the guardrails escalate.
    params, still_open = slots.fill(params, incident, service)
    if still_open:
        log.info("incident %s: %s has unfilled parameters %s; not requesting it", incident.id, rb_action.action,
                 ", ".join(still_open))
        return None, ""
    return ActionRequest(action=rb_action.action, service=service, target=target_for(config, service),
                         params=params, incident_id=incident.id, runbook_id=runbook.id,
                         reason=diagnosis.summary[:300], requested_by=requested_by), ""


def decide(incident: Incident, diagnosis: Diagnosis, runbook: Runbook | None, request: ActionRequest | None, *,
           guardrails: Any, audit: Any, waiting: str = "") -> Decision:
    if request is None and waiting and guardrails.mode() is not Mode.OFF:
        decision = Decision(verdict=Verdict.WATCH, reasons=(f"known problem ({diagnosis.runbook_id}); {waiting}",),
                            mode=guardrails.mode())
    else:
        decision = guardrails.decide(incident, diagnosis, runbook, request)
    audit.append("decision", incident.id, {
        "verdict": decision.verdict.value, "reasons": list(decision.reasons), "mode": decision.mode.value,
        "classification": diagnosis.classification.value, "runbook": diagnosis.runbook_id,
        "action": request.action if request else None, "safety": decision.safety.value if decision.safety else None,
        "confidence": diagnosis.confidence, "analyst": diagnosis.analyst,
    })
    return decision


# --------------------------------------------------------------------------- act and verify


def preconditions_hold(rb_action: RunbookAction | None, service: str, read: MetricReader | None) -> Check:
    """Re-verify the symptom right before acting (the runbook's preconditions on the latest values)."""
    if rb_action is None or not rb_action.preconditions or read is None:
        return Check(ok=True, detail="no preconditions")
    observed: dict[str, Any] = {}
    for cond in rb_action.preconditions:
        try:
            metric, _, _ = conditions.parse(cond)
        except ValidationError:
            continue        # not a live metric comparison ('deploy within 60m'): the analyst judged it on evidence
        if metric is None:
            continue
        value = read(service, metric)
        observed[metric] = value
        if not conditions.holds(value, cond, capacity=_capacity(read, service, metric)):
            return Check(ok=False, detail=f"precondition no longer holds: {cond} (now {value})", observed=observed)
    return Check(ok=True, detail="preconditions hold", observed=observed)


def remediate(request: ActionRequest, *, executors: Mapping[str, Any], guardrails: Any, audit: Any,
              owner: str, clock: Callable[[], float] = time.time, dry_run: bool = False,
              rb_action: RunbookAction | None = None, read: MetricReader | None = None,
              capture: Callable[[ActionRequest, Any], Any] | None = None) -> ActionResult:
    """Run one action under the guardrails: forbidden check, symptom precheck, lease, evidence capture,
    executor, audit. Capture has its own time budget and never blocks the fix beyond it."""
    from aisre.remediate.registry import run_action

    now = clock()
    try:
        guardrails.check(request)
    except (ForbiddenAction, PolicyDenied) as exc:
        result = ActionResult(action=request.action, service=request.service, status=ActionStatus.DENIED,
                              target=request.target.name, started_at=now, finished_at=now, error=str(exc))
        audit.append("action", request.incident_id, {"action": request.action, "status": "denied",
                                                    "error": str(exc), "forbidden": isinstance(exc, ForbiddenAction)})
        return result
    pre = preconditions_hold(rb_action, request.service, read)
    if not pre.ok:
        result = ActionResult(action=request.action, service=request.service, status=ActionStatus.SKIPPED,
                              target=request.target.name, started_at=now, finished_at=now, detail=pre.detail,
                              precheck=pre)
        audit.append("action", request.incident_id, {"action": request.action, "status": "skipped", "detail": pre.detail})
        return result
    if not guardrails.acquire_lease(request.service, owner):
        result = ActionResult(action=request.action, service=request.service, status=ActionStatus.SKIPPED,
                              target=request.target.name, started_at=now, finished_at=now,
                              detail="another agent holds the remediation lease for this service")
        audit.append("action", request.incident_id, {"action": request.action, "status": "skipped", "detail": result.detail})
        return result
    executor = executors.get(request.target.kind)
    captured = None
    try:
        if capture is not None and rb_action is not None and rb_action.capture and not dry_run:
            try:
                captured = capture(request, rb_action.capture)
            except Exception as exc:  # evidence is precious, the fix more so
                log.warning("evidence capture failed: %s", exc)
        if executor is None:
            result = ActionResult(action=request.action, service=request.service, status=ActionStatus.FAILED,
                                  target=request.target.name, started_at=now, finished_at=now,
                                  error=f"no executor for target kind {request.target.kind!r} is configured")
        else:
            result = run_action(executor, request, dry_run=dry_run, clock=clock,
                                targets=getattr(guardrails, "targets", None), stop=lambda: _stopped(guardrails))
        if result.status in (ActionStatus.SUCCEEDED, ActionStatus.FAILED):
            guardrails.record_action(request.service)
        if captured is not None:
            result = dataclasses.replace(result, evidence={**dict(result.evidence), "captures": captured.to_dict()},
                                         detail=(result.detail + "; " if result.detail else "") + captured.summary())
    finally:
        guardrails.release_lease(request.service, owner)
    audit.append("action", request.incident_id, {
        "action": request.action, "service": request.service, "target": f"{request.target.kind}/{request.target.namespace}/{request.target.name}",
        "params": dict(request.params), "status": result.status.value, "detail": result.detail, "error": result.error,
        "runbook": request.runbook_id, "reason": request.reason, "dry_run": dry_run,
        "captures": [i.to_dict() for i in captured.items] if captured is not None else [],
    })
    return result


def _stopped(guardrails: Any) -> str:
    """Why no action may start now (the mode was switched to off/shadow/advisory meanwhile), or ''."""
    mode = guardrails.mode()
    return f"mode {mode.value}" if mode in (Mode.OFF, Mode.SHADOW, Mode.ADVISORY) else ""


def verify_symptom(rb_action: RunbookAction | None, service: str, read: MetricReader) -> Check:
    """Are the runbook's verify checks satisfied now? (Executors verify the action; this verifies the fix.)"""
    if rb_action is None or not rb_action.verify:
        return Check(ok=True, detail="no verify checks declared")
    observed: dict[str, Any] = {}
    failing: list[str] = []
    for vc in rb_action.verify:
        value = read(service, vc.metric)
        observed[vc.metric] = value
        try:
            ok = conditions.holds(value, vc.condition, capacity=_capacity(read, service, vc.metric))
        except ValidationError:
            failing.append(f"{vc.metric} {vc.condition}: not a checkable condition")
            continue
        if not ok:
            failing.append(f"{vc.metric} {vc.condition} (now {value})")
    if failing:
        return Check(ok=False, detail="not yet: " + "; ".join(failing), observed=observed)
    return Check(ok=True, detail="verified: " + ", ".join(f"{vc.metric} {vc.condition}" for vc in rb_action.verify),
                 observed=observed)


def verify_deadline_s(rb_action: RunbookAction | None, default_minutes: float = 5.0) -> float:
    if rb_action is None or not rb_action.verify:
        return default_minutes * 60
    return max(vc.within_minutes for vc in rb_action.verify) * 60


# --------------------------------------------------------------------------- escalate and close


def notification_for(incident: Incident, kind: str, text: str, *, environment: str = "") -> Any:
    from aisre.models import Notification
    env = f"[{environment}] " if environment else ""
    title = f"{env}{incident.service}: {incident.diagnosis.summary if incident.diagnosis else incident.signals[-1].summary}"
    return Notification(incident_id=incident.id, kind=kind, title=title[:240], text=text,
                        severity=incident.severity, fingerprint=incident.fingerprint)


CHART_KINDS = ("escalated", "approval", "resolved")


def chartable_signals(incident: Incident) -> list[Signal]:
    return [s for s in incident.signals if s.kind in ("metric", "synthetic") and not s.resolved
            and isinstance(s.evidence, Mapping) and s.evidence.get("window")]


def incident_chart(incident: Incident, directory: str | None = None) -> str | None:
    """A PNG of the incident's most severe metric signal: its recent window, expected band and onset."""
    metric_signals = chartable_signals(incident)
    if not metric_signals:
        return None
    top = max(metric_signals, key=lambda s: (s.severity.rank, s.score or 0.0, s.ts))
    try:
        from aisre.config import work_dir
        from aisre.notify.charts import render_chart
        points = [(float(t), float(v)) for t, v in top.evidence["window"]]
        folder = directory or work_dir("charts")
        path = os.path.join(folder, f"{incident.id}-{top.service}-{top.name}.png")
        return render_chart(points, title=f"{top.service} {top.name}", expected=top.expected, lower=top.lower,
                            upper=top.upper, onset_ts=top.onset_ts, path=path)
    except Exception as exc:  # a chart is a nicety; the page must go out without it
        log.warning("chart for %s failed: %s", incident.id, exc)
        return None


def notify(incident: Incident, kind: str, text: str, *, dispatcher: Any, audit: Any,
           environment: str = "", links: Mapping[str, str] | None = None, chart: bool = False) -> list[Any]:
    """Route one notification through the dispatcher (channel routing, dedup per fingerprint); audited.
    Escalations, approvals and resolutions carry a chart of the anomalous metric when there is one."""
    note = notification_for(incident, kind, text, environment=environment)
    if links:
        note = dataclasses.replace(note, links=dict(links))
    if kind in CHART_KINDS or chart:
        path = incident_chart(incident)
        if path:
            note = dataclasses.replace(note, attachments=(path,))
    result = dispatcher.dispatch(note, incident)
    audit.append("notification", incident.id, {"kind": kind, **result.to_dict()})
    return list(result.receipts)
