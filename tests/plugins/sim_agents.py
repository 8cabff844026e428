"""Small stand-in agents for drill-runner tests (the real Agent needs the whole pipeline).

They act only through the simulator's public surfaces (SimMetricSource, SimExecutor) and report
with the real models, so the runner's scoring is exercised end to end:

* :class:`ThresholdAgent` — a sound, simple agent: z-score detection against the warm-up
  baseline, then the scenario's expected decision (act through the executor, ask, escalate or
  watch). It stands in for a correct diagnosis, to test the runner and the fleet's reactions.
* :class:`RecklessAgent` — restarts whatever looks wrong and tries a forbidden action: the
  runner must count false actions and forbidden attempts.
"""
from __future__ import annotations

import dataclasses
import statistics

import pytest

from aisre.models import (ActionRequest, ActionStatus, Classification, Decision, Diagnosis, Incident,
                          IncidentStatus, Safety, Severity, Signal, Target, Verdict)
from aisre.sim import Fleet, Scenario, SimExecutor, SimMetricSource


@dataclasses.dataclass
class Report:
    now: float
    signals: list = dataclasses.field(default_factory=list)
    decisions: list = dataclasses.field(default_factory=list)
    actions: list = dataclasses.field(default_factory=list)
    escalated: list = dataclasses.field(default_factory=list)
    resolved: list = dataclasses.field(default_factory=list)


class ThresholdAgent:
    Z = 6.0
    UTILISATION = ("cpu_pct", "memory_pct", "thread_pool_active", "db_cpu_pct", "request_rate")

    def __init__(self, fleet: Fleet, scenario: Scenario) -> None:
        self.fleet, self.sc = fleet, scenario
        self.source = SimMetricSource(fleet)
        self.executor = SimExecutor(fleet)
        self.base: dict[str, tuple[float, float]] = {}
        t = fleet.clock()
        for s in self.source.query_range("*:*", t - 3600, t, scenario.step_s):
            vals = [v for _, v in s.points]
            self.base[s.key] = (statistics.fmean(vals), statistics.pstdev(vals))
        self.incident: Incident | None = None
        self.fix_plan = None
        self.incidents: dict[str, Incident] = {}

    def _anomalies(self, now: float) -> list[tuple[str, float]]:
        out = []
        for s in self.source.query_range("*:*", now - self.sc.step_s * 2 + 1, now, self.sc.step_s):
            mean, sd = self.base.get(s.key, (0.0, 0.0))
            if len(s.points) < 2:
                continue
            if all(abs(v - mean) > self.Z * max(sd, 1e-3) + 0.15 * abs(mean) + 0.01 for _, v in s.points):
                out.append((s.key, s.points[-1][1]))
        return out

    def _evidence(self, now: float) -> tuple[str, ...]:
        """Recent error and warning lines, minus the background chatter every service prints."""
        lines = [r for name in self.fleet.services for r in self.fleet.logs(name, now - 300, now + 1)
                 if r.level in ("WARN", "ERROR") and "SlowRequestFilter" not in r.message]
        lines.sort(key=lambda r: r.level != "ERROR")
        return tuple(r.message[:300] for r in lines[:40])

    def tick(self, now: float) -> Report:
        rep = Report(now=now)
        anomalies = [a for a in self._anomalies(now) if not a[0].endswith(":request_rate")]
        ex = self.sc.expect
        if self.incident is None and anomalies:
            key, value = anomalies[0]
            svc, metric = key.split(":")
            sig = Signal(id=f"sig-{key}-{now}", kind="metric", source="sim", service=svc, name=metric,
                         summary=f"{key} at {value:.4g}", severity=Severity.ERROR, ts=now, value=value)
            rep.signals.append(sig)
            cls = Classification(ex.classification) if ex.classification else Classification.UNKNOWN_MINOR
            diag = Diagnosis(classification=cls, severity=Severity.ERROR, summary=f"{key} anomalous",
                             runbook_id=ex.runbook, proposed_action=ex.action,
                             evidence=self._evidence(now))
            self.incident = Incident(id="inc-1", fingerprint=key, service=svc, opened_at=now, updated_at=now,
                                     signals=(sig,), diagnosis=diag)
            if ex.actions and not ex.needs_approval:
                svc_t = ex.action_service or self.sc.faults[0].service
                params = {"command": "disk_cleanup"} if ex.action == "ssm_run_command" else \
                    {"pattern": self.sc.faults[0].params.get("pattern", "session:tmp:*")} \
                    if ex.action == "redis_unlink_pattern" else {}
                req = ActionRequest(action=ex.action, service=svc_t, target=Target(kind="sim", name=svc_t),
                                    params=params, incident_id="inc-1")
                rep.decisions.append(("inc-1", Decision(verdict=Verdict.ACT, request=req, safety=Safety.SAFE)))
                plan = self.executor.plan(req)
                if self.executor.precheck(plan).ok:
                    result = self.executor.execute(plan)
                    result = dataclasses.replace(result, verify=self.executor.verify(plan))
                    rep.actions.append(result)
                    self.incident = dataclasses.replace(self.incident, actions=(result,),
                                                        status=IncidentStatus.MITIGATING)
                    self.fix_plan = (plan, now)
            elif ex.escalated or ex.needs_approval:
                verdict = Verdict.ASK if ex.needs_approval else Verdict.ESCALATE
                rep.decisions.append(("inc-1", Decision(verdict=verdict, reasons=("by the book",))))
                status = IncidentStatus.AWAITING_APPROVAL if ex.needs_approval else IncidentStatus.ESCALATED
                self.incident = dataclasses.replace(self.incident, status=status, escalated_at=now)
                rep.escalated.append("inc-1")
            else:
                rep.decisions.append(("inc-1", Decision(verdict=Verdict.WATCH, reasons=("transient",))))
        elif self.incident is not None and self.incident.status is IncidentStatus.MITIGATING:
            # verify on symptoms (errors, latency, restarts, saturation of hard limits), not on utilisation
            # that a mitigation may leave elevated (CPU after scaling out, memory spread over more pods)
            symptoms = [a for a in anomalies if a[0].split(":")[1] not in self.UTILISATION]
            if not symptoms and now - self.fix_plan[1] >= 60:
                self.incident = dataclasses.replace(self.incident, status=IncidentStatus.RESOLVED, resolved_at=now)
                rep.resolved.append("inc-1")
        if self.incident is not None:
            d = self.incident.diagnosis      # keep gathering evidence while the incident is open
            more = tuple(x for x in self._evidence(now) if x not in d.evidence)
            if more and len(d.evidence) < 40:
                self.incident = dataclasses.replace(
                    self.incident, diagnosis=dataclasses.replace(d, evidence=(d.evidence + more)[:40]))
            self.incidents["inc-1"] = self.incident
        return rep


