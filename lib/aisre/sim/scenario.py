"""Drill scenarios: a small YAML format, loaded and validated into frozen values.

A scenario names the services of a simulated fleet (their baselines and seasonality), the
faults injected into it (type, service, start, params), the change events (deploys, flag
flips), and what a sound agent is expected to do (``expect``). The format is documented in
``docs/drills.md``. Every error names the file and the path inside it::

    ValidationError: scenario memory-leak.yaml: faults[0].type: 'memroy_leak' is not a known
    fault type (known: bad_deploy, cache_saturation, ...)

Durations are seconds or strings with a unit (``"90s"``, ``"10m"``, ``"2h"``); fault and change
times are offsets from the scenario start (``t = 0``), negative for events before it.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from aisre.errors import ValidationError
from aisre.models import Model, frozen

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

METRICS: tuple[str, ...] = (
    "cpu_pct", "memory_pct", "p95_latency_ms", "error_rate", "request_rate", "db_cpu_pct",
    "db_connections", "disk_pct", "queue_depth", "cache_memory_pct", "replica_lag_s", "restarts",
    "uptime", "job_runtime_s", "thread_pool_active",
)
UNITS: Mapping[str, str] = {
    "cpu_pct": "percent", "memory_pct": "percent", "p95_latency_ms": "ms", "error_rate": "ratio",
    "request_rate": "req/s", "db_cpu_pct": "percent", "db_connections": "connections", "disk_pct": "percent",
    "queue_depth": "messages", "cache_memory_pct": "percent", "replica_lag_s": "s", "restarts": "count",
    "uptime": "bool", "job_runtime_s": "s", "thread_pool_active": "threads",
}

# Baselines by role: what a healthy service of that kind looks like. A scenario overrides any of them.
ROLE_BASELINES: Mapping[str, Mapping[str, float]] = {
    "app": {"cpu_pct": 35.0, "memory_pct": 45.0, "p95_latency_ms": 180.0, "error_rate": 0.004,
            "request_rate": 120.0, "disk_pct": 38.0, "restarts": 0.0, "uptime": 1.0, "thread_pool_active": 40.0},
    "db": {"db_cpu_pct": 30.0, "db_connections": 60.0, "replica_lag_s": 0.4, "disk_pct": 55.0, "uptime": 1.0,
           "p95_latency_ms": 8.0},
    "cache": {"cache_memory_pct": 55.0, "cpu_pct": 15.0, "p95_latency_ms": 1.5, "uptime": 1.0},
    "queue": {"queue_depth": 40.0, "cpu_pct": 30.0, "memory_pct": 40.0, "request_rate": 80.0, "error_rate": 0.002,
              "restarts": 0.0, "uptime": 1.0, "p95_latency_ms": 90.0},
    "batch": {"job_runtime_s": 0.0, "cpu_pct": 20.0, "memory_pct": 35.0, "uptime": 1.0, "restarts": 0.0},
    "host": {"disk_pct": 50.0, "cpu_pct": 25.0, "memory_pct": 50.0, "uptime": 1.0},
}
ROLES = tuple(ROLE_BASELINES)
CLASSIFICATIONS = ("known", "transient", "unknown_critical", "unknown_minor")
CHANGE_KINDS = ("deploy", "rollback", "config", "feature_flag", "infra")
DEFAULT_START = "2026-11-24T15:00:00Z"

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNIT_S = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


@frozen
class ServiceSpec(Model):
    name: str
    role: str = "app"
    baseline: Mapping[str, float] = dataclasses.field(default_factory=dict)   # every metric the service emits
    noise: float = 1.0                         # multiplier on the default noise level
    seasonality: float = 0.25                  # daily amplitude of load-driven metrics (fraction)
    replicas: int = 3
    depends_on: tuple[str, ...] = ()
    target: Mapping[str, Any] = dataclasses.field(default_factory=lambda: {"kind": "sim"})
    version: str = "v1.0.0"


@frozen
class FaultSpec(Model):
    type: str
    service: str
    start_s: float = 0.0                       # offset from the scenario start
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@frozen
class ChangeSpec(Model):
    at_s: float
    service: str
    kind: str = "deploy"
    version: str = ""
    previous_version: str = ""
    commit: str = ""
    diff_url: str = ""
    author: str = ""
    description: str = ""
    source: str = "sim"


@frozen
class Expect(Model):
    """What a sound agent does in this drill; the drill runner scores against it.

    ``None`` for ``detected`` or ``classification`` means "not scored". ``runbooks`` and ``actions``
    list every acceptable answer; ``"none"`` in ``runbooks`` accepts "no runbook"; empty ``actions``
    means no action may be taken.
    """
    detected: bool | None = True
    classification: str | None = "known"
    runbooks: tuple[str, ...] = ()             # acceptable runbook ids ('none' = no runbook); () = not scored
    actions: tuple[str, ...] = ()              # any of these is the right fix; () = no action expected
    action_service: str | None = None          # the service the fix must target (default: the fault's)
    resolved: bool = False
    escalated: bool = False
    needs_approval: bool = False               # the fix is a caution action: asking a human counts as right
    max_detect_s: float = 900.0                # from the first fault's start
    max_escalate_s: float = 180.0              # from the first fault's start
    max_incidents: int | None = None           # a cascade must stay one incident
    evidence_contains: tuple[str, ...] = ()    # strings the escalation report/evidence must name

    @property
    def runbook(self) -> str | None:
        return next((r for r in self.runbooks if r != "none"), None)

    @property
    def action(self) -> str | None:
        return self.actions[0] if self.actions else None

    @property
    def known_pattern(self) -> bool:
        """A drill the agent should win on its own: known runbook, safe action, auto-resolved."""
        return self.classification == "known" and self.resolved and bool(self.actions) and not self.needs_approval

    @property
    def unknown_critical(self) -> bool:
        return self.classification == "unknown_critical"

    @property
    def transient(self) -> bool:
        return self.classification == "transient"


@frozen
class Scenario(Model):
    name: str
    description: str
    duration_s: float
    step_s: float
    services: tuple[ServiceSpec, ...]
    faults: tuple[FaultSpec, ...] = ()
    changes: tuple[ChangeSpec, ...] = ()
    expect: Expect = dataclasses.field(default_factory=Expect)
    start_ts: float = 0.0                      # epoch seconds of t = 0
    warmup_s: float = 7200.0                   # healthy history generated before t = 0
    tags: tuple[str, ...] = ()
    source_path: str = ""

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.services if s.name == name), None)

    @property
    def fault_start_ts(self) -> float | None:
        """Epoch seconds of the earliest fault (what detection latency is measured from)."""
        if not self.faults:
            return None
        return self.start_ts + min(f.start_s for f in self.faults)

    @property
    def end_ts(self) -> float:
        return self.start_ts + self.duration_s


# --------------------------------------------------------------------------- parsing


def parse_duration(value: Any, where: str) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"2h"``; ValidationError otherwise."""
    if isinstance(value, bool):
        raise ValidationError(f"{where}: expected a duration, got {value!r}", path=where)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _UNIT_S[m.group(2)]
    raise ValidationError(f"{where}: expected a duration like 90, '90s', '10m' or '2h', got {value!r}", path=where)


