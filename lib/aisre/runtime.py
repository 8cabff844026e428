"""The StackStorm-facing facade: one method per workflow step, all state in the datastore.

Each st2 python action builds a :class:`Runtime` from the pack config and the action service's
datastore (``DatastoreStore``), calls one method and returns its JSON-safe dict. Collaborators are
built lazily, so a step only pays for what it uses (litellm and chromadb are slow to import).
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from functools import cached_property
from typing import Any, Callable, Mapping

from aisre import steps
from aisre.config import Config, load_config
from aisre.errors import NotFound, ValidationError
from aisre.models import (ActionRequest, ActionStatus, Change, Decision, Incident, IncidentStatus, Mode, Signal,
                          Verdict)
from aisre.state import StateStore


class Runtime:
    def __init__(self, config: Config | Mapping[str, Any], store: StateStore, *, clock: Callable[[], float] = time.time,
                 owner: str | None = None, overrides: Mapping[str, Any] | None = None) -> None:
        self.config = config if isinstance(config, Config) else load_config(config)
        self.store = store
        self.clock = clock
        self.owner = owner or os.environ.get("ST2_ACTION_EXECUTION_ID") or f"pid-{os.getpid()}"
        self._overrides = dict(overrides or {})

    # ------------------------------------------------------------------ collaborators (lazy)
    def _get(self, name: str, factory: Callable[[], Any]) -> Any:
        if name not in self._overrides:
            self._overrides[name] = factory()
        return self._overrides[name]

    @property
    def correlator(self) -> Any:
        def make() -> Any:
            from aisre.correlate import Correlator
            deps = {s.name: tuple(s.depends_on) for s in self.config.services}
            return Correlator(self.store, clock=self.clock, window_s=900, dependencies=deps,
                              environment=self.config.environment)
        return self._get("correlator", make)

    @property
    def guardrails(self) -> Any:
        def make() -> Any:
            from aisre.policy import Guardrails
            return Guardrails(self.config.safety, self.store, clock=self.clock, environment=self.config.environment)
        return self._get("guardrails", make)

    @property
    def audit(self) -> Any:
        def make() -> Any:
            from aisre.policy.audit import AuditLog
            path = self.config.audit.get("path") or os.path.join(tempfile.gettempdir(), "aisre-audit.jsonl")
            return AuditLog(path, clock=self.clock, environment=self.config.environment)
        return self._get("audit", make)

    @property
    def retriever(self) -> Any:
        def make() -> Any:
            from aisre.knowledge import build_retriever
            return build_retriever(self.config)
        return self._get("retriever", make)

    @property
    def analyst(self) -> Any:
        def make() -> Any:
            from aisre.analysis import build_analyst
            return build_analyst(self.config)
        return self._get("analyst", make)

    @property
    def executors(self) -> Mapping[str, Any]:
        def make() -> Any:
            from aisre.remediate.registry import build_executors
            return build_executors(self.config, self.store)
        return self._get("executors", make)

    @property
    def notifiers(self) -> list[Any]:
        def make() -> Any:
            from aisre.notify import build_notifiers
            return build_notifiers(self.config, self.store)
        return self._get("notifiers", make)

    @property
    def metric_sources(self) -> Mapping[str, Any]:
        def make() -> Any:
            from aisre.sources import build_metric_sources
            return build_metric_sources(self.config)
        return self._get("metric_sources", make)

    # ------------------------------------------------------------------ helpers
    def incident(self, incident_id: str) -> Incident:
        inc = self.correlator.get(incident_id)
        if inc is None:
            raise NotFound(f"no incident {incident_id!r} in the datastore", integration="aisre", target=incident_id)
        return inc

    def read_latest(self, service: str, metric: str) -> float | None:
        """Latest value of a service metric straight from its source (used by prechecks and verification)."""
        svc = self.config.service(service)
        spec = next((m for m in svc.metrics if m.name == metric), None) if svc else None
        if spec is None or spec.source not in self.metric_sources:
            return None
        now = self.clock()
        series = self.metric_sources[spec.source].query_range(spec.query, now - 600, now, 30)
        points = sorted(p for s in series for p in s.points)
        return points[-1][1] if points else None

    def _runbook_action(self, incident: Incident, action: str) -> Any:
        rb = self.retriever.get(incident.diagnosis.runbook_id) if incident.diagnosis and incident.diagnosis.runbook_id else None
        return rb.action(action) if rb else None

    # ------------------------------------------------------------------ steps (one per workflow task)
    def mode(self) -> dict[str, Any]:
        return {"mode": self.guardrails.mode().value}

    def set_mode(self, mode: str, actor: str = "st2") -> dict[str, Any]:
        try:
            new = Mode(mode)
        except ValueError:
            raise ValidationError(f"unknown mode {mode!r}; one of: {', '.join(m.value for m in Mode)}", what="mode") from None
        old = self.guardrails.mode()
        self.guardrails.set_mode(new, actor)
        self.audit.append("mode", "", {"from": old.value, "to": new.value}, actor=actor)
        return {"mode": new.value, "previous": old.value}

    def correlate(self, signal: Mapping[str, Any]) -> dict[str, Any]:
        sig = Signal.from_dict(signal)
        if self.guardrails.mode() is Mode.OFF:
            return {"incident_id": "", "is_new": False, "skip": True, "status": "off"}
        incident, is_new = self.correlator.ingest(sig)
        busy = incident.status in (IncidentStatus.MITIGATING, IncidentStatus.ESCALATED,
                                   IncidentStatus.AWAITING_APPROVAL, IncidentStatus.RESOLVED)
        return {"incident_id": incident.id, "is_new": is_new, "skip": busy and not is_new,
                "status": incident.status.value, "service": incident.service}

    def record_change(self, change: Mapping[str, Any]) -> dict[str, Any]:
        ch = Change.from_dict(change)
        self.correlator.add_change(ch)
        return {"change_id": ch.id, "service": ch.service}

    def triage(self, incident_id: str) -> dict[str, Any]:
        incident = self.incident(incident_id)
        diagnosis, retrieval, _ = steps.triage(incident, retriever=self.retriever, analyst=self.analyst)
        incident = dataclasses.replace(incident, diagnosis=diagnosis)
        incident = steps.add_timeline(incident, self.clock(), "diagnosed",
                                      f"{diagnosis.classification.value}: {diagnosis.summary}", runbook=diagnosis.runbook_id)
        self.correlator.save(incident)
        return {"incident_id": incident_id, "diagnosis": diagnosis.to_dict(), "retrieval": retrieval.to_dict()}

    def decide(self, incident_id: str) -> dict[str, Any]:
        incident = self.incident(incident_id)
        if incident.diagnosis is None:
            raise ValidationError(f"incident {incident_id} has no diagnosis yet; run triage first", what="incident")
        rb = self.retriever.get(incident.diagnosis.runbook_id) if incident.diagnosis.runbook_id else None
        request = steps.build_request(incident, incident.diagnosis, rb, self.config)
        decision: Decision = steps.decide(incident, incident.diagnosis, rb, request, guardrails=self.guardrails, audit=self.audit)
        incident = steps.add_timeline(incident, self.clock(), "decided", f"{decision.verdict.value}: {'; '.join(decision.reasons)}")
        self.correlator.save(incident)
        return {"incident_id": incident_id, "verdict": decision.verdict.value, "reasons": list(decision.reasons),
                "request": request.to_dict() if request else None, "service": incident.service,
                "safety": decision.safety.value if decision.safety else None,
                "approval_ttl_minutes": self.config.safety.approval_ttl_minutes,
                "approval_route": self.config.notify.get("slack", {}).get("approval_channel")
                or self.config.notify.get("slack", {}).get("channel", "aisre")}

    def remediate(self, request: Mapping[str, Any], *, dry_run: bool = False, approved_by: str = "") -> dict[str, Any]:
        req = ActionRequest.from_dict(request)
        incident = self.incident(req.incident_id) if req.incident_id else None
        mode = self.guardrails.mode()
        # off/shadow: nothing acts. advisory: the agent never acts on its own, a human's explicit order may.
        if mode in (Mode.OFF, Mode.SHADOW) or (mode is Mode.ADVISORY and req.requested_by == "aisre"):
            return {"action": req.action, "service": req.service, "status": "skipped", "ok": False,
                    "detail": f"mode is {mode.value}: no action taken"}
        rb_action = self._runbook_action(incident, req.action) if incident else None
        if incident is not None:
            steps.notify(incident, "acting", f"Taking action: {req.action} on {req.service}"
                         + (f" (approved by {approved_by})" if approved_by else ""), notifiers=self.notifiers,
                         audit=self.audit, environment=self.config.environment)
        result = steps.remediate(req, executors=self.executors, guardrails=self.guardrails, audit=self.audit,
                                 owner=self.owner, clock=self.clock, dry_run=dry_run, rb_action=rb_action,
                                 read=self.read_latest)
        if incident is not None:
            counted = result.status in (ActionStatus.SUCCEEDED, ActionStatus.FAILED)
            incident = dataclasses.replace(incident, actions=incident.actions + (result,),
                                           attempts=incident.attempts + (1 if counted else 0),
                                           status=IncidentStatus.MITIGATING if result.ok else incident.status)
            incident = steps.add_timeline(incident, self.clock(), "acted", f"{req.action}: {result.status.value}")
            self.correlator.save(incident)
        return {**result.to_dict(), "ok": result.ok}

    def verify(self, incident_id: str, action: str) -> dict[str, Any]:
        incident = self.incident(incident_id)
        check = steps.verify_symptom(self._runbook_action(incident, action), incident.service, self.read_latest)
        self.audit.append("verify", incident_id, {"ok": check.ok, "detail": check.detail})
        return check.to_dict()

    def reopen(self, incident_id: str) -> dict[str, Any]:
        incident = dataclasses.replace(self.incident(incident_id), status=IncidentStatus.OPEN)
        self.correlator.save(incident)
        return {"incident_id": incident_id, "status": incident.status.value}

    def escalate(self, incident_id: str, reason: str = "") -> dict[str, Any]:
        incident = self.incident(incident_id)
        now = self.clock()
        incident = dataclasses.replace(incident, status=IncidentStatus.ESCALATED, escalated_at=incident.escalated_at or now)
        incident = steps.add_timeline(incident, now, "escalated", reason or "escalated to on-call")
        self.correlator.save(incident)
        receipts = steps.notify(incident, "escalated", reason or "Escalating to on-call", notifiers=self.notifiers,
                                audit=self.audit, environment=self.config.environment)
        return {"incident_id": incident_id, "receipts": [r.to_dict() for r in receipts]}

    def resolve(self, incident_id: str, how: str) -> dict[str, Any]:
        incident = self.incident(incident_id)
        now = self.clock()
        incident = dataclasses.replace(incident, status=IncidentStatus.RESOLVED, resolved_at=now)
        incident = steps.add_timeline(incident, now, "resolved", how)
        self.correlator.save(incident)
        self.correlator.resolve(incident_id, how)
        receipts = steps.notify(incident, "resolved", how, notifiers=self.notifiers, audit=self.audit,
                                environment=self.config.environment)
        return {"incident_id": incident_id, "receipts": [r.to_dict() for r in receipts]}