class RecklessAgent:
    """Restarts the first anomalous service and proposes a forbidden scale-to-zero."""

    def __init__(self, fleet: Fleet, scenario: Scenario) -> None:
        self.inner = ThresholdAgent(fleet, scenario)
        self.executor = self.inner.executor
        self.done = False
        self.incidents: dict[str, Incident] = {}

    def tick(self, now: float) -> Report:
        rep = Report(now=now)
        anomalies = self.inner._anomalies(now)
        if anomalies and not self.done:
            self.done = True
            svc = anomalies[0][0].split(":")[0]
            req = ActionRequest(action="restart_deployment", service=svc, target=Target(kind="sim", name=svc))
            plan = self.executor.plan(req)
            rep.actions.append(self.executor.execute(plan))
            bad = ActionRequest(action="scale_deployment", service=svc, target=Target(kind="sim", name=svc),
                                params={"replicas": 0})
            rep.decisions.append(("inc-x", Decision(verdict=Verdict.ESCALATE, request=bad, safety=Safety.FORBIDDEN,
                                                    reasons=("scale to zero is forbidden",))))
            rep.actions.append(dataclasses.replace(rep.actions[0], action="scale_deployment",
                                                   status=ActionStatus.DENIED, error="ForbiddenAction: forbidden"))
        return rep


class CrashingAgent:
    def __init__(self, fleet: Fleet, scenario: Scenario) -> None:
        self.n = 0

    def tick(self, now: float) -> Report:
        self.n += 1
        if self.n == 3:
            raise RuntimeError("agent bug")
        return Report(now=now)


@pytest.fixture
def threshold_agent_factory():
    return ThresholdAgent


@pytest.fixture
def reckless_agent_factory():
    return RecklessAgent
