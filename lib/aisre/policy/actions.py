"""The action registry: every remediation aisre may run, its safety class, and the forbidden list.

Nothing outside this module can make an action safer than it says here. A runbook may declare an
action *stricter* (``safe`` -> ``caution``), never looser; an LLM only picks among a runbook's
actions; chat requests go through the same :func:`assess`.

* :data:`ACTIONS` - ``name -> ActionSpec`` (target kind, base safety, JSON schema of the params).
* :func:`assess` - the parameter-dependent safety of one :class:`~aisre.models.ActionRequest`, with
  reasons. Unknown names, params outside the schema, hostile names and values are ``FORBIDDEN``.
* :func:`safety_of` - just the :class:`~aisre.models.Safety`.
* :func:`enforce` - raises :class:`~aisre.errors.ForbiddenAction` for a forbidden request; every
  executor entry point (:func:`aisre.remediate.registry.run_action`) calls it, whatever the caller
  decided before.

Parameter-dependent rules (see ``docs/remediation.md`` for the table):

* scale (``scale_deployment``, ``asg_set_capacity``): factor <= ``max_scale_factor`` (2) safe, above
  it caution, to zero / negative forbidden, an absolute count with no known current size caution,
  scaling down caution;
* ``drain_node`` of one named node caution; no node, a wildcard or a selector = drain all, forbidden;
* ``ssm_run_command``: only the catalogue (:data:`SSM_CATALOGUE`), never free text;
* ``redis_unlink_pattern``: the pattern must be on ``targets.redis.evictable_patterns`` and must not
  be a bare wildcard; ``redis_flushall`` is forbidden unless ``targets.redis.allow_flushall``;
* ``flag_toggle`` that would switch off monitoring, alerting, audit or auth flags is forbidden.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Mapping

import jsonschema

from aisre.errors import ForbiddenAction
from aisre.models import ActionRequest, Model, Safety, frozen

_RANK = {Safety.SAFE: 0, Safety.CAUTION: 1, Safety.FORBIDDEN: 2}

#: SSM commands aisre may send, and the exact shell each one runs (AWS-RunShellScript). Free text never.
SSM_CATALOGUE: Mapping[str, tuple[str, ...]] = {
    "disk_cleanup": (
        "journalctl --vacuum-size=200M",
        "find /tmp -xdev -type f -mtime +2 -delete",
        "find /var/log -xdev -type f -name '*.gz' -mtime +7 -delete",
    ),
    "log_rotate": ("logrotate --force /etc/logrotate.conf",),
    "service_restart": ("systemctl restart {service}",),
}
SSM_SAFETY = {"disk_cleanup": Safety.CAUTION, "log_rotate": Safety.SAFE, "service_restart": Safety.SAFE}

#: Names that are never an action, whatever registers them: deletes, DDL, monitoring, credentials.
FORBIDDEN_NAME = re.compile(
    r"(^|_)(drop|truncate|destroy|purge|wipe|terminate_instance|delete_(?!pod$)\w*|flushdb|"
    r"alter|create_table|grant|revoke|iam|credential|secret|password|access_key|"
    r"disable_(monitor|alert|audit)\w*|silence|mute|unmonitor)(_|$)")
#: Words in a flag name that mean monitoring, alerting, audit or auth: never switched off.
PROTECTED_FLAG = re.compile(r"monitor|alert|audit|auth|security|page|paging|logging|telemetry", re.I)
#: SQL words that never appear in any parameter (the executors run fixed statements only).
DDL_WORDS = re.compile(
    r"\b((drop|alter|create)\s+(table|database|schema|index|role|user|view|extension|function)|truncate\s+\w+|"
    r"(grant|revoke)\s+\w+|delete\s+from|insert\s+into|update\s+\w+\s+set)\b|;", re.I)
_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,252}$"}
_SVC = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$"}


@frozen
class ActionSpec(Model):
    """One registered action. ``safety`` is the base class; :func:`assess` may raise it with the params."""
    name: str
    target_kind: str                  # kubernetes | aws | argocd | jenkins | redis | postgres | flags
    safety: Safety
    description: str
    params_schema: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    idempotent: bool = False
    blast_radius: str = ""


@frozen
class SafetyAssessment(Model):
    """Outcome of :func:`assess`: the class and the reasons that set it."""
    action: str
    safety: Safety
    reasons: tuple[str, ...] = ()


def _schema(props: Mapping[str, Any] | None = None, required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": dict(props or {}), "additionalProperties": False}
    if required:
        out["required"] = list(required)
    out.update(extra)
    return out


def _spec(name: str, kind: str, safety: Safety, description: str, schema: dict[str, Any],
          idempotent: bool, blast: str) -> ActionSpec:
    return ActionSpec(name=name, target_kind=kind, safety=safety, description=description,
                      params_schema=schema, idempotent=idempotent, blast_radius=blast)


S, C, F = Safety.SAFE, Safety.CAUTION, Safety.FORBIDDEN
_SCALE = {"factor": {"type": "number"}, "replicas": {"type": "integer"},
          "current_replicas": {"type": "integer", "minimum": 0}}
_ASG = {"factor": {"type": "number"}, "desired": {"type": "integer"}, "current": {"type": "integer", "minimum": 0},
        "exclude_zone": {"type": "string", "pattern": r"^[a-z]{2}-[a-z]+-\d[a-z]$"}}
_PREVIOUS = {"enum": ["previous"]}             # runbooks say `to: previous`; it is the only target allowed
_AGE = {"type": "integer", "minimum": 10, "maximum": 86400}
_PG = {"pid": {"type": "integer", "minimum": 1}, "max_queries": {"type": "integer", "minimum": 1, "maximum": 20},
       "min_age_s": _AGE, "older_than_s": _AGE, "state": {"enum": ["active", "idle in transaction"]},
       "target_role": {"enum": ["primary", "replica"]}}

ACTIONS: dict[str, ActionSpec] = {s.name: s for s in (
    _spec("restart_deployment", "kubernetes", S,
          "Rolling restart: patch the pod template's restartedAt annotation (Deployment or StatefulSet).",
          _schema({"kind": {"enum": ["Deployment", "StatefulSet"]}, "strategy": {"enum": ["rolling"]},
                   "namespace": _NAME, "name": _NAME}), True,
          "1 workload; pods replaced one at a time"),
    _spec("scale_deployment", "kubernetes", S,
          "Scale one step: factor x current or an absolute replica count, capped at max_scale_factor and max_replicas.",
          _schema(_SCALE, anyOf=[{"required": ["factor"]}, {"required": ["replicas"]}]), True,
          "1 deployment; adds pods, never removes them all"),
    _spec("rollback_deployment", "kubernetes", S,
          "Roll back to the previous ReplicaSet revision (its pod template).",
          _schema({"revision": {"type": "integer", "minimum": 1}, "to": _PREVIOUS}), True, "1 deployment, rolling"),
    _spec("delete_pod", "kubernetes", S,
          "Delete ONE crash-looping pod (CrashLoopBackOff or restarts above threshold); its controller recreates it.",
          _schema({"pod": _NAME, "restart_threshold": {"type": "integer", "minimum": 1},
                   "count": {"type": "integer", "minimum": 1, "maximum": 1}}), False, "1 pod"),
    _spec("cordon_node", "kubernetes", C, "Mark one node unschedulable (node from params.node or target.extra.node).",
          _schema({"node": _NAME}), True, "1 node; running pods untouched"),
    _spec("drain_node", "kubernetes", C, "Cordon one node and evict its pods through the eviction API (honours PDBs).",
          _schema({"node": _NAME, "max_pods": {"type": "integer", "minimum": 1, "maximum": 200},
                   "grace_period_s": {"type": "integer", "minimum": 0, "maximum": 3600},
                   "respect_pdb": {"const": True}}), False,
          "1 node; evictions refused by a PodDisruptionBudget stop the drain"),
    _spec("kill_batch_job", "kubernetes", S, "Suspend one runaway batch Job (spec.suspend=true); nothing is deleted.",
          _schema({"job": _NAME}), True, "1 job's pods"),
    _spec("asg_set_capacity", "aws", S, "Set an Auto Scaling group's desired capacity within its min/max, one <=2x step.",
          _schema(_ASG, anyOf=[{"required": ["factor"]}, {"required": ["desired"]}]), True, "1 ASG"),
    _spec("ssm_run_command", "aws", S, "Run catalogued scripts (disk_cleanup, log_rotate, service_restart) via SSM.",
          _schema({"command": {"enum": sorted(SSM_CATALOGUE)},
                   "commands": {"type": "array", "items": {"enum": sorted(SSM_CATALOGUE)}, "minItems": 1,
                                "maxItems": len(SSM_CATALOGUE), "uniqueItems": True},
                   "document": {"const": "AWS-RunShellScript"}, "service": _SVC,
                   "instance_ids": {"type": "array", "items": {"type": "string", "pattern": r"^i-[0-9a-f]{8,17}$"},
                                    "minItems": 1, "maxItems": 5}},
                  anyOf=[{"required": ["command"]}, {"required": ["commands"]}]), False,
          "the affected instances only (<= 5)"),
    _spec("rds_failover", "aws", C, "Aurora: failover_db_cluster to a replica.",
          _schema({"target_instance": _NAME}), False, "1 cluster; ~30 s of write unavailability"),
    _spec("rds_reboot_failover", "aws", C, "RDS Multi-AZ: reboot_db_instance(ForceFailover=True).",
          _schema({}), False, "1 instance; ~60 s of unavailability"),
    _spec("deregister_target", "aws", S, "Deregister ONE unhealthy target from an ELBv2 target group.",
          _schema({"target_id": _NAME, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                   "zone": {"type": "string", "pattern": r"^[a-z]{2}-[a-z]+-\d[a-z]$"}}), True,
          "1 target (only when unhealthy and others remain healthy)"),
    _spec("argocd_rollback", "argocd", S, "Argo CD: roll the application back to the previous history entry.",
          _schema({"id": {"type": "integer", "minimum": 0}, "to": _PREVIOUS}), True, "1 application"),
    _spec("argocd_abort_rollout", "argocd", S, "Argo Rollouts: abort the rollout through Argo CD's resource action.",
          _schema({"rollout": _NAME}), True, "1 rollout; traffic back to the stable set"),
    _spec("jenkins_rollback", "jenkins", S, "Trigger an allowed Jenkins rollback job with the service and version.",
          _schema({"version": {"type": "string", "pattern": r"^[A-Za-z0-9_.:+-]{1,128}$"},
                   "job": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$"}}), False,
          "1 service"),
    _spec("redis_unlink_pattern", "redis", S, "SCAN + UNLINK keys of one configured evictable pattern, bounded per run.",
          _schema({"pattern": {"type": "string", "minLength": 2, "maxLength": 200},
                   "max_keys": {"type": "integer", "minimum": 1, "maximum": 100000},
                   "batch": {"type": "integer", "minimum": 1, "maximum": 10000}}, ("pattern",)), True,
          "keys of one non-critical pattern, at most max_keys"),
    _spec("redis_flushall", "redis", F, "FLUSHALL: forbidden unless targets.redis.allow_flushall (then caution).",
          _schema({}), True, "the whole Redis instance"),
    _spec("pg_cancel_query", "postgres", C, "pg_cancel_backend on runaway queries older than runaway_seconds.",
          _schema(_PG), False, "runaway queries only; protected users and our own backend excluded"),
    _spec("pg_terminate_query", "postgres", C, "pg_terminate_backend on runaway queries (after a cancel did not help).",
          _schema(_PG), False, "runaway backends only"),
    _spec("flag_toggle", "flags", C, "Switch one feature flag on or off through the flag service's HTTP API.",
          _schema({"flag": _NAME, "enabled": {"type": "boolean"}, "value": {"type": "boolean"}},
                  anyOf=[{"required": ["enabled"]}, {"required": ["value"]}]), True, "1 flag"),
    _spec("config_revert", "flags", C, "Revert one config key to its previous version through the config HTTP API.",
          _schema({"key": _NAME, "version": {"type": "string", "maxLength": 128}, "to": _PREVIOUS}), True,
          "1 config key"),
)}


def flag_enabled(params: Mapping[str, Any]) -> bool | None:
    """The wanted state of a flag_toggle (``enabled``, or the runbooks' ``value``)."""
    value = params.get("enabled", params.get("value"))
    return value if isinstance(value, bool) else None


def stricter(a: Safety | None, b: Safety | None) -> Safety:
    """The stricter of two classes (None counts as safe)."""
    a, b = a or Safety.SAFE, b or Safety.SAFE
    return a if _RANK[a] >= _RANK[b] else b


def _scale_class(factor: float | None, target: int | None, current: int | None, max_factor: float,
                 reasons: list[str]) -> Safety:
    if factor is not None and not math.isfinite(factor):
        reasons.append(f"scale factor {factor!r} is not a finite number")
        return F
    if target is not None and target <= 0 or factor is not None and factor <= 0:
        reasons.append("scale to zero or below is forbidden")
        return F
    if factor is None and target is not None:
        if current is None or current <= 0:
            reasons.append("absolute size with unknown current size: caution")
            return C
        factor = target / current
    if factor is None:
        reasons.append("no scale factor or size given")
        return F
    if factor < 1:
        reasons.append(f"scale down x{factor:g}: caution")
        return C
    if factor > max_factor:
        reasons.append(f"scale x{factor:g} above x{max_factor:g}: caution")
        return C
    reasons.append(f"scale x{factor:g} within x{max_factor:g}")
    return S


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)] + [str(k) for k in value]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def assess(request: ActionRequest, *, targets: Mapping[str, Any] | None = None,
           max_scale_factor: float = 2.0) -> SafetyAssessment:
    """Classify one request. Never raises for bad input: anything it cannot vouch for is FORBIDDEN.

    ``targets`` is the config's ``targets`` section (redis evictable patterns, allow_flushall).
    """
    name = request.action if isinstance(request.action, str) else repr(request.action)
    reasons: list[str] = []
    spec = ACTIONS.get(name)
    if FORBIDDEN_NAME.search(name or "") and name != "redis_flushall":
        return SafetyAssessment(action=name, safety=F, reasons=(f"action name {name!r} is on the forbidden list",))
    if spec is None:
        return SafetyAssessment(action=name, safety=F, reasons=(f"unknown action {name!r}: not in the registry",))
    kind = request.target.kind if request.target is not None else ""
    if kind not in (spec.target_kind, "sim"):
        return SafetyAssessment(action=name, safety=F,
                                reasons=(f"{name} acts on {spec.target_kind}, not on target kind {kind!r}",))
    params = dict(request.params or {})
    try:
        jsonschema.Draft7Validator(spec.params_schema).validate(params)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "params"
        return SafetyAssessment(action=name, safety=F, reasons=(f"params outside the schema at {where}: {exc.message}",))
    for text in _strings(params):
        if DDL_WORDS.search(text or ""):
            return SafetyAssessment(action=name, safety=F, reasons=(f"SQL/DDL words in a parameter: {text[:60]!r}",))
    safety = spec.safety
    tcfg = dict(targets or {})
    redis_cfg = dict(tcfg.get("redis") or {})
    if name == "scale_deployment":
        current = params.get("current_replicas", request.target.extra.get("current_replicas"))
        safety = _scale_class(params.get("factor"), params.get("replicas"), current, max_scale_factor, reasons)
    elif name == "asg_set_capacity":
        current = params.get("current", request.target.extra.get("current"))
        safety = _scale_class(params.get("factor"), params.get("desired"), current, max_scale_factor, reasons)
    elif name in ("drain_node", "cordon_node"):
        node = params.get("node") or request.target.extra.get("node") or ""
        node = node if isinstance(node, str) else ""
        if not node or any(ch in node for ch in "*?,=") or node.lower() in ("all", "any", "nodes"):
            return SafetyAssessment(action=name, safety=F, reasons=(f"{name} of every node is forbidden",))
        reasons.append(f"one node {node}: caution")
    elif name == "ssm_run_command":
        cmds = ssm_commands(params)
        if "service_restart" in cmds and not params.get("service"):
            return SafetyAssessment(action=name, safety=F, reasons=("service_restart needs a service name",))
        safety = S
        for cmd in cmds:
            safety = stricter(safety, SSM_SAFETY[cmd])
        reasons.append(f"catalogued commands {', '.join(cmds)}")
    elif name == "redis_unlink_pattern":
        pattern = params["pattern"]
        if not pattern.strip("*?[]:") or pattern.lstrip("*") == "" or pattern in ("*", "**", "*:*"):
            return SafetyAssessment(action=name, safety=F, reasons=(f"pattern {pattern!r} matches everything",))
        if pattern not in tuple(redis_cfg.get("evictable_patterns") or ()):
            return SafetyAssessment(action=name, safety=F,
                                    reasons=(f"pattern {pattern!r} is not in targets.redis.evictable_patterns",))
        reasons.append(f"evictable pattern {pattern}")
    elif name == "redis_flushall":
        if redis_cfg.get("allow_flushall") is True:
            safety = C
            reasons.append("FLUSHALL allowed by targets.redis.allow_flushall: caution")
        else:
            return SafetyAssessment(action=name, safety=F, reasons=("FLUSHALL is forbidden (allow_flushall is off)",))
    elif name == "flag_toggle":
        if flag_enabled(params) is False and PROTECTED_FLAG.search(params.get("flag") or request.target.name or ""):
            return SafetyAssessment(action=name, safety=F,
                                    reasons=(f"switching off {params['flag']!r} would disable monitoring/alerts/auth",))
    if not reasons:
        reasons.append(f"{name} is {safety.value} in the registry")
    return SafetyAssessment(action=name, safety=safety, reasons=tuple(reasons))


