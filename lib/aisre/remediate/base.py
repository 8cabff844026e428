"""Executor contract: ``plan -> precheck -> execute -> verify``.

An executor owns one target family (kubernetes, aws, argocd, redis, postgres, flags, sim).
Guardrails (:mod:`aisre.policy`) run *before* an executor is called; executors still limit
their own blast radius (one pod, one step of scaling, one query) and never retry a mutation.
``execute(plan, dry_run=True)`` describes what it would do and changes nothing.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

from aisre.models import ActionRequest, ActionResult, Check, frozen, Model


@frozen
class Plan(Model):
    request: ActionRequest
    steps: tuple[str, ...] = ()                 # human-readable, e.g. 'patch deployment/checkout restartedAt'
    blast_radius: str = ""                      # e.g. '1 deployment, 3 pods, one at a time'
    facts: Mapping[str, Any] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.facts is None:
            object.__setattr__(self, "facts", {})


@runtime_checkable
class Executor(Protocol):
    kind: str                                   # the Target.kind it serves
    actions: tuple[str, ...]                    # registry names it implements

    def plan(self, request: ActionRequest) -> Plan: ...

    def precheck(self, plan: Plan) -> Check: ...

    def execute(self, plan: Plan, *, dry_run: bool = False) -> ActionResult: ...

    def verify(self, plan: Plan) -> Check: ...


class StepDispatch:
    """Routes ``precheck`` / ``execute`` / ``verify`` to ``_<step>_<action>`` methods of an executor that
    implements several actions (e.g. ``_execute_restart_deployment``)."""

    def precheck(self, plan: Plan) -> Check:
        return getattr(self, f"_precheck_{plan.request.action}")(plan)

    def execute(self, plan: Plan, *, dry_run: bool = False) -> ActionResult:
        return getattr(self, f"_execute_{plan.request.action}")(plan, dry_run)

    def verify(self, plan: Plan) -> Check:
        return getattr(self, f"_verify_{plan.request.action}")(plan)
