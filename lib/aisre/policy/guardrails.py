"""Guardrails: whether aisre may act, ask, escalate, watch or only record - pure logic plus a StateStore.

``decide`` applies the rules below in order and lists every reason in the returned
:class:`~aisre.models.Decision` (``docs/remediation.md`` has the same list):

1. mode ``off`` -> WATCH (do nothing). The mode is read from the store on every call, so switching to
   ``off``/``shadow`` between two steps takes effect at the next ``decide``.
2. a forbidden request (registry, :mod:`aisre.policy.actions`) -> ESCALATE, and the attempt is audited.
3. classification transient -> WATCH; unknown_critical / unknown_minor -> ESCALATE.
4. no runbook, or ``auto_remediate: false`` -> ESCALATE; no proposed action -> ESCALATE; an action that
   is not one of the matched runbook's actions -> ESCALATE (the LLM only chooses among them).
   A request for a service the incident does not touch -> ESCALATE.
5. attempts >= max_attempts (the smaller of ``safety.max_attempts`` and the runbook action's) -> ESCALATE.
6. global rate limit (``max_actions_per_window`` per ``rate_window_minutes``) reached -> ESCALATE.
7. the service's lease held by another owner -> WATCH.
8. by mode: ``limited`` ACTs only allow-listed safe actions, ASKs caution, ESCALATEs the rest;
   ``autonomous`` ACTs safe, ASKs caution - or ACTs it when ``emergency_caution_auto`` and the incident
   is critical and it is off peak hours (during peak hours caution always ASKs).
9. ``shadow`` turns every verdict into RECORD (what it would do; acts on nothing, pages nobody);
   ``advisory`` turns ACT/ASK into RECORD - or ESCALATE when severity >= error, so humans get the
   recommendation - and never ACTs.

The safety class is the stricter of the registry's (parameter-dependent) and the runbook's declared one.
"""
from __future__ import annotations

import datetime as _dt
import json
import threading
import time
import uuid
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from aisre.config import SafetyConfig
from aisre.errors import ForbiddenAction, PolicyDenied, StateError
from aisre.models import (ActionRequest, Classification, Decision, Diagnosis, Incident, Mode, Runbook,
                          Safety, Severity, Verdict)
from aisre.policy.actions import assess, stricter
from aisre.state import KEYS, StateStore, claim, get_json, key, set_json

#: One lock for every lease / rate-limit read-modify-write in this process (the StateStore protocol
#: has no compare-and-set; across st2 nodes the pack's concurrency policy serialises per service).
_LOCK = threading.RLock()
DEFAULT_PEAK = {"start": "08:00", "end": "20:00", "timezone": "UTC", "days": [0, 1, 2, 3, 4]}


def is_peak(ts: float, peak_hours: Mapping[str, Any] | None) -> bool:
    """True when ``ts`` falls in the configured peak window (defaults: 08:00-20:00 UTC, Monday-Friday)."""
    ph = {**DEFAULT_PEAK, **dict(peak_hours or {})}
    try:
        tz = ZoneInfo(str(ph["timezone"]))
        start_h, start_m = (int(x) for x in str(ph["start"]).split(":"))
        end_h, end_m = (int(x) for x in str(ph["end"]).split(":"))
    except (ValueError, KeyError, TypeError, LookupError):
        return True                                  # unreadable window: assume peak (the cautious answer)
    now = _dt.datetime.fromtimestamp(ts, tz=tz)
    if now.weekday() not in set(int(d) for d in ph.get("days") or ()):
        return False
    minute = now.hour * 60 + now.minute
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    return start <= minute < end if start <= end else (minute >= start or minute < end)