def ssm_commands(params: Mapping[str, Any]) -> list[str]:
    """Catalogue entries a ssm_run_command request asks for (``command`` or the runbooks' ``commands`` list)."""
    cmds = list(params.get("commands") or [])
    if params.get("command") and params["command"] not in cmds:
        cmds.insert(0, params["command"])
    return cmds


def safety_of(request: ActionRequest, *, targets: Mapping[str, Any] | None = None,
              max_scale_factor: float = 2.0) -> Safety:
    """The safety class of ``request`` (parameter-dependent; FORBIDDEN for anything unknown or hostile)."""
    return assess(request, targets=targets, max_scale_factor=max_scale_factor).safety


def enforce(request: ActionRequest, *, targets: Mapping[str, Any] | None = None,
            max_scale_factor: float = 2.0) -> SafetyAssessment:
    """Raise :class:`ForbiddenAction` when ``request`` is forbidden; otherwise return the assessment."""
    result = assess(request, targets=targets, max_scale_factor=max_scale_factor)
    if result.safety is Safety.FORBIDDEN:
        raise ForbiddenAction(f"forbidden action {result.action!r}", reasons=result.reasons,
                              service=request.service or None)
    return result


__all__ = ["ACTIONS", "ActionSpec", "SafetyAssessment", "SSM_CATALOGUE", "assess", "enforce", "flag_enabled",
           "safety_of", "ssm_commands", "stricter"]
