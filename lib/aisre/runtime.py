"""The StackStorm-facing facade: one method per workflow step, all state in the datastore.

Each st2 python action builds a :class:`Runtime` from the pack config and the action service's
datastore (``DatastoreStore``), calls one method and returns its JSON-safe dict. Collaborators are
built lazily, so a step only pays for what it uses (litellm and chromadb are slow to import).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Any, Callable, Mapping

from aisre import steps
from aisre.config import Config, load_config, secret_values, work_dir
from aisre.errors import NotFound, SreError, ValidationError
from aisre.models import (ActionRequest, ActionStatus, Change, Decision, Incident, IncidentStatus, Mode, Signal,
                          Verdict)
from aisre.state import StateStore


#: how long a dispatched signal id is remembered (duplicates within it start no second workflow)
SIGNAL_DEDUP_TTL_S = 24 * 3600.0
RECORDS_LOCK = "aisre.lock.incidents"
RECORDS_LOCK_TTL_S = 30.0
#: incidents another workflow run (or a human) owns: a new signal starts no run, and a run that started
#: before the incident got there decides nothing (remediate's reopen puts a failed fix back to OPEN)
BUSY = (IncidentStatus.MITIGATING, IncidentStatus.ESCALATED, IncidentStatus.AWAITING_APPROVAL,
        IncidentStatus.RESOLVED)


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
            from aisre.correlate import correlator_from_config
            return correlator_from_config(self.store, self.config, clock=self.clock)
        return self._get("correlator", make)

    @property
    def guardrails(self) -> Any:
        def make() -> Any:
            from aisre.policy import Guardrails
            return Guardrails(self.config.safety, self.store, clock=self.clock, environment=self.config.environment,
                              targets=dict(self.config.targets), audit=self.audit)
        return self._get("guardrails", make)

    @property
    def audit(self) -> Any:
        def make() -> Any:
            from aisre.policy.audit import AuditLog
            path = self.config.audit.get("path") or os.path.join(work_dir(), "audit.jsonl")
            return AuditLog(path, clock=self.clock, environment=self.config.environment,
                            secrets=secret_values(self.config))
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
    def dispatcher(self) -> Any:
        def make() -> Any:
            from aisre.notify import build_dispatcher
            return build_dispatcher(self.config, self.store)
        return self._get("dispatcher", make)

    @property
    def metric_sources(self) -> Mapping[str, Any]:
        def make() -> Any:
            from aisre.sources import build_metric_sources
            return build_metric_sources(self.config)
        return self._get("metric_sources", make)

    @property
    def capture(self) -> Any:
        def make() -> Any:
            from aisre.diagnostics import build_capture
            return build_capture(self.config, redact=make_redactor(self.config))
        return self._get("capture", make)

    # ------------------------------------------------------------------ helpers
    @contextlib.contextmanager
    def records_lock(self, timeout_s: float = 20.0) -> Any:
        """Serialise read-modify-write of incident records across nodes (``aisre.lock.incidents``).

        Two workflows touching one incident at once (a new signal correlated while triage saves its
        diagnosis) would otherwise lose one update. Held only around the datastore reads and writes,
        never around an LLM call or an action; atomic on Memory/FileStore (:func:`aisre.state.claim`),
        best effort on the st2 datastore. Times out with :class:`LeaseHeld`.
        """
        import uuid

        from aisre.errors import LeaseHeld
        from aisre.state import claim
        token = f"{self.owner}:{uuid.uuid4().hex}"
        deadline = time.monotonic() + timeout_s
        while not claim(self.store, RECORDS_LOCK, token, ttl_s=RECORDS_LOCK_TTL_S):
            if time.monotonic() > deadline:
                raise LeaseHeld(f"incident records stayed locked for {timeout_s:g}s",
                                holder=self.store.get(RECORDS_LOCK) or "?")
            time.sleep(0.005)
        try:
            yield
        finally:
            if self.store.get(RECORDS_LOCK) == token:
                self.store.delete(RECORDS_LOCK)

    def incident(self, incident_id: str) -> Incident:
        inc = self.correlator.get(incident_id)
        if inc is None:
            raise NotFound(f"no incident {incident_id!r} in the datastore", integration="aisre", target=incident_id)
        return inc

    @property
    def reader(self) -> Any:
        """:meth:`read_latest` with each metric's configured capacity (``%`` thresholds)."""
        return steps.LiveReader(self.read_latest, lambda svc, m: steps.config_capacity(self.config, svc, m))

    def read_latest(self, service: str, metric: str) -> float | None:
        """Latest value of a service metric straight from its source (used by prechecks and verification)."""
        svc = self.config.service(service)
        spec = next((m for m in svc.metrics if m.name == metric), None) if svc else None
        if spec is None or spec.source not in self.metric_sources:
            return None
        now = self.clock()
        window = max(600.0, float(self.config.detection.get("lookback_minutes", 60)) * 60)
        step = float(self.config.detection.get("step_s", 60))
        series = self.metric_sources[spec.source].query_range(spec.query, now - window, now, step)
        points = sorted(p for s in series for p in s.points)
        return points[-1][1] if points else None

    def _runbook_action(self, incident: Incident, action: str) -> Any:
        rb = self.retriever.get(incident.diagnosis.runbook_id) if incident.diagnosis and incident.diagnosis.runbook_id else None
        return rb.action(action) if rb else None

    # ------------------------------------------------------------------ edges: webhooks and status pages
    def normalise_webhook(self, kind: str, body: Any, headers: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Vendor webhook payload -> signals and changes (JSON-safe), normalised once at the edge."""
        from aisre.sources.webhooks import normalise_with_config
        res = normalise_with_config(kind, body, headers or {}, self.config, now=self.clock())
        return {"kind": kind, "signals": [s.to_dict() for s in res.signals],
                "changes": [c.to_dict() for c in res.changes], "confirm_url": res.confirm_url or "",
                "ignored": res.ignored or ""}

    def poll_status_pages(self) -> dict[str, Any]:
        """Poll each configured vendor status page; a page that cannot be read is reported, never fatal."""
        import requests

        from aisre.sources.webhooks import normalise
        signals: list[dict[str, Any]] = []
        errors: list[str] = []
        for page in self.config.sources.get("statuspages") or []:
            try:
                r = requests.get(page["url"], timeout=float(page.get("timeout_s", 10)),
                                 headers={"Accept": "application/json"})
                r.raise_for_status()
                res = normalise("statuspage", r.content, {}, now=self.clock(), service_map=page.get("services") or {})
            except (requests.RequestException, SreError) as exc:
                errors.append(f"{page['name']}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            signals.extend(s.to_dict() for s in res.signals if not s.resolved or s.service in
                           {i.service for i in self.correlator.open_incidents()})
        return {"signals": signals, "errors": errors,
                "text": f"{len(signals)} status signals" + (f"; {len(errors)} pages unreadable" if errors else "")}

    # ------------------------------------------------------------------ knowledge and reports
    def kb_ingest(self, directory: str = "", prune: bool = False) -> dict[str, Any]:
        from aisre.knowledge import kb_ingest
        report = kb_ingest(directory or None, self.config, prune=prune)
        out = report.to_dict()
        out["text"] = f"ingested {directory or 'the pack knowledge/'}: {report.summary()}"
        return out

    def kb_record_incident(self, incident_id: str, outcome: str = "") -> dict[str, Any]:
        """Store a closed incident as knowledge (symptoms, fix, outcome) so the next one finds it."""
        from aisre.knowledge import record_incident
        from aisre.knowledge.store import open_store
        incident = self.incident(incident_id)
        outcome = outcome or {"resolved": "resolved", "escalated": "escalated"}.get(incident.status.value, "mitigated")
        entry = record_incident(incident, outcome, open_store(self.config.knowledge), state=self.store,
                                retriever=self.retriever)
        return {"incident_id": incident_id, "outcome": outcome, "entry": entry.id,
                "text": f"recorded {incident_id} as {entry.id} ({outcome})"}

    def postmortem(self, incident_id: str) -> dict[str, Any]:
        """Draft the postmortem from the incident and the audit log; attach it to the ticket when there is one."""
        from aisre.models import Notification
        from aisre.notify.postmortem import draft_postmortem
        incident = self.incident(incident_id)
        records = [r for r in self.audit.records() if r.incident_id == incident_id]
        text = draft_postmortem(incident, records, environment=self.config.environment)
        path = os.path.join(work_dir("postmortems"), f"postmortem-{incident_id}.md")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        note = Notification(incident_id=incident_id, kind="update", title=f"Postmortem draft for {incident_id}",
                            text="Postmortem draft attached.", severity=incident.severity,
                            fingerprint=incident.fingerprint, attachments=(path,))
        result = self.dispatcher.dispatch(note, incident)
        return {"incident_id": incident_id, "markdown": text, "path": path,
                "receipts": [r.to_dict() for r in result.receipts], "text": text[:3000]}

    def weekly(self, days: int = 7) -> dict[str, Any]:
        from aisre.notify.weekly import weekly_report
        incidents = [self.correlator.get(k.rsplit(".", 1)[-1]) for k in self.store.keys("aisre.incident.")]
        rep = weekly_report([i for i in incidents if i is not None], list(self.audit.records()), now=self.clock(),
                            days=days)
        md = rep.to_markdown()
        return {"markdown": md, "text": md[:3000]}

    # ------------------------------------------------------------------ approvals
    def announce_approval(self, inquiry_id: str, route: str = "", *, api_url: str | None = None,
                          token: str | None = None) -> dict[str, Any]:
        """A core.ask is waiting: find its incident through st2's API, remember the link, ask the humans."""
        import requests

        from aisre.errors import IntegrationError, http_error
        api_url = (api_url or os.environ.get("ST2_ACTION_API_URL", "")).rstrip("/")
        token = token or os.environ.get("ST2_ACTION_AUTH_TOKEN", "")
        headers = {"X-Auth-Token": token}

        def get(path: str) -> dict[str, Any]:
            try:
                r = requests.get(f"{api_url}{path}", headers=headers, timeout=10)
            except requests.RequestException as exc:
                raise IntegrationError(f"st2 API unreachable: {type(exc).__name__}", integration="st2",
                                       operation="GET " + path) from None
            if r.status_code >= 400:
                raise http_error(r.status_code, f"st2 API error on {path}", integration="st2", operation="GET")
            return r.json()

        if not api_url:
            raise IntegrationError("no st2 API URL (ST2_ACTION_API_URL)", integration="st2")
        execution = get(f"/executions/{inquiry_id}")
        parent_id = execution.get("parent") or ""
        params = get(f"/executions/{parent_id}").get("parameters", {}) if parent_id else {}
        incident_id = params.get("incident_id", "")
        request = params.get("request") or {}
        if not incident_id:
            return {"inquiry_id": inquiry_id, "incident_id": "", "announced": False,
                    "detail": "not an aisre approval (no incident_id on the parent workflow)"}
        ttl = self.config.safety.approval_ttl_minutes * 60 * 2
        self.store.set(f"aisre.approval.{incident_id}", inquiry_id, ttl_s=ttl)
        with self.records_lock():
            incident = self.incident(incident_id)
            incident = dataclasses.replace(incident, status=IncidentStatus.AWAITING_APPROVAL)
            incident = steps.add_timeline(incident, self.clock(), "decided",
                                          f"approval requested for {request.get('action', '?')} (inquiry {inquiry_id})")
            self.correlator.save(incident)
        text = (f"Approval needed: {request.get('action', '?')} on {request.get('service', incident.service)} "
                f"({request.get('reason', '')}). Reply `aisre approve {incident_id}` or `aisre deny {incident_id}`, "
                f"or `st2 inquiry respond {inquiry_id} -r '{{\"approved\": true}}'`.")
        receipts = steps.notify(incident, "approval", text, dispatcher=self.dispatcher, audit=self.audit,
                                environment=self.config.environment, links={"inquiry": inquiry_id})
        return {"inquiry_id": inquiry_id, "incident_id": incident_id, "announced": True,
                "receipts": [r.to_dict() for r in receipts]}

    # ------------------------------------------------------------------ self-monitoring
    def health(self, probe_sources: bool = True) -> dict[str, Any]:
        from aisre import health
        try:
            retriever = self.retriever
        except Exception:  # a broken knowledge base is a health finding, not a crash of the health check
            retriever = None
        try:
            sources = self.metric_sources if probe_sources else None
        except Exception:
            sources = None
        report = health.check(self.config, self.store, now=self.clock(), mode=self.guardrails.mode().value,
                              metric_sources=sources, retriever=retriever, probe_sources=probe_sources)
        return {**report.to_dict(), "ok": report.ok, "text": report.table()}

    def check_health(self, max_age_s: float | None = None) -> dict[str, Any]:
        """Timer rule entry point: page (normal path + independent fallback route) when a sensor is stale or failing."""
        from aisre import health
        report = health.check(self.config, self.store, now=self.clock(), mode=self.guardrails.mode().value,
                              probe_sources=False, max_age_s=max_age_s)
        receipts = health.alert(report, dispatcher=self.dispatcher, fallback=health.fallback_notifiers(self.config),
                                store=self.store, audit=self.audit)
        return {"ok": report.ok, "problems": [c.to_dict() for c in report.problems],
                "receipts": [r.to_dict() for r in receipts], "text": report.table()}

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
        sig = redact_signal(Signal.from_dict(signal), self.config)
        if self.guardrails.mode() is Mode.OFF:
            return {"incident_id": "", "is_new": False, "skip": True, "status": "off"}
        # a signal id seen before (a sensor re-dispatching its outbox after a crash, or a second node
        # on the same stream) still refreshes its incident but never starts a second workflow run
        from aisre.state import claim
        first = claim(self.store, f"aisre.dedup.signal.{sig.id}", str(self.clock()), ttl_s=SIGNAL_DEDUP_TTL_S)
        with self.records_lock():
            incident, is_new = self.correlator.ingest(sig)
        busy = incident.status in BUSY
        return {"incident_id": incident.id, "is_new": is_new and first,
                "skip": (busy and not is_new) or not first, "duplicate": not first,
                "status": incident.status.value, "service": incident.service}

    def record_change(self, change: Mapping[str, Any]) -> dict[str, Any]:
        ch = Change.from_dict(change)
        self.correlator.add_change(ch)
        return {"change_id": ch.id, "service": ch.service}

    def triage(self, incident_id: str) -> dict[str, Any]:
        incident = self.incident(incident_id)
        diagnosis, retrieval, _ = steps.triage(incident, retriever=self.retriever, analyst=self.analyst)
        with self.records_lock():          # re-read: signals may have been added while the analyst worked
            incident = dataclasses.replace(self.incident(incident_id), diagnosis=diagnosis)
            incident = steps.add_timeline(incident, self.clock(), "diagnosed",
                                          f"{diagnosis.classification.value}: {diagnosis.summary}",
                                          runbook=diagnosis.runbook_id)
            self.correlator.save(incident)
        return {"incident_id": incident_id, "diagnosis": diagnosis.to_dict(), "retrieval": retrieval.to_dict()}

    def decide(self, incident_id: str) -> dict[str, Any]:
        incident = self.incident(incident_id)
        if incident.diagnosis is None:
            raise ValidationError(f"incident {incident_id} has no diagnosis yet; run triage first", what="incident")
        if incident.status in BUSY:
            # this run's signal was correlated while the incident was open; since then another run acted
            # (its fix awaits verification), asked, escalated or resolved. Deciding now would take the
            # next attempt on top of that fix: the second restart two nodes on one stream could make.
            reason = (f"incident is {incident.status.value}: another run acted, asked, escalated or resolved "
                      f"it after this run's signal; nothing to decide")
            self.audit.append("decision", incident_id, {"verdict": Verdict.WATCH.value, "reasons": [reason],
                                                        "status": incident.status.value})
            return {"incident_id": incident_id, "verdict": Verdict.WATCH.value, "reasons": [reason], "request": None,
                    "service": incident.service, "safety": None, **self._approval()}
        rb = self.retriever.get(incident.diagnosis.runbook_id) if incident.diagnosis.runbook_id else None
        request, waiting = steps.plan_request(incident, incident.diagnosis, rb, self.config, read=self.reader)
        decision: Decision = steps.decide(incident, incident.diagnosis, rb, request, guardrails=self.guardrails,
                                          audit=self.audit, waiting=waiting)
        with self.records_lock():
            fresh = self.incident(incident_id)
            fresh = steps.add_timeline(fresh, self.clock(), "decided",
                                       f"{decision.verdict.value}: {'; '.join(decision.reasons)}")
            self.correlator.save(fresh)
        # "attempt" rides along with the request (ActionRequest.from_dict ignores it): remediate claims
        # (incident, attempt) so two nodes that decided on the same evidence cannot both act
        return {"incident_id": incident_id, "verdict": decision.verdict.value, "reasons": list(decision.reasons),
                "request": {**request.to_dict(), "attempt": incident.attempts} if request else None,
                "service": incident.service,
                "safety": decision.safety.value if decision.safety else None, **self._approval()}

    def _approval(self) -> dict[str, Any]:
        slack = self.config.notify.get("slack", {})
        return {"approval_ttl_minutes": self.config.safety.approval_ttl_minutes,
                "approval_route": slack.get("approval_channel") or slack.get("channel", "aisre")}

    def remediate(self, request: Mapping[str, Any], *, dry_run: bool = False, approved_by: str = "") -> dict[str, Any]:
        req = ActionRequest.from_dict(request)
        incident = self.incident(req.incident_id) if req.incident_id else None
        mode = self.guardrails.mode()
        # off/shadow: nothing acts. advisory: the agent never acts on its own, a human's explicit order may.
        if mode in (Mode.OFF, Mode.SHADOW) or (mode is Mode.ADVISORY and req.requested_by == "aisre"):
            return {"action": req.action, "service": req.service, "status": "skipped", "ok": False,
                    "detail": f"mode is {mode.value}: no action taken"}
        claim_key = ""
        if incident is not None and req.requested_by == "aisre" and isinstance(request.get("attempt"), int):
            from aisre.state import claim
            claim_key = f"aisre.dedup.act.{incident.id}.{request['attempt']}"
            if not claim(self.store, claim_key, self.owner, ttl_s=SIGNAL_DEDUP_TTL_S):
                return {"action": req.action, "service": req.service, "status": "skipped", "ok": False,
                        "detail": f"attempt {request['attempt']} of {incident.id} was already taken by "
                                  f"{self.store.get(claim_key) or 'another node'}"}
        rb_action = self._runbook_action(incident, req.action) if incident else None
        if incident is not None:
            steps.notify(incident, "acting", f"Taking action: {req.action} on {req.service}"
                         + (f" (approved by {approved_by})" if approved_by else ""), dispatcher=self.dispatcher,
                         audit=self.audit, environment=self.config.environment)
        result = steps.remediate(req, executors=self.executors, guardrails=self.guardrails, audit=self.audit,
                                 owner=self.owner, clock=self.clock, dry_run=dry_run, rb_action=rb_action,
                                 read=steps.IncidentReader(self.reader, incident) if incident is not None else self.reader,
                                 capture=self.capture)
        if claim_key and result.status not in (ActionStatus.SUCCEEDED, ActionStatus.FAILED):
            self.store.delete(claim_key)        # nothing ran: this attempt may be tried again
        if incident is not None:
            with self.records_lock():
                incident = self.incident(req.incident_id)     # fresh: another step may have saved it meanwhile
                counted = result.status in (ActionStatus.SUCCEEDED, ActionStatus.FAILED)
                incident = dataclasses.replace(incident, actions=incident.actions + (result,),
                                               attempts=incident.attempts + (1 if counted else 0),
                                               status=IncidentStatus.MITIGATING if result.ok else incident.status)
                incident = steps.add_timeline(incident, self.clock(), "acted", f"{req.action}: {result.status.value}")
                self.correlator.save(incident)
        return {**result.to_dict(), "ok": result.ok}

    def verify(self, incident_id: str, action: str) -> dict[str, Any]:
        incident = self.incident(incident_id)
        service = next((a.service for a in reversed(incident.actions) if a.action == action), incident.service)
        check = steps.verify_symptom(self._runbook_action(incident, action), service,
                                     steps.IncidentReader(self.reader, incident))
        self.audit.append("verify", incident_id, {"ok": check.ok, "detail": check.detail})
        return check.to_dict()

    def reopen(self, incident_id: str) -> dict[str, Any]:
        with self.records_lock():
            incident = dataclasses.replace(self.incident(incident_id), status=IncidentStatus.OPEN)
            self.correlator.save(incident)
        return {"incident_id": incident_id, "status": incident.status.value}

    def escalate(self, incident_id: str, reason: str = "") -> dict[str, Any]:
        with self.records_lock():
            incident = self.incident(incident_id)
            now = self.clock()
            incident = dataclasses.replace(incident, status=IncidentStatus.ESCALATED,
                                           escalated_at=incident.escalated_at or now)
            incident = steps.add_timeline(incident, now, "escalated", reason or "escalated to on-call")
            self.correlator.save(incident)
        receipts = steps.notify(incident, "escalated", reason or "Escalating to on-call", dispatcher=self.dispatcher,
                                audit=self.audit, environment=self.config.environment)
        return {"incident_id": incident_id, "receipts": [r.to_dict() for r in receipts]}

    def resolve(self, incident_id: str, how: str) -> dict[str, Any]:
        with self.records_lock():
            incident = self.incident(incident_id)
            now = self.clock()
            incident = dataclasses.replace(incident, status=IncidentStatus.RESOLVED, resolved_at=now)
            incident = steps.add_timeline(incident, now, "resolved", how)
            self.correlator.save(incident)
            self.correlator.resolve(incident_id, how)
        receipts = steps.notify(incident, "resolved", how, dispatcher=self.dispatcher, audit=self.audit,
                                environment=self.config.environment)
        return {"incident_id": incident_id, "receipts": [r.to_dict() for r in receipts]}


class ChatOps:
    """What the ChatOps aliases call: read-only questions and guarded orders, formatted for chat."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # ------------------------------------------------------------------ questions
    def status(self, service: str) -> dict[str, Any]:
        rt = self.rt
        svc = rt.config.service(service)
        if svc is None:
            known = ", ".join(s.name for s in rt.config.services) or "none configured"
            raise NotFound(f"unknown service {service!r} (known: {known})", integration="aisre", target=service)
        values = {}
        for m in svc.metrics:
            try:
                values[m.name] = rt.read_latest(service, m.name)
            except Exception as exc:  # a source error is part of the answer, not a failure of the command
                values[m.name] = f"unavailable ({type(exc).__name__})"
        open_incidents = [i for i in rt.correlator.open_incidents() if service in (i.service, *i.services)]
        lines = [f"*{service}* — mode {rt.guardrails.mode().value}, environment {rt.config.environment}"]
        for k, v in values.items():
            lines.append(f"• {k}: {v:.4g}" if isinstance(v, float) else f"• {k}: {v}")
        lines.append(f"open incidents: {len(open_incidents)}" + "".join(
            f"\n• {i.id} {i.status.value}: {i.diagnosis.summary if i.diagnosis else i.signals[-1].summary}"
            for i in open_incidents[:5]))
        return {"service": service, "metrics": values, "open_incidents": [i.id for i in open_incidents],
                "mode": rt.guardrails.mode().value, "text": "\n".join(lines)}

    def incidents(self) -> dict[str, Any]:
        items = sorted(self.rt.correlator.open_incidents(), key=lambda i: i.opened_at, reverse=True)
        rows = [{"id": i.id, "service": i.service, "status": i.status.value, "severity": i.severity.value,
                 "summary": i.diagnosis.summary if i.diagnosis else (i.signals[-1].summary if i.signals else "")}
                for i in items]
        text = "\n".join(f"• {r['id']} [{r['severity']}] {r['service']} {r['status']}: {r['summary']}" for r in rows)
        return {"incidents": rows, "text": text or "No open incidents."}

    def incident(self, incident_id: str) -> dict[str, Any]:
        from aisre.notify.report import render_report
        inc = self.rt.incident(incident_id)
        return {"incident": inc.to_dict(), "text": render_report(inc, "markdown", environment=self.rt.config.environment)}

    def explain(self, incident_id: str) -> dict[str, Any]:
        inc = self.rt.incident(incident_id)
        d = inc.diagnosis
        if d is None:
            return {"incident_id": incident_id, "text": f"{incident_id} has not been diagnosed yet."}
        lines = [f"*{incident_id}* — {d.classification.value}, severity {d.severity.value}, confidence {d.confidence:.0%} "
                 f"({d.analyst})", d.summary]
        if d.suspected_cause:
            lines.append(f"Likely cause: {d.suspected_cause}")
        lines += [f"• {e}" for e in d.evidence[:8]]
        if d.runbook_id:
            lines.append(f"Runbook: {d.runbook_id}" + (f", proposed action: {d.proposed_action}" if d.proposed_action else ""))
        if d.next_steps:
            lines.append("Next steps:\n" + "\n".join(f"{n}. {s}" for n, s in enumerate(d.next_steps, 1)))
        return {"incident_id": incident_id, "diagnosis": d.to_dict(), "text": "\n".join(lines)}

    def metrics(self, service: str, window: str = "1h", chart_dir: str | None = None) -> dict[str, Any]:
        rt = self.rt
        seconds = parse_window(window)
        svc = rt.config.service(service)
        if svc is None:
            raise NotFound(f"unknown service {service!r}", integration="aisre", target=service)
        now = rt.clock()
        out: dict[str, Any] = {"service": service, "window": window, "series": {}, "charts": []}
        lines = [f"*{service}* over the last {window}:"]
        for m in svc.metrics:
            src = rt.metric_sources.get(m.source)
            if src is None:
                continue
            points = sorted(p for s in src.query_range(m.query, now - seconds, now, max(15, seconds / 240)) for p in s.points)
            out["series"][m.name] = points
            if points:
                vals = [v for _, v in points]
                lines.append(f"• {m.name}: now {vals[-1]:.4g}, min {min(vals):.4g}, max {max(vals):.4g}")
                try:
                    from aisre.notify.charts import render_chart
                    path = os.path.join(chart_dir or work_dir("charts"), f"aisre-{service}-{m.name}-{int(now)}.png")
                    out["charts"].append(render_chart(points, title=f"{service} {m.name} ({window})", path=path))
                except ImportError:
                    pass
        out["text"] = "\n".join(lines)
        return out

    def kb_search(self, query: str, k: int = 5) -> dict[str, Any]:
        res = self.rt.retriever.search(query, k=k)
        lines = [f"{'*' if res.best and res.best.runbook_id == m.runbook_id else '•'} {m.runbook_id} "
                 f"({m.confidence:.0%}): {m.title} — {', '.join(m.reasons[:2])}" for m in res.matches]
        lines.append("Best match: " + (res.best.runbook_id if res.best else "none (unknown: a human should look)"))
        return {**res.to_dict(), "text": "\n".join(lines)}

    # ------------------------------------------------------------------ orders (all through the guardrails)
    def order(self, action: str, service: str, *, params: Mapping[str, Any] | None = None, user: str = "chatops",
              target_kind: str | None = None, target_name: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        from aisre.models import Target
        target = steps.target_for(self.rt.config, service)
        if target_kind or target_name:
            target = Target(kind=target_kind or target.kind, name=target_name or target.name,
                            namespace=target.namespace, extra=dict(target.extra))
        req = ActionRequest(action=action, service=service, target=target, params=dict(params or {}),
                            requested_by=f"chat:{user}", reason=f"ordered from chat by {user}")
        result = self.rt.remediate(req.to_dict(), dry_run=dry_run)
        verb = "would run" if dry_run else "ran"
        result["text"] = (f"{verb} {action} on {service}: {result.get('status')} {result.get('detail') or ''}"
                          f"{(' — ' + result['error']) if result.get('error') else ''}").strip()
        return result

    def pause(self, user: str = "chatops") -> dict[str, Any]:
        current = self.rt.guardrails.mode()
        if current not in (Mode.OFF, Mode.SHADOW):
            self.rt.store.set("aisre.mode.before_pause", current.value)
        res = self.rt.set_mode(Mode.SHADOW.value, actor=user)
        return {**res, "text": f"Paused: mode {res['previous']} → shadow. Watching and recording; no actions."}

    def resume(self, user: str = "chatops") -> dict[str, Any]:
        previous = self.rt.store.get("aisre.mode.before_pause") or self.rt.config.safety.mode
        res = self.rt.set_mode(previous, actor=user)
        return {**res, "text": f"Resumed: mode {res['previous']} → {res['mode']}."}

    def respond_approval(self, ref: str, approved: bool, user: str = "chatops", comment: str = "",
                         api_url: str | None = None, token: str | None = None) -> dict[str, Any]:
        """Answer a pending core.ask through st2's API (the ref is the inquiry id or the incident id)."""
        import requests

        from aisre.errors import IntegrationError, http_error
        inquiry_id = self.rt.store.get(f"aisre.approval.{ref}") or ref
        api_url = (api_url or os.environ.get("ST2_ACTION_API_URL", "")).rstrip("/")
        token = token or os.environ.get("ST2_ACTION_AUTH_TOKEN", "")
        if not api_url:
            raise IntegrationError("no st2 API URL (ST2_ACTION_API_URL) to answer the approval", integration="st2")
        body = {"id": inquiry_id, "response": {"approved": bool(approved), "comment": f"{user}: {comment}".strip()}}
        try:
            r = requests.put(f"{api_url}/inquiries/{inquiry_id}", json=body, headers={"X-Auth-Token": token}, timeout=10)
        except requests.RequestException as exc:
            raise IntegrationError(f"st2 API unreachable: {type(exc).__name__}", integration="st2",
                                   operation="inquiry respond") from None
        if r.status_code >= 400:
            raise http_error(r.status_code, f"st2 refused the approval: {r.text[:200]}", integration="st2",
                             operation="inquiry respond", target=inquiry_id)
        self.rt.audit.append("approval", ref, {"inquiry": inquiry_id, "approved": bool(approved), "comment": comment},
                             actor=f"chat:{user}")
        verdict = "approved" if approved else "denied"
        return {"inquiry_id": inquiry_id, "approved": bool(approved), "text": f"{verdict} {inquiry_id} ({user})"}


def parse_window(window: str) -> float:
    """'90s', '15m', '1h', '2d' -> seconds; bounded to 30 days."""
    import re
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", window or "")
    if not m:
        raise ValidationError(f"bad window {window!r}: use e.g. 15m, 1h, 6h, 2d", what="window")
    seconds = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if not 0 < seconds <= 30 * 86400:
        raise ValidationError(f"window {window!r} out of range (1s .. 30d)", what="window")
    return seconds


def redact_signal(signal: Signal, config: Config) -> Signal:
    """``signal`` with its free text (summary, samples, labels, evidence) redacted of the configured secrets
    and secret-looking patterns, before it is stored in an incident (which reports, pages and the audit
    log quote). Sensors and webhooks redact already; this is the pipeline's own edge."""
    red = _redactor_for(config)
    return dataclasses.replace(signal, summary=red.redact(signal.summary),
                               samples=tuple(red.redact(x) for x in signal.samples),
                               labels={k: red.redact(str(v)) for k, v in signal.labels.items()},
                               evidence=red.redact_data(dict(signal.evidence)))


_REDACTORS: dict[int, Any] = {}


def _redactor_for(config: Config) -> Any:
    from aisre.analysis.redact import Redactor
    red = _REDACTORS.get(id(config))
    if red is None or red[0] is not config:
        red = (config, Redactor(secrets=secret_values(config)))
        _REDACTORS.clear() if len(_REDACTORS) > 64 else None
        _REDACTORS[id(config)] = red
    return red[1]


def make_redactor(config: Config) -> Callable[[str], str] | None:
    """The analysis redactor over the configured secrets (None if unavailable)."""
    try:
        from aisre.analysis.redact import Redactor
        from aisre.config import secret_values
    except ImportError:
        return None
    return Redactor(secrets=secret_values(config)).redact