class Guardrails:
    """``Guardrails(safety_config, store).decide(incident, diagnosis, runbook, request) -> Decision``.

    ``targets`` (the config's ``targets`` section) feeds the registry's redis rules; ``audit`` (an
    :class:`~aisre.policy.audit.AuditLog`) receives forbidden attempts and mode changes.
    """

    def __init__(self, safety: SafetyConfig, store: StateStore, clock: Callable[[], float] = time.time,
                 environment: str = "", *, targets: Mapping[str, Any] | None = None, audit: Any = None) -> None:
        self.safety = safety
        self.store = store
        self.clock = clock
        self.environment = environment
        self.targets = dict(targets or {})
        self.audit = audit

    # ------------------------------------------------------------------ mode

    def mode(self) -> Mode:
        """The datastore key ``aisre.mode`` wins over config; anything unreadable means SHADOW (fail safe)."""
        try:
            raw = self.store.get(KEYS["mode"])
        except Exception:                      # noqa: BLE001 - any store failure must fail safe
            return Mode.SHADOW
        value = raw if raw is not None else self.safety.mode
        try:
            return Mode(str(value).strip().strip('"').lower())
        except ValueError:
            return Mode.SHADOW

    def set_mode(self, mode: Mode | str, actor: str) -> None:
        """Switch the mode for every node (``off``/``shadow`` is the emergency stop); audited."""
        try:
            new = Mode(str(mode).lower())
        except ValueError:
            raise PolicyDenied(f"unknown mode {mode!r}", reasons=[f"modes: {', '.join(m.value for m in Mode)}"]) from None
        old = self.mode()
        self.store.set(KEYS["mode"], new.value)
        self._audit("mode", "", {"from": old.value, "to": new.value}, actor=actor)

    # ------------------------------------------------------------------ leases and rate

    def acquire_lease(self, service: str, owner: str) -> bool:
        """Take the per-service remediation lease for ``owner`` (TTL ``lease_ttl_s``); re-entrant for the owner."""
        k = key("lease", service=service)
        with _LOCK:
            now = self.clock()
            value = {"owner": owner, "expires": now + self.safety.lease_ttl_s, "token": uuid.uuid4().hex}
            text = json.dumps(value, sort_keys=True)
            if claim(self.store, k, text, ttl_s=self.safety.lease_ttl_s):   # atomic on Memory/FileStore
                return True
            held = get_json(self.store, k)
            if isinstance(held, dict) and held.get("owner") != owner and float(held.get("expires", 0)) > now:
                return False
            if isinstance(held, dict) and held.get("owner") == owner:        # re-entrant: refresh our lease
                set_json(self.store, k, value, ttl_s=self.safety.lease_ttl_s)
            else:                                                             # expired or unreadable: take it over
                self.store.delete(k)
                if not claim(self.store, k, text, ttl_s=self.safety.lease_ttl_s):
                    return False
            back = get_json(self.store, k)
            return isinstance(back, dict) and back.get("owner") == owner

    def release_lease(self, service: str, owner: str) -> None:
        """Release the lease if ``owner`` holds it (someone else's lease is left alone)."""
        k = key("lease", service=service)
        with _LOCK:
            held = get_json(self.store, k)
            if isinstance(held, dict) and held.get("owner") == owner:
                self.store.delete(k)

    def lease_owner(self, service: str) -> str | None:
        held = get_json(self.store, key("lease", service=service))
        if isinstance(held, dict) and float(held.get("expires", 0)) > self.clock():
            return str(held.get("owner"))
        return None

    def _recent_actions(self) -> list[float]:
        window = self.safety.rate_window_minutes * 60
        now = self.clock()
        raw = get_json(self.store, KEYS["rate"], [])
        times = [float(t) for t in raw if isinstance(t, (int, float))] if isinstance(raw, list) else []
        return [t for t in times if now - t < window]

    def record_action(self, service: str) -> None:
        """Count one executed action toward the global rate limit."""
        with _LOCK:
            times = self._recent_actions() + [self.clock()]
            set_json(self.store, KEYS["rate"], times, ttl_s=self.safety.rate_window_minutes * 60)

    def rate_exceeded(self) -> bool:
        with _LOCK:
            return len(self._recent_actions()) >= self.safety.max_actions_per_window

    # ------------------------------------------------------------------ checks

    def check(self, request: ActionRequest) -> Safety:
        """Last gate before an executor runs: raises ForbiddenAction or PolicyDenied, else the safety class.

        Denied: forbidden requests (always, in every mode), modes that never act (off, shadow,
        advisory), and a reached global rate limit.
        """
        result = assess(request, targets=self.targets, max_scale_factor=self.safety.max_scale_factor)
        if result.safety is Safety.FORBIDDEN:
            self._audit("forbidden", request.incident_id, {"request": request.to_dict(), "reasons": result.reasons})
            raise ForbiddenAction(f"forbidden action {request.action!r}", reasons=result.reasons,
                                  service=request.service or None)
        mode = self.mode()
        if mode in (Mode.OFF, Mode.SHADOW, Mode.ADVISORY):
            raise PolicyDenied(f"mode {mode.value} never acts", reasons=[f"mode {mode.value}"],
                               service=request.service or None)
        if self.rate_exceeded():
            raise PolicyDenied("global action rate limit reached",
                               reasons=[f"{self.safety.max_actions_per_window} actions per "
                                        f"{self.safety.rate_window_minutes:g} min"], service=request.service or None)
        return result.safety

    def _audit(self, kind: str, incident_id: str, data: Mapping[str, Any], actor: str = "aisre") -> None:
        if self.audit is not None:
            self.audit.append(kind, incident_id, data, actor=actor)

    # ------------------------------------------------------------------ decide

    def decide(self, incident: Incident, diagnosis: Diagnosis | None, runbook: Runbook | None,
               request: ActionRequest | None, *, owner: str = "") -> Decision:
        """Decide what to do about ``incident``; never raises for policy reasons (reasons are in the Decision).

        ``owner`` is the caller's lease token: a lease held by anybody else means WATCH.
        """
        mode = self.mode()
        if mode is Mode.OFF:
            return Decision(verdict=Verdict.WATCH, reasons=("mode off: do nothing",), request=request, mode=mode)
        try:
            verdict, reasons, safety = self._policy(incident, diagnosis, runbook, request, owner, mode)
        except StateError as exc:          # leases / rate limit unreadable: a human decides
            verdict, reasons, safety = Verdict.ESCALATE, (f"state store unavailable: {exc}",), None
        severity = diagnosis.severity if diagnosis is not None else incident.severity
        if mode is Mode.SHADOW:
            reasons = (f"shadow mode: record only (would {verdict.value})",) + reasons
            verdict = Verdict.RECORD
        elif mode is Mode.ADVISORY and verdict in (Verdict.ACT, Verdict.ASK):
            if severity.rank >= Severity.ERROR.rank:
                reasons = (f"advisory mode: escalate with the recommendation (would {verdict.value}, "
                           f"severity {severity.value})",) + reasons
                verdict = Verdict.ESCALATE
            else:
                reasons = (f"advisory mode: record the recommendation (would {verdict.value})",) + reasons
                verdict = Verdict.RECORD
        return Decision(verdict=verdict, reasons=reasons, request=request, safety=safety, mode=mode)

    def _policy(self, incident: Incident, diagnosis: Diagnosis | None, runbook: Runbook | None,
                request: ActionRequest | None, owner: str, mode: Mode) -> tuple[Verdict, tuple[str, ...], Safety | None]:
        safety: Safety | None = None
        if request is not None:
            result = assess(request, targets=self.targets, max_scale_factor=self.safety.max_scale_factor)
            safety = result.safety
            if safety is Safety.FORBIDDEN:
                try:
                    self._audit("forbidden", incident.id, {"request": request.to_dict(), "reasons": result.reasons,
                                                           "requested_by": request.requested_by})
                except StateError as exc:
                    return Verdict.ESCALATE, ("forbidden action", *result.reasons, f"audit failed: {exc}"), safety
                return Verdict.ESCALATE, ("forbidden action: never executed", *result.reasons), safety
        if diagnosis is None:
            return Verdict.ESCALATE, ("no diagnosis",), safety
        cls = diagnosis.classification
        if cls is Classification.TRANSIENT:
            return Verdict.WATCH, ("classified transient: keep watching",), safety
        if cls in (Classification.UNKNOWN_CRITICAL, Classification.UNKNOWN_MINOR):
            return Verdict.ESCALATE, (f"classified {cls.value}: a human decides",), safety
        if runbook is None:
            return Verdict.ESCALATE, ("no matching runbook",), safety
        if not runbook.auto_remediate:
            return Verdict.ESCALATE, (f"runbook {runbook.id} has auto_remediate: false",), safety
        if request is None:
            return Verdict.ESCALATE, ("no action proposed",), safety
        rb_action = runbook.action(request.action)
        if rb_action is None:
            return Verdict.ESCALATE, (f"{request.action} is not an action of runbook {runbook.id}",), safety
        if request.service and request.service != incident.service and request.service not in incident.services:
            return Verdict.ESCALATE, (f"the request acts on {request.service}, outside incident {incident.id}",), safety
        safety = stricter(rb_action.safety, safety)
        reasons: list[str] = [f"{request.action} is {safety.value}"]
        max_attempts = min(self.safety.max_attempts, rb_action.max_attempts or self.safety.max_attempts)
        if incident.attempts >= max_attempts:
            return Verdict.ESCALATE, (f"{incident.attempts} attempts made, max {max_attempts}: escalate",), safety
        if self.rate_exceeded():
            return Verdict.ESCALATE, (f"global rate limit: {self.safety.max_actions_per_window} actions per "
                                      f"{self.safety.rate_window_minutes:g} min reached",), safety
        holder = self.lease_owner(request.service or incident.service)
        if holder is not None and holder != owner:
            return Verdict.WATCH, (f"another remediation holds the lease for {request.service} ({holder})",), safety
        severity = diagnosis.severity
        peak = is_peak(self.clock(), self.safety.peak_hours)
        if mode is Mode.LIMITED:
            if safety is Safety.SAFE and request.action in self.safety.allow_list:
                return Verdict.ACT, (*reasons, "limited mode: allow-listed safe action"), safety
            if safety is Safety.CAUTION:
                return Verdict.ASK, (*reasons, "limited mode: caution needs approval"), safety
            return Verdict.ESCALATE, (*reasons, "limited mode: not on the allow list"), safety
        # autonomous (and the would-be verdict for shadow/advisory)
        if safety is Safety.SAFE:
            return Verdict.ACT, (*reasons, "safe action within policy"), safety
        if self.safety.emergency_caution_auto and severity is Severity.CRITICAL:
            if peak:
                return Verdict.ASK, (*reasons, "peak hours: caution needs approval even in an emergency"), safety
            return Verdict.ACT, (*reasons, "emergency rule: critical incident off peak, caution runs"), safety
        return Verdict.ASK, (*reasons, "caution needs approval"), safety


__all__ = ["Guardrails", "is_peak"]
