"""The offline analyst: a deterministic diagnosis from retrieval results and rules.

It is the embedded default (no model, no network) and the fallback of the LLM analyst, so it
has to be good on its own. Classification, first rule that applies:

1. **transient** - every signal already recovered; or the best match is a transient-glitch
   runbook; or every active signal is a short spike (``AnomalyClass.TRANSIENT``) that is not
   critical, carries no fatal signature and is not far out on a user-facing metric;
2. **known** - the best retrieved runbook is in the catalogue with confidence >= ``min_confidence``;
   the proposed action is the runbook's first action whose preconditions hold on the evidence
   (None when ``auto_remediate`` is off or no action applies);
3. **unknown_critical** - no match and: a critical signal, a user-facing error rate / latency
   way out of range, a failing synthetic check, or ``several_services`` services involved;
4. **unknown_minor** - anything else.

Evidence lines come from signal numbers and names (never their free text), fatal signatures,
and changes near the onset (a deploy within ``deploy_window_s`` before onset together with an
error-rate or latency signal is called out as bad-deploy evidence).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from aisre.analysis import evidence as ev
from aisre.models import (AnomalyClass, Classification, Diagnosis, Incident, Retrieval, Runbook,
                          RunbookAction, RunbookMatch, Safety, Severity)

if TYPE_CHECKING:
    from aisre.analysis.context import IncidentContext

GENERIC_STEPS = (
    "Check the service dashboard around the onset time for the affected metrics.",
    "Read the top new or surging log templates for the affected services.",
    "Check recent deploys, config changes and feature-flag flips for the services involved.",
    "Check the health of shared dependencies (databases, caches, queues, upstream APIs).",
)
_SEV_ORDER = [Severity.INFO, Severity.WARNING, Severity.ERROR, Severity.CRITICAL]


def _cap(sev: Severity, top: Severity) -> Severity:
    return sev if sev.rank <= top.rank else top


def is_escalation_runbook(rb: Runbook) -> bool:
    """A catch-all runbook that means "unknown, page a human" (tagged ``escalate``)."""
    return "escalate" in rb.tags


def is_transient_runbook(rb: Runbook | None, match: RunbookMatch | None = None) -> bool:
    ident = " ".join([match.runbook_id if match else "", rb.id if rb else "", *(rb.tags if rb else ())]).lower()
    return "transient" in ident or "glitch" in ident


def _log_evidence(incident: Incident) -> bool:
    """The incident carries log lines (samples of log signals) the retriever could have matched on."""
    return any(s.kind == "log" and s.samples for s in ev.active_signals(incident))


class OfflineAnalyst:
    """Deterministic analyst; ``analyst="offline"`` on every diagnosis it makes."""

    name = "offline"

    def __init__(self, *, min_confidence: float = 0.5, deploy_window_s: float = 1800.0,
                 several_services: int = 3, way_out_ratio: float = 3.0, max_evidence: int = 12,
                 fit_discount: float = 0.5, text_confidence: float = 0.8, top_floor: float = 0.1) -> None:
        self.min_confidence = min_confidence
        self.deploy_window_s = deploy_window_s
        self.several_services = several_services
        self.way_out_ratio = way_out_ratio
        self.max_evidence = max_evidence
        self.fit_discount = fit_discount
        self.text_confidence = text_confidence
        self.top_floor = top_floor

    # ------------------------------------------------------------------ public

    def diagnose(self, incident: Incident, retrieval: Retrieval, runbooks: Mapping[str, Runbook], *,
                 context: "IncidentContext | None" = None) -> Diagnosis:
        """Classify ``incident`` and propose at most one action from the matched runbook."""
        signals = incident.signals
        active = ev.active_signals(incident)
        base_sev = max((s.severity for s in (active or signals)), key=lambda s: s.rank, default=Severity.WARNING)
        services = tuple(dict.fromkeys((incident.service, *incident.services, *(s.service for s in signals))))
        extra_changes = context.changes if context is not None else ()
        deploys = ev.deploys_near_onset(incident, extra_changes, self.deploy_window_s)
        user_facing_bad = [s for s in active if ev.is_user_facing(s)]
        bad_deploy = bool(deploys) and bool(user_facing_bad)

        lines = self._evidence(incident, retrieval, deploys, bad_deploy)
        best, rb, support, why = self._pick(incident, retrieval, runbooks, lines)
        matched = rb is not None and best is not None

        # 1. transient
        if signals and not active:
            return self._transient(incident, "every signal already recovered", base_sev, 0.9, lines)
        if matched and is_transient_runbook(rb, best):
            return self._transient(incident, f"matched transient runbook {rb.id}", base_sev,
                                   best.confidence, lines, next_steps=tuple(rb.diagnosis))
        spiky = active and all(s.anomaly_class == AnomalyClass.TRANSIENT for s in active)
        if (spiky and base_sev != Severity.CRITICAL and not any(s.signature for s in active)
                and not any(ev.way_out(s, self.way_out_ratio) for s in active)):
            return self._transient(incident, "short spike that is not sustained", base_sev, 0.7, lines)

        if matched:
            lines.extend(why)
        reasons = self._critical_reasons(active, base_sev, services)
        # 2. a catch-all escalation runbook, or a metrics-only fit while the incident looks critical:
        #    unknown_critical, the runbook kept for its diagnosis steps, no action
        if matched and (is_escalation_runbook(rb) or (support == "metric" and reasons)):
            why_not = "no known cause" if is_escalation_runbook(rb) else (
                f"fits {rb.id} on metrics only while " + "; ".join(reasons))
            escalation_rb = is_escalation_runbook(rb)
            return Diagnosis(
                classification=Classification.UNKNOWN_CRITICAL, severity=Severity.CRITICAL,
                summary=(f"{rb.title} on {incident.service}: no known cause, escalating" if escalation_rb else
                         f"Unknown critical problem on {incident.service}: {why_not}"),
                suspected_cause=self._deploy_cause(deploys) if bad_deploy else (
                    f"unknown ({rb.id})" if escalation_rb else f"unknown; closest runbook {rb.id} ({rb.title})"),
                evidence=tuple(lines), runbook_id=rb.id if escalation_rb else None,
                confidence=round(best.confidence, 3),
                next_steps=("Escalate to the on-call engineer now.", *(rb.diagnosis or GENERIC_STEPS)),
                analyst=self.name, impact=self._impact(services, user_facing_bad))
        # 3. known
        if matched:
            return self._known(incident, rb, best, base_sev, lines, extra_changes, bad_deploy, deploys,
                               allow_unchecked=support == "strong")

        # 4./5. unknown
        cause = self._deploy_cause(deploys) if bad_deploy else ""
        top = retrieval.best or (retrieval.matches[0] if retrieval.matches else None)
        near = (f" (closest runbook {top.runbook_id} at confidence {top.confidence:.2f} did not fit)"
                if top is not None else "")
        steps = (*(("Consider rolling back the deploy that preceded the onset.",) if bad_deploy else ()), *GENERIC_STEPS)
        if reasons:
            return Diagnosis(
                classification=Classification.UNKNOWN_CRITICAL, severity=Severity.CRITICAL,
                summary=f"Unknown critical problem on {incident.service}: " + "; ".join(reasons),
                suspected_cause=cause or f"unknown: no runbook matches{near}",
                evidence=tuple(lines), confidence=0.6 + 0.1 * min(len(reasons), 3),
                next_steps=("Escalate to the on-call engineer now.", *steps), analyst=self.name,
                impact=self._impact(services, user_facing_bad))
        return Diagnosis(
            classification=Classification.UNKNOWN_MINOR, severity=_cap(base_sev, Severity.ERROR),
            summary=f"Unrecognised minor anomaly on {incident.service}",
            suspected_cause=cause or f"unknown: no runbook matches{near}", evidence=tuple(lines),
            confidence=0.5, next_steps=steps, analyst=self.name, impact=self._impact(services, user_facing_bad))

    # ------------------------------------------------------------------ parts

    def _critical_reasons(self, active, base_sev: Severity, services) -> list[str]:
        reasons = []
        if base_sev == Severity.CRITICAL:
            reasons.append("a critical signal")
        far = [s for s in active if ev.way_out(s, self.way_out_ratio)]
        if far:
            reasons.append("user-facing " + ", ".join(sorted({ev.metric_name(s) for s in far})) + " far out of range")
        if len(services) >= self.several_services:
            reasons.append(f"{len(services)} services involved ({', '.join(services)})")
        return reasons

    def _pick(self, incident: Incident, retrieval: Retrieval, runbooks: Mapping[str, Runbook],
              lines: list[str]) -> tuple[RunbookMatch | None, Runbook | None, str, tuple[str, ...]]:
        """The retrieved runbook above the bar that the signals fit best.

        Strong fits (alert, log signature, status page, or the change a change-triggered runbook is
        about) win over fits on a resource metric, which win over fits on shared error/latency
        metrics; retrieval order breaks ties. A match on words alone is not
        trusted: it is noted in the evidence and skipped.
        """
        candidates = []
        seen: set[str] = set()
        floor = self.min_confidence * self.fit_discount
        top = retrieval.matches[0].runbook_id if retrieval.matches else None
        for m in (*retrieval.matches, *((retrieval.best,) if retrieval.best else ())):
            if m.runbook_id in seen or m.runbook_id not in runbooks:
                continue
            seen.add(m.runbook_id)
            rb = runbooks[m.runbook_id]
            level, why = ev.symptom_support(rb, incident, deploy_window_s=self.deploy_window_s,
                                            respect_conditions=is_escalation_runbook(rb))
            if level == "none" and is_transient_runbook(rb, m) and not ev.active_signals(incident):
                level = "metric"
            if m.confidence < self.min_confidence:
                level, why = ev.symptom_support(rb, incident, deploy_window_s=self.deploy_window_s,
                                                respect_conditions=is_escalation_runbook(rb), strict_class=True)
                # Below the text bar only independent evidence carries a retrieved runbook: a strong
                # fit (alert, log signature, the change it is about) at any confidence; a resource
                # metric fit down to fit_discount x bar, or down to top_floor when ranked first.
                # Words and shared error/latency metrics never do.
                ok = level == "strong" or (level == "specific" and (
                    m.confidence >= floor or (m.runbook_id == top and m.confidence >= self.top_floor)))
                if ok:
                    candidates.append((m, rb, level, (*why, f"retrieval confidence {m.confidence:.2f} is below "
                                                            f"{self.min_confidence:.2f}; accepted on the symptom fit")))
                continue
            if level == "none" and m.confidence >= self.text_confidence and _log_evidence(incident):
                level, why = "metric", (f"retrieved at confidence {m.confidence:.2f} on the log lines themselves "
                                        "(no declared symptom in common)",)
            if level == "none":
                lines.append(f"runbook {m.runbook_id} (confidence {m.confidence:.2f}) retrieved on words only: "
                             "no alert, signature, change or metric symptom in common with the signals, not trusted")
                continue
            candidates.append((m, rb, level, why))
        for want in ("strong", "specific", "metric"):  # retrieval order within each level
            for m, rb, level, why in candidates:
                if level == want:
                    return m, rb, level, why
        return None, None, "none", ()

    def _known(self, incident: Incident, rb: Runbook, best: RunbookMatch, base_sev: Severity, lines: list[str],
               extra_changes, bad_deploy: bool, deploys, allow_unchecked: bool = True) -> Diagnosis:
        action, notes = self._first_applicable(rb, incident, extra_changes, allow_unchecked)
        lines = [*lines, *notes][: self.max_evidence + len(notes)]
        if not rb.auto_remediate:
            action = None
            lines.append(f"runbook {rb.id} is marked auto_remediate=false: a human decides")
        cause = rb.title + (f": {rb.description.split('. ')[0].strip()}" if rb.description else "")
        if bad_deploy:
            cause += f"; {self._deploy_cause(deploys)}"
        sev = base_sev
        if rb.escalation and not action and rb.escalation.severity.rank > sev.rank:
            sev = rb.escalation.severity
        return Diagnosis(
            classification=Classification.KNOWN, severity=sev,
            summary=f"{rb.title} on {incident.service}" + (f" (proposed: {action.action})" if action else ""),
            suspected_cause=cause, evidence=tuple(lines), runbook_id=rb.id,
            proposed_action=action.action if action else None,
            action_params=dict(action.params) if action else {}, confidence=round(best.confidence, 3),
            next_steps=tuple(rb.diagnosis) or GENERIC_STEPS, analyst=self.name,
            impact=self._impact(tuple(dict.fromkeys((incident.service, *incident.services))),
                                [s for s in ev.active_signals(incident) if ev.is_user_facing(s)]))

    def _first_applicable(self, rb: Runbook, incident: Incident, extra_changes,
                          allow_unchecked: bool = True) -> tuple[RunbookAction | None, list[str]]:
        """First action whose preconditions hold, safe actions before caution ones (runbook order within a
        class: a safe restart of the leaking app before a caution terminate of database sessions).
        Unevaluable preconditions pass only when ``allow_unchecked`` (a strong symptom match); the
        remediation precheck re-verifies them on live values."""
        notes: list[str] = []
        rank = {Safety.SAFE: 0, Safety.CAUTION: 1, Safety.FORBIDDEN: 2}
        for act in sorted(rb.actions, key=lambda a: rank.get(a.safety or Safety.SAFE, 2)):
            verdicts = [(c, ev.evaluate_precondition(c, incident, extra_changes, self.deploy_window_s))
                        for c in act.preconditions]
            failed = [c for c, v in verdicts if v is False]
            if failed:
                notes.append(f"action {act.action} skipped: precondition {'; '.join(failed)} does not hold")
                continue
            unknown = [c for c, v in verdicts if v is None]
            if unknown and not allow_unchecked:
                notes.append(f"action {act.action} not proposed: precondition {'; '.join(unknown)} is not in the "
                             "evidence and the runbook fits on metrics only")
                continue
            if unknown:
                notes.append(f"action {act.action}: precondition {'; '.join(unknown)} not in the evidence "
                             "(the precheck re-verifies it)")
            return act, notes
        return None, notes

    def _transient(self, incident: Incident, why: str, base_sev: Severity, confidence: float, lines: list[str],
                   next_steps: tuple[str, ...] = ()) -> Diagnosis:
        return Diagnosis(
            classification=Classification.TRANSIENT, severity=_cap(base_sev, Severity.WARNING),
            summary=f"Transient anomaly on {incident.service}: {why}", suspected_cause=why,
            evidence=tuple(lines), confidence=round(confidence, 3),
            next_steps=next_steps or ("Keep watching; reopen if it recurs within the window.",),
            analyst=self.name)

    def _evidence(self, incident: Incident, retrieval: Retrieval, deploys, bad_deploy: bool) -> list[str]:
        ranked = sorted(incident.signals, key=lambda s: (s.resolved, -s.severity.rank, -(s.score or 0.0)))
        lines = [ev.signal_line(s) for s in ranked[: self.max_evidence]]
        if len(incident.signals) > self.max_evidence:
            lines.append(f"... and {len(incident.signals) - self.max_evidence} more signals")
        for c, minutes in deploys:
            tag = "bad-deploy evidence: " if bad_deploy else ""
            lines.append(f"{tag}{c.kind} of {c.service} {c.previous_version or '?'} -> {c.version or '?'} "
                         f"{minutes:.0f} min before onset" + (f" (commit {c.commit})" if c.commit else "")
                         + (f" diff {c.diff_url}" if c.diff_url else ""))
        if retrieval.best is not None:
            b = retrieval.best
            lines.append(f"best runbook match {b.runbook_id} confidence {b.confidence:.2f}"
                         + (f" ({'; '.join(b.reasons[:3])})" if b.reasons else ""))
        return lines

    @staticmethod
    def _deploy_cause(deploys) -> str:
        c, minutes = deploys[0]
        return f"bad deploy suspected: {c.service} {c.version or c.id} deployed {minutes:.0f} min before onset"

    @staticmethod
    def _impact(services, user_facing) -> str:
        txt = f"services: {', '.join(services)}"
        if user_facing:
            txt += "; user-facing: " + ", ".join(sorted({f'{s.service} {ev.metric_name(s)}' for s in user_facing}))
        return txt
