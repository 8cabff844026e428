"""Frozen value types passed between the layers. Results carry their evidence.

Conventions
-----------
* Times are UTC epoch seconds (``float``); :func:`iso` renders them for humans.
* Collections are tuples and mappings are plain dicts treated as read-only, so every
  model is immutable and hashable by identity; change one with :func:`dataclasses.replace`.
* Every model round-trips through JSON: ``Model.from_dict(m.to_dict()) == m``. That is how
  models travel as st2 trigger payloads, action results and datastore values.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import json
import types
import typing
from typing import Any, Mapping, TypeVar

from aisre.errors import ValidationError

T = TypeVar("T", bound="Model")


def iso(ts: float | None) -> str:
    """Render epoch seconds as ``2026-11-28T02:05:00Z`` (empty for None)."""
    if ts is None:
        return ""
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_hash(*parts: Any, length: int = 16) -> str:
    """sha256 over the JSON of ``parts`` (sorted keys): the only way fingerprints are made."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


class StrEnum(str, enum.Enum):
    def __str__(self) -> str:
        return self.value


class Mode(StrEnum):
    """Autonomy phases; ``off`` and ``shadow`` are the emergency stop."""
    OFF = "off"
    SHADOW = "shadow"
    ADVISORY = "advisory"
    LIMITED = "limited"
    AUTONOMOUS = "autonomous"


class Safety(StrEnum):
    SAFE = "safe"
    CAUTION = "caution"
    FORBIDDEN = "forbidden"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return ["info", "warning", "error", "critical"].index(self.value)


class AnomalyClass(StrEnum):
    TRANSIENT = "transient"
    SUSTAINED = "sustained"
    TREND = "trend"


class Classification(StrEnum):
    TRANSIENT = "transient"
    KNOWN = "known"
    UNKNOWN_CRITICAL = "unknown_critical"
    UNKNOWN_MINOR = "unknown_minor"


class Verdict(StrEnum):
    ACT = "act"            # run the action now
    ASK = "ask"            # run it after a human approves (core.ask)
    ESCALATE = "escalate"  # page a human with the report
    WATCH = "watch"        # keep watching, do nothing yet (transient, cooling down)
    RESOLVE = "resolve"    # the symptom is gone
    RECORD = "record"      # shadow/advisory: write down what would have been done, act on nothing


class IncidentStatus(StrEnum):
    OPEN = "open"
    MITIGATING = "mitigating"
    AWAITING_APPROVAL = "awaiting_approval"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class ActionStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DRY_RUN = "dry_run"
    SKIPPED = "skipped"
    DENIED = "denied"


# --------------------------------------------------------------------------- serialisation


