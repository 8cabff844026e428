"""Executor registry and the one entry point that runs an action: :func:`run_action`.

``run_action`` is ``plan -> precheck -> execute -> verify`` with timestamps. It never raises:

* a forbidden request (registry, :func:`aisre.policy.actions.enforce`) -> ``DENIED``, always, whatever
  decided before - this is the last line of the forbidden list;
* ``guardrails.check`` refusing (mode, rate limit) -> ``DENIED``;
* an executor refusing with PolicyDenied/ForbiddenAction (its own second line: namespace, scale to zero,
  pattern not evictable) -> ``DENIED``;
* precheck not ok (symptom gone, object already in the wanted state, rollout in progress) -> ``SKIPPED``;
* any exception -> ``FAILED`` with the error text; a mutation is never retried here.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from aisre.errors import ForbiddenAction, PolicyDenied, SreError
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check
from aisre.policy.actions import enforce
from aisre.remediate.base import Executor

#: Target.kind -> "module:factory"; the factory takes (config, store) and returns an Executor or None
#: when that target is not configured.
EXECUTORS: dict[str, str] = {
    "kubernetes": "aisre.remediate.kubernetes:from_config",
    "aws": "aisre.remediate.aws:from_config",
    "argocd": "aisre.remediate.cicd:argocd_from_config",
    "jenkins": "aisre.remediate.cicd:jenkins_from_config",
    "redis": "aisre.remediate.redis:from_config",
    "postgres": "aisre.remediate.postgres:from_config",
    "flags": "aisre.remediate.flags:from_config",
}


def _load(ref: str) -> Callable[..., Any]:
    import importlib

    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_executors(config: Any, store: Any = None) -> dict[str, Executor]:
    """One executor per configured target family (``config.targets``), keyed by Target.kind.

    Families whose section is absent are left out; a section that is present but unusable raises
    :class:`ConfigError` naming the key.
    """
    targets: Mapping[str, Any] = getattr(config, "targets", None) or {}
    out: dict[str, Executor] = {}
    for kind, ref in EXECUTORS.items():
        section = kind
        if section not in targets:
            continue
        executor = _load(ref)(config, store)
        if executor is not None:
            out[kind] = executor
    return out


def _result(request: ActionRequest, status: ActionStatus, started: float, clock: Callable[[], float],
            **kw: Any) -> ActionResult:
    return ActionResult(action=request.action, service=request.service, status=status,
                        target=f"{request.target.kind}/{request.target.namespace + '/' if request.target.namespace else ''}"
                               f"{request.target.name}",
                        started_at=started, finished_at=clock(), **kw)


def run_action(executor: Executor, request: ActionRequest, *, dry_run: bool = False,
               clock: Callable[[], float] = time.time, guardrails: Any = None, audit: Any = None,
               targets: Mapping[str, Any] | None = None, max_scale_factor: float = 2.0,
               stop: Callable[[], str] | None = None) -> ActionResult:
    """Run one action through ``executor``; the outcome is always an :class:`ActionResult`, never an exception.

    ``guardrails`` (optional) is consulted with ``check`` before anything runs and counts the action
    toward the rate limit once it executed; ``audit`` (optional AuditLog) receives the result.
    ``stop`` (optional) is asked right before ``execute`` - after plan and precheck, which may take
    a while - and a non-empty answer (e.g. "mode off") ends the run as ``DENIED``: the emergency
    stop takes effect before the step that changes anything.
    """
    started = clock()
    dry_run = bool(dry_run or request.dry_run)
    result = _run(executor, request, dry_run, started, clock, guardrails, targets, max_scale_factor, stop)
    if audit is not None:
        try:
            audit.append("action", request.incident_id, {"request": request.to_dict(), "result": result.to_dict()},
                         actor=request.requested_by)
        except SreError as exc:
            result = ActionResult(**{**_fields(result), "detail": f"{result.detail}; audit failed: {exc}".lstrip("; ")})
    return result


def _fields(result: ActionResult) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}


def _run(executor: Executor, request: ActionRequest, dry_run: bool, started: float, clock: Callable[[], float],
         guardrails: Any, targets: Mapping[str, Any] | None, max_scale_factor: float,
         stop: Callable[[], str] | None = None) -> ActionResult:
    try:
        if guardrails is not None:
            targets = targets if targets is not None else (getattr(guardrails, "targets", None) or None)
            max_scale_factor = guardrails.safety.max_scale_factor
        if targets is None and callable(getattr(executor, "policy_targets", None)):
            targets = executor.policy_targets()      # e.g. the Redis executor's evictable patterns
        enforce(request, targets=targets, max_scale_factor=max_scale_factor)
        if guardrails is not None and not dry_run:
            guardrails.check(request)
    except ForbiddenAction as exc:
        return _result(request, ActionStatus.DENIED, started, clock, detail="forbidden: never executed",
                       error=str(exc))
    except PolicyDenied as exc:
        return _result(request, ActionStatus.DENIED, started, clock, detail="denied by guardrails", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - run_action never raises
        return _result(request, ActionStatus.FAILED, started, clock, detail="policy check failed",
                       error=f"{type(exc).__name__}: {exc}")
    if request.action not in getattr(executor, "actions", ()):
        return _result(request, ActionStatus.FAILED, started, clock,
                       error=f"executor {getattr(executor, 'kind', '?')} does not implement {request.action}")
    step = "plan"
    precheck: Check | None = None
    try:
        plan = executor.plan(request)
        step = "precheck"
        precheck = executor.precheck(plan)
        if not precheck.ok:
            return _result(request, ActionStatus.SKIPPED, started, clock, detail=f"precheck: {precheck.detail}",
                           precheck=precheck, evidence={"steps": list(plan.steps), "blast_radius": plan.blast_radius})
        step = "execute"
        halted = stop() if stop is not None and not dry_run else ""
        if halted:
            return _result(request, ActionStatus.DENIED, started, clock, detail=f"stopped before execute: {halted}",
                           precheck=precheck, error=f"emergency stop: {halted}")
        executed = executor.execute(plan, dry_run=dry_run)
        if not dry_run and guardrails is not None:
            guardrails.record_action(request.service)
        evidence = {"steps": list(plan.steps), "blast_radius": plan.blast_radius, **dict(executed.evidence or {})}
        if executed.status is not ActionStatus.SUCCEEDED or dry_run:
            status = ActionStatus.DRY_RUN if dry_run and executed.status is not ActionStatus.FAILED else executed.status
            return _result(request, status, started, clock, detail=executed.detail, precheck=precheck,
                           evidence=evidence, error=executed.error)
        step = "verify"
        verify = executor.verify(plan)
        status = ActionStatus.SUCCEEDED if verify.ok else ActionStatus.FAILED
        return _result(request, status, started, clock,
                       detail=executed.detail if verify.ok else f"{executed.detail}; verify failed: {verify.detail}",
                       precheck=precheck, verify=verify, evidence=evidence,
                       error="" if verify.ok else f"verify: {verify.detail}")
    except PolicyDenied as exc:      # an executor's own limit (namespace, scale to zero, pattern): nothing ran
        return _result(request, ActionStatus.DENIED, started, clock, detail=f"denied by the executor at {step}",
                       precheck=precheck, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - run_action never raises; the step says where it broke
        return _result(request, ActionStatus.FAILED, started, clock, detail=f"failed at {step}",
                       precheck=precheck, error=f"{type(exc).__name__}: {exc}")


__all__ = ["EXECUTORS", "build_executors", "run_action"]