def _parse_ts(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, _dt.datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
        return dt.timestamp()
    if isinstance(value, str):
        try:
            dt = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (dt if dt.tzinfo else dt.replace(tzinfo=_dt.timezone.utc)).timestamp()
    raise ValidationError(f"{where}: expected an ISO-8601 time like {DEFAULT_START}, got {value!r}", path=where)


class _Reader:
    """Walks one YAML document, collecting the path for error messages."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, msg: str) -> ValidationError:
        return ValidationError(f"scenario {self.origin}: {where}: {msg}", what="scenario", path=where)

    def mapping(self, value: Any, where: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(map(str, value)) - set(allowed))
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(allowed)})")
        return value

    def req(self, m: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in m or m[key] is None:
            raise self.fail(f"{where}.{key}" if where else key, "is required")
        return m[key]

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.fail(where, f"expected text, got {value!r}")
        return str(value)

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a number, got {value!r}")
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail(where, f"expected a finite number, got {value!r}")
        return float(value)

    def duration(self, value: Any, where: str) -> float:
        try:
            return parse_duration(value, where)
        except ValidationError as exc:
            raise self.fail(where, exc.message.split(": ", 1)[-1]) from None

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list of text, got {value!r}")
        return tuple(self.text(v, f"{where}[{i}]") for i, v in enumerate(value))


def scenario_from_dict(data: Any, origin: str = "<dict>") -> Scenario:
    """Validate a parsed YAML document and build a :class:`Scenario` (ValidationError names the path)."""
    from aisre.sim.faults import FAULT_TYPES    # the fault registry validates fault types and params

    r = _Reader(origin)
    top = r.mapping(data, "(top)", ("name", "description", "duration", "step_s", "start", "warmup", "services",
                                     "faults", "changes", "expect", "tags"))
    name = r.text(r.req(top, "name", ""), "name")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise r.fail("name", f"{name!r} must be lower-case words joined by '-'")
    duration_s = r.duration(r.req(top, "duration", ""), "duration")
    step_s = r.duration(top.get("step_s", 15), "step_s")
    if step_s <= 0 or duration_s <= 0:
        raise r.fail("duration", "duration and step_s must be positive")
    if duration_s / step_s > 20000:
        raise r.fail("step_s", f"{duration_s / step_s:.0f} steps is too many (at most 20000)")
    warmup_s = r.duration(top.get("warmup", "2h"), "warmup")
    if warmup_s < 0 or warmup_s > 7 * 86400:
        raise r.fail("warmup", "must be between 0 and 7 days")
    start_ts = _parse_ts(top.get("start", DEFAULT_START), f"scenario {origin}: start")

    raw_services = r.req(top, "services", "")
    if not isinstance(raw_services, list) or not raw_services:
        raise r.fail("services", "expected a non-empty list")
    services: list[ServiceSpec] = []
    for i, raw in enumerate(raw_services):
        w = f"services[{i}]"
        m = r.mapping(raw, w, ("name", "role", "baseline", "noise", "seasonality", "replicas", "depends_on",
                               "target", "version"))
        sname = r.text(r.req(m, "name", w), f"{w}.name")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", sname):
            raise r.fail(f"{w}.name", f"{sname!r} may only hold letters, digits, '_', '.', '-'")
        role = r.text(m.get("role", "app"), f"{w}.role")
        if role not in ROLES:
            raise r.fail(f"{w}.role", f"{role!r} is not a role (known: {', '.join(ROLES)})")
        baseline = dict(ROLE_BASELINES[role])
        for k, v in r.mapping(m.get("baseline") or {}, f"{w}.baseline", METRICS).items():
            baseline[str(k)] = r.number(v, f"{w}.baseline.{k}")
        target = m.get("target") or {"kind": "sim"}
        target = r.mapping(target, f"{w}.target", ("kind", "name", "namespace", "extra"))
        if target.get("kind", "sim") != "sim":
            raise r.fail(f"{w}.target.kind", f"simulated services take target kind 'sim', got {target.get('kind')!r}")
        replicas = int(r.number(m.get("replicas", 3), f"{w}.replicas"))
        if replicas < 1:
            raise r.fail(f"{w}.replicas", "must be at least 1")
        seasonality = r.number(m.get("seasonality", 0.25), f"{w}.seasonality")
        if not 0 <= seasonality < 1:
            raise r.fail(f"{w}.seasonality", "must be in [0, 1)")
        services.append(ServiceSpec(
            name=sname, role=role, baseline=baseline, noise=r.number(m.get("noise", 1.0), f"{w}.noise"),
            seasonality=seasonality, replicas=replicas, depends_on=r.strings(m.get("depends_on"), f"{w}.depends_on"),
            target={"kind": "sim", **{k: v for k, v in target.items() if k != "kind"}},
            version=r.text(m.get("version", "v1.0.0"), f"{w}.version")))
    names = [s.name for s in services]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise r.fail("services", f"duplicate service name(s) {', '.join(dupes)}")
    for i, s in enumerate(services):
        for d in s.depends_on:
            if d not in names:
                raise r.fail(f"services[{i}].depends_on", f"{d!r} is not a service of this scenario")

    faults: list[FaultSpec] = []
    for i, raw in enumerate(top.get("faults") or []):
        w = f"faults[{i}]"
        m = r.mapping(raw, w, ("type", "service", "start", "params"))
        ftype = r.text(r.req(m, "type", w), f"{w}.type")
        if ftype not in FAULT_TYPES:
            raise r.fail(f"{w}.type", f"{ftype!r} is not a known fault type (known: {', '.join(sorted(FAULT_TYPES))})")
        fsvc = r.text(r.req(m, "service", w), f"{w}.service")
        if fsvc not in names:
            raise r.fail(f"{w}.service", f"{fsvc!r} is not a service of this scenario")
        params = dict(r.mapping(m.get("params") or {}, f"{w}.params", FAULT_TYPES[ftype].param_names()))
        for k in FAULT_TYPES[ftype].DURATION_PARAMS:
            if k in params:
                params[k] = r.duration(params[k], f"{w}.params.{k}")
        faults.append(FaultSpec(type=ftype, service=fsvc, start_s=r.duration(m.get("start", 0), f"{w}.start"),
                                params=params))

    changes: list[ChangeSpec] = []
    for i, raw in enumerate(top.get("changes") or []):
        w = f"changes[{i}]"
        m = r.mapping(raw, w, ("at", "service", "kind", "version", "previous_version", "commit", "diff_url",
                               "author", "description", "source"))
        csvc = r.text(r.req(m, "service", w), f"{w}.service")
        if csvc not in names:
            raise r.fail(f"{w}.service", f"{csvc!r} is not a service of this scenario")
        kind = r.text(m.get("kind", "deploy"), f"{w}.kind")
        if kind not in CHANGE_KINDS:
            raise r.fail(f"{w}.kind", f"{kind!r} is not a change kind (known: {', '.join(CHANGE_KINDS)})")
        changes.append(ChangeSpec(
            at_s=r.duration(r.req(m, "at", w), f"{w}.at"), service=csvc, kind=kind,
            **{k: r.text(m[k], f"{w}.{k}") for k in ("version", "previous_version", "commit", "diff_url", "author",
                                                     "description", "source") if m.get(k) is not None}))

    expect = _parse_expect(r, top.get("expect") or {}, names)
    return Scenario(name=name, description=r.text(top.get("description", ""), "description").strip(),
                    duration_s=duration_s, step_s=step_s, services=tuple(services), faults=tuple(faults),
                    changes=tuple(sorted(changes, key=lambda c: c.at_s)), expect=expect, start_ts=start_ts,
                    warmup_s=warmup_s, tags=r.strings(top.get("tags"), "tags"))


def _parse_expect(r: _Reader, raw: Any, names: list[str]) -> Expect:
    m = r.mapping(raw, "expect", ("detected", "classification", "runbook", "action", "action_service", "resolved",
                                  "escalated", "needs_approval", "max_detect_s", "max_escalate_s", "max_incidents",
                                  "evidence_contains"))
    kw: dict[str, Any] = {}
    for key in ("detected", "resolved", "escalated", "needs_approval"):
        if key in m:
            if not isinstance(m[key], bool) and not (key == "detected" and m[key] is None):
                raise r.fail(f"expect.{key}", f"expected true or false, got {m[key]!r}")
            kw[key] = m[key]
    if "classification" in m:
        cls = m["classification"]
        if cls is not None:
            cls = r.text(cls, "expect.classification")
            if cls not in CLASSIFICATIONS:
                raise r.fail("expect.classification", f"{cls!r} is not one of {', '.join(CLASSIFICATIONS)}")
        kw["classification"] = cls
    kw["runbooks"] = tuple("none" if x is None else x for x in (
        r.strings(m["runbook"], "expect.runbook") if m.get("runbook") is not None else
        (("none",) if "runbook" in m else ())))
    kw["actions"] = tuple(a for a in r.strings(m.get("action"), "expect.action") if a != "none")
    if m.get("action_service") is not None:
        svc = r.text(m["action_service"], "expect.action_service")
        if svc not in names:
            raise r.fail("expect.action_service", f"{svc!r} is not a service of this scenario")
        kw["action_service"] = svc
    for key in ("max_detect_s", "max_escalate_s"):
        if key in m:
            kw[key] = r.duration(m[key], f"expect.{key}")
    if m.get("max_incidents") is not None:
        kw["max_incidents"] = int(r.number(m["max_incidents"], "expect.max_incidents"))
    kw["evidence_contains"] = r.strings(m.get("evidence_contains"), "expect.evidence_contains")
    if kw.get("resolved") and not kw["actions"] and kw.get("classification", "known") == "known":
        raise r.fail("expect", "resolved: true for a known fault needs the action that resolves it")
    return Expect(**kw)


def load_scenario(name_or_path: str | os.PathLike[str]) -> Scenario:
    """A scenario by name (``lib/aisre/sim/scenarios/<name>.yaml``) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ValidationError(f"scenario {name_or_path!s} not found (known: {', '.join(list_scenarios())})",
                              what="scenario", path=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, OverflowError, RecursionError, yaml.YAMLError) as exc:
        raise ValidationError(f"scenario {path.name}: not valid YAML: {exc}", what="scenario", path=str(path)) from None
    sc = scenario_from_dict(data, origin=path.name)
    return dataclasses.replace(sc, source_path=str(path))


def list_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``lib/aisre/sim/scenarios``, sorted."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
