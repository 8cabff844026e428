"""JSON Schemas for knowledge entries: runbooks (``kind: runbook``) and past incidents (``kind: incident``).

The schemas are the single definition of the on-disk format; :mod:`aisre.knowledge.loader` validates every
file against them and reports errors as ``<file>: <json path>: <message>``.

Action names are checked against :data:`KNOWN_ACTIONS` (the remediation registry's vocabulary) and metric
names against :data:`METRIC_VOCABULARY` (what the simulator and detectors emit), so a typo in a runbook is
caught at load time instead of at 3 a.m.
"""
from __future__ import annotations

from typing import Any

#: Remediation actions the registry knows (``remediate`` owns their implementation and safety class).
KNOWN_ACTIONS: frozenset[str] = frozenset({
    "restart_deployment", "scale_deployment", "rollback_deployment", "delete_pod", "cordon_node",
    "drain_node", "asg_set_capacity", "ssm_run_command", "rds_failover", "deregister_target",
    "argocd_rollback", "argocd_abort_rollout", "jenkins_rollback", "redis_unlink_pattern",
    "pg_cancel_query", "pg_terminate_query", "flag_toggle", "config_revert", "kill_batch_job",
})

#: Metric names used in symptoms and verify checks (the simulator and detectors emit these).
METRIC_VOCABULARY: frozenset[str] = frozenset({
    "memory_pct", "cpu_pct", "p95_latency_ms", "error_rate", "request_rate", "db_cpu_pct",
    "db_connections", "disk_pct", "queue_depth", "cache_memory_pct", "replica_lag_s", "restarts",
    "uptime", "job_runtime_s", "thread_pool_active",
})

#: Fixed catalogue of commands ``ssm_run_command`` may run (never free text).
SSM_COMMANDS: frozenset[str] = frozenset({
    "disk_cleanup", "log_rotate", "service_restart", "clear_tmp", "journal_vacuum", "collect_diagnostics",
})

_STR_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}}
_ID = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]{1,79}$"}
_CONDITION = {"type": "string", "minLength": 1, "maxLength": 80}

_METRIC_PATTERN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["metric"],
    "properties": {
        "metric": {"type": "string", "enum": sorted(METRIC_VOCABULARY)},
        "condition": _CONDITION,
        "anomaly_class": {"type": "string", "enum": ["transient", "sustained", "trend"]},
    },
}

_SYMPTOMS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "metrics": {"type": "array", "items": _METRIC_PATTERN},
        "log_signatures": _STR_LIST,
        "alerts": _STR_LIST,
        "keywords": _STR_LIST,
        "patterns": {"type": "array", "maxItems": 20,
                     "items": {"type": "string", "minLength": 2, "maxLength": 300}},
        "excludes": {"type": "array", "maxItems": 20,
                     "items": {"type": "string", "minLength": 2, "maxLength": 300}},
        "examples": {"type": "array", "maxItems": 40,
                     "items": {"type": "string", "minLength": 3, "maxLength": 300}},
    },
}

_VERIFY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["metric", "condition"],
    "properties": {
        "metric": {"type": "string", "enum": sorted(METRIC_VOCABULARY)},
        "condition": _CONDITION,
        "within_minutes": {"type": "number", "exclusiveMinimum": 0, "maximum": 1440},
    },
}

_ACTION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["action", "safety"],
    "properties": {
        "action": {"type": "string", "enum": sorted(KNOWN_ACTIONS)},
        "params": {"type": "object"},
        "safety": {"type": "string", "enum": ["safe", "caution", "forbidden"]},
        "preconditions": _STR_LIST,
        "verify": {"type": "array", "items": _VERIFY},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 5},
        "description": {"type": "string"},
    },
    "allOf": [
        {"if": {"properties": {"action": {"const": "ssm_run_command"}}},
         "then": {"required": ["params"],
                  "properties": {"params": {"required": ["document", "commands"],
                                            "properties": {"commands": {"type": "array", "minItems": 1,
                                                                        "items": {"enum": sorted(SSM_COMMANDS)}}}}}}},
        {"if": {"properties": {"action": {"const": "redis_unlink_pattern"}}},
         "then": {"required": ["params"], "properties": {"params": {"required": ["pattern"]}}}},
        {"if": {"properties": {"action": {"const": "flag_toggle"}}},
         "then": {"required": ["params"], "properties": {"params": {"required": ["flag", "value"]}}}},
        {"if": {"properties": {"action": {"const": "scale_deployment"}}},
         "then": {"required": ["params"],
                  "properties": {"params": {"anyOf": [{"required": ["factor"]}, {"required": ["replicas"]}]}}}},
    ],
}

_ESCALATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "team": {"type": "string", "minLength": 1},
        "severity": {"type": "string", "enum": ["info", "warning", "error", "critical"]},
        "notes": {"type": "string"},
    },
}

_COMMON = {
    "id": _ID,
    "title": {"type": "string", "minLength": 3, "maxLength": 200},
    "description": {"type": "string"},
    "symptoms": _SYMPTOMS,
    "services": _STR_LIST,
    "tags": _STR_LIST,
    "references": _STR_LIST,
}

RUNBOOK_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "aisre runbook",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "title", "symptoms"],
    "properties": {
        **_COMMON,
        "kind": {"const": "runbook"},
        "diagnosis": _STR_LIST,
        "actions": {"type": "array", "items": _ACTION},
        "escalation": _ESCALATION,
        "auto_remediate": {"type": "boolean"},
    },
}

INCIDENT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "aisre past incident",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "title", "kind", "symptoms", "resolution"],
    "properties": {
        **_COMMON,
        "kind": {"const": "incident"},
        "runbook_id": _ID,
        "resolution": {
            "type": "object",
            "additionalProperties": False,
            "required": ["summary"],
            "properties": {
                "summary": {"type": "string", "minLength": 1},
                "actions": {"type": "array", "items": _ACTION},
                "resolved_at": {"type": ["string", "number"]},
                "resolved_by": {"type": "string"},
                "outcome": {"type": "string", "enum": ["resolved", "mitigated", "failed", "escalated"]},
            },
        },
        "escalation": _ESCALATION,
    },
}