def _encode(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(tp: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _decode(args[0], value, where)
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ValidationError(f"expected a list at {where}", path=where)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        return tuple(_decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ValidationError(f"expected an object at {where}", path=where)
        args = typing.get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return {k: _decode(vt, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type):
        if issubclass(tp, Model):
            if isinstance(value, tp):
                return value
            return tp.from_dict(value, _where=where)
        if issubclass(tp, enum.Enum):
            try:
                return tp(value)
            except ValueError:
                allowed = ", ".join(m.value for m in tp)
                raise ValidationError(f"{value!r} is not one of {allowed} at {where}", path=where) from None
        if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if tp is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if tp in _SCALARS and not isinstance(value, _SCALARS[tp]) or (tp in (int, float) and isinstance(value, bool)):
            # outside input (trigger payloads, stored JSON) with the wrong type: refuse at the edge
            raise ValidationError(f"expected {tp.__name__} at {where}, got {type(value).__name__}", path=where)
    return value


def _nullable(tp: Any) -> bool:
    if tp is Any or tp is type(None):
        return True
    origin = typing.get_origin(tp)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


_SCALARS: dict[type, tuple[type, ...]] = {str: (str,), float: (int, float), int: (int,), bool: (bool,)}


class Model:
    """Mixin for frozen dataclasses: ``to_dict`` / ``from_dict`` / ``to_json``."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any], _where: str | None = None) -> T:
        where = _where or cls.__name__
        if not isinstance(data, Mapping):
            raise ValidationError(f"expected an object for {cls.__name__}", what=cls.__name__, path=where)
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                if data[f.name] is None and not _nullable(hints[f.name]):
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                        raise ValidationError(f"{where}.{f.name} may not be null", what=cls.__name__,
                                              path=f"{where}.{f.name}")
                    continue        # null for a field that has a default: the default
                kwargs[f.name] = _decode(hints[f.name], data[f.name], f"{where}.{f.name}")
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ValidationError(f"cannot build {cls.__name__}: {exc}", what=cls.__name__, path=where) from None

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        try:
            data = json.loads(text)
        except RecursionError:
            raise ValidationError(f"invalid JSON for {cls.__name__}: nested too deeply", what=cls.__name__) from None
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"invalid JSON for {cls.__name__}: {exc}", what=cls.__name__) from None
        return cls.from_dict(data)


frozen = dataclasses.dataclass(frozen=True, kw_only=True)


# --------------------------------------------------------------------------- telemetry


@frozen
class Series(Model):
    """One metric time series as a source returned it: points sorted by time, NaN-free."""
    key: str                                   # stable id, e.g. 'checkout:memory_pct'
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    points: tuple[tuple[float, float], ...] = ()   # (ts, value)
    unit: str = ""


@frozen
class LogRecord(Model):
    ts: float
    message: str
    service: str = ""
    level: str = ""                            # as found in the line or the source ('' if unknown)
    source: str = ""
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@frozen
class Anomaly(Model):
    """What a detector found, with the evidence a human or an LLM needs."""
    series: str
    service: str
    metric: str
    ts: float                                  # when the alarm fired
    onset_ts: float                            # first anomalous point of the episode
    value: float
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    score: float = 0.0                         # calibrated to [0, 1]
    threshold: float = 0.0
    detector: str = ""
    anomaly_class: AnomalyClass = AnomalyClass.SUSTAINED
    direction: str = "up"                      # up | down
    exhaustion_ts: float | None = None         # trend: when the resource is forecast to run out
    capacity: float | None = None              # the limit the forecast runs into (e.g. 100 %)
    window: tuple[tuple[float, float], ...] = ()   # recent points around onset
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)


@frozen
class Signal(Model):
    """A normalised observation that something is wrong: from a detector, a log pattern or a monitor."""
    id: str
    kind: str                                  # metric | log | alert | synthetic | status
    source: str                                # prometheus, datadog, cloudwatch, alertmanager, sim, ...
    service: str
    name: str                                  # metric, log template or alert name
    summary: str                               # one line for humans (untrusted if it came from outside)
    severity: Severity = Severity.WARNING
    ts: float = 0.0                            # when it was observed
    onset_ts: float | None = None
    value: float | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    score: float | None = None
    anomaly_class: AnomalyClass | None = None
    exhaustion_ts: float | None = None
    signature: str | None = None               # known fatal signature id (e.g. 'oom'), maps to a runbook
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    samples: tuple[str, ...] = ()              # a few redacted log lines
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    resolved: bool = False                     # the monitor says it recovered

    def fingerprint_fields(self) -> tuple[str, str, str]:
        """Stable fields only (never LLM or free text)."""
        return (self.service, self.kind, self.name)


@frozen
class Change(Model):
    """A deploy, config change or feature-flag flip that may explain an incident."""
    id: str
    service: str
    kind: str = "deploy"                       # deploy | rollback | config | feature_flag | infra
    source: str = ""                           # argocd, jenkins, github, flags, ...
    ts: float = 0.0
    version: str = ""
    previous_version: str = ""
    commit: str = ""
    diff_url: str = ""
    author: str = ""
    description: str = ""
    status: str = "succeeded"


# --------------------------------------------------------------------------- knowledge


@frozen
class VerifyCheck(Model):
    """After an action: ``metric`` must satisfy ``condition`` (e.g. '< 80') within ``within_minutes``."""
    metric: str
    condition: str
    within_minutes: float = 5.0


@frozen
class CaptureStep(Model):
    """Evidence to save before an action destroys it (diagnostics before a fix)."""
    kind: str                                  # logs | events | spec | thread_dump | heap_histogram | py_stack
    lines: int = 200                           # logs: tail lines per pod
    timeout_s: float = 20.0


@frozen
class RunbookAction(Model):
    action: str                                # registry name, e.g. 'restart_deployment'
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    safety: Safety | None = None               # declared; the action registry's class always wins if stricter
    preconditions: tuple[str, ...] = ()        # e.g. 'memory_pct > 85'
    verify: tuple[VerifyCheck, ...] = ()
    max_attempts: int = 2
    description: str = ""
    capture: tuple[CaptureStep, ...] = ()      # evidence captured (within a time budget) before the action


@frozen
class MetricPattern(Model):
    metric: str                                # memory_pct, error_rate, p95_latency_ms, ...
    condition: str = ""                        # 'rising', '> 85', 'spike', ...
    anomaly_class: AnomalyClass | None = None


@frozen
class Symptoms(Model):
    metrics: tuple[MetricPattern, ...] = ()
    log_signatures: tuple[str, ...] = ()       # exact substrings / signature ids, e.g. 'OutOfMemoryError'
    alerts: tuple[str, ...] = ()               # monitor / alert names that map straight here
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()             # regular expressions (case-insensitive) for cues words can't hold
    excludes: tuple[str, ...] = ()             # regular expressions for look-alikes this runbook does NOT cover
    examples: tuple[str, ...] = ()             # how the problem is typically reported (alert texts, log lines, chat)


@frozen
class Escalation(Model):
    team: str = "on-call"
    severity: Severity = Severity.CRITICAL
    notes: str = ""


@frozen
class Runbook(Model):
    id: str
    title: str
    description: str = ""
    kind: str = "runbook"                      # runbook | incident (a past incident record)
    symptoms: Symptoms = dataclasses.field(default_factory=Symptoms)
    services: tuple[str, ...] = ()             # empty = any service
    tags: tuple[str, ...] = ()
    diagnosis: tuple[str, ...] = ()
    actions: tuple[RunbookAction, ...] = ()
    escalation: Escalation = dataclasses.field(default_factory=Escalation)
    references: tuple[str, ...] = ()
    auto_remediate: bool = True                # False: always escalate, never act
    source_path: str = ""
    content_hash: str = ""

    def action(self, name: str) -> RunbookAction | None:
        return next((a for a in self.actions if a.action == name), None)


@frozen
class RunbookMatch(Model):
    runbook_id: str
    score: float                               # fused retrieval score
    confidence: float                          # calibrated to [0, 1]
    reasons: tuple[str, ...] = ()              # why it matched: 'signature OutOfMemoryError', 'bm25 0.71', ...
    title: str = ""
    acceptance: float | None = None            # text only, three opinions: P(a runbook covers it); the bar reads it


@frozen
class Retrieval(Model):
    """Ranked matches; ``best`` is None when nothing is good enough (the incident is unknown)."""
    query: str
    matches: tuple[RunbookMatch, ...] = ()
    best: RunbookMatch | None = None


# --------------------------------------------------------------------------- incident and decisions


@frozen
class Diagnosis(Model):
    classification: Classification
    severity: Severity
    summary: str
    suspected_cause: str = ""
    evidence: tuple[str, ...] = ()
    runbook_id: str | None = None              # one of the retrieved runbooks, or None
    proposed_action: str | None = None         # one of that runbook's actions, or None
    action_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    confidence: float = 0.0
    next_steps: tuple[str, ...] = ()
    analyst: str = "offline"                   # offline | llm:<model> | llm-fallback:<reason>
    impact: str = ""


@frozen
class Target(Model):
    """What an action touches. ``kind`` picks the executor family."""
    kind: str                                  # kubernetes | aws | argocd | jenkins | redis | postgres | flags | sim
    name: str                                  # deployment, ASG, app, db, flag ...
    namespace: str = ""
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@frozen
class ActionRequest(Model):
    action: str
    service: str
    target: Target
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    incident_id: str = ""
    runbook_id: str = ""
    reason: str = ""
    requested_by: str = "aisre"                # aisre | chat:<user> | runbook
    dry_run: bool = False


@frozen
class Decision(Model):
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    request: ActionRequest | None = None
    safety: Safety | None = None
    mode: Mode = Mode.SHADOW


@frozen
class Check(Model):
    """Outcome of a precheck or verify: ``ok`` plus what was observed."""
    ok: bool
    detail: str = ""
    observed: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@frozen
class ActionResult(Model):
    action: str
    service: str
    status: ActionStatus
    target: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    detail: str = ""
    precheck: Check | None = None
    verify: Check | None = None
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (ActionStatus.SUCCEEDED, ActionStatus.DRY_RUN)


@frozen
class TimelineEntry(Model):
    ts: float
    kind: str                                  # detected | correlated | diagnosed | decided | acted | verified | escalated | resolved | human
    text: str
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@frozen
class Incident(Model):
    id: str
    fingerprint: str
    service: str
    status: IncidentStatus = IncidentStatus.OPEN
    opened_at: float = 0.0
    updated_at: float = 0.0
    resolved_at: float | None = None
    environment: str = ""
    services: tuple[str, ...] = ()             # every service the incident touches
    signals: tuple[Signal, ...] = ()
    changes: tuple[Change, ...] = ()
    diagnosis: Diagnosis | None = None
    actions: tuple[ActionResult, ...] = ()
    attempts: int = 0
    timeline: tuple[TimelineEntry, ...] = ()
    escalated_at: float | None = None

    @property
    def severity(self) -> Severity:
        if self.diagnosis is not None:
            return self.diagnosis.severity
        if not self.signals:
            return Severity.WARNING
        return max((s.severity for s in self.signals), key=lambda s: s.rank)


@frozen
class Notification(Model):
    incident_id: str
    kind: str                                  # opened | acting | resolved | escalated | update | approval
    title: str
    text: str
    severity: Severity = Severity.WARNING
    fingerprint: str = ""
    links: Mapping[str, str] = dataclasses.field(default_factory=dict)
    attachments: tuple[str, ...] = ()          # file paths (charts)


@frozen
class Receipt(Model):
    channel: str                               # slack | pagerduty | jira | console | email | webhook
    ok: bool
    ref: str = ""                              # message ts, dedup key, issue key ...
    detail: str = ""


@frozen
class AuditRecord(Model):
    seq: int
    ts: float
    kind: str                                  # decision | action | notification | mode | approval
    incident_id: str
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    actor: str = "aisre"
    environment: str = ""
    prev_hash: str = ""
    hash: str = ""
