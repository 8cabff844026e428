"""The fleet as a remediation target: :class:`SimExecutor` implements the Executor protocol.

``plan -> precheck -> execute(dry_run) -> verify`` like the real executors, with the same blast
radius limits: one rollout, one scaling step (never to zero), one query, one pod, one node, a
catalogued SSM command, a named non-wildcard Redis pattern. Guardrails run before it (the policy
layer decides *whether*); the executor still refuses requests no real executor would run.

``verify`` behaves like the Kubernetes executor's poll with a deadline: with ``wait=True`` (the
default) it advances the simulated clock a step at a time until the action has completed (pods
ready, failover done, query gone) or ``max_wait_s`` passes. Whether the *symptom* is gone
(``memory_pct < 70`` within 5 minutes) is the agent's check against the metric source.
"""
from __future__ import annotations

from typing import Any, TYPE_CHECKING

from aisre.errors import ExecutorError
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check
from aisre.remediate.base import Plan
from aisre.sim.faults import (ROLLBACKS, DbConnectionLeak, ReplicationLag, RunawayQuery, StuckBatchJob,
                              _ssm_commands)
from aisre.sim.fleet import scaled_replicas

if TYPE_CHECKING:   # pragma: no cover
    from aisre.sim.fleet import Fleet

ACTIONS: tuple[str, ...] = (
    "restart_deployment", "scale_deployment", "rollback_deployment", "delete_pod", "cordon_node", "drain_node",
    "asg_set_capacity", "ssm_run_command", "rds_failover", "rds_reboot_failover", "deregister_target",
    "argocd_rollback", "argocd_abort_rollout", "jenkins_rollback", "redis_unlink_pattern", "pg_cancel_query",
    "pg_terminate_query", "flag_toggle", "config_revert", "kill_batch_job",
)
SSM_COMMANDS = ("disk_cleanup", "log_rotate", "service_restart")
_ROLLOUT_ACTIONS = ("restart_deployment", *ROLLBACKS)


class SimExecutor:
    """Executor for ``Target(kind="sim")``: every action lands on the :class:`~aisre.sim.fleet.Fleet`."""

    kind = "sim"
    actions = ACTIONS

    def __init__(self, fleet: "Fleet", *, wait: bool = True, max_wait_s: float = 300.0) -> None:
        self.fleet = fleet
        self.wait = wait
        self.max_wait_s = max_wait_s
        self.results: list[ActionResult] = []

    # ------------------------------------------------------------------ plan
    def plan(self, request: ActionRequest) -> Plan:
        """Resolve the target service and parameters; ExecutorError for anything a real executor refuses."""
        def fail(msg: str) -> ExecutorError:
            return ExecutorError(f"sim cannot plan {request.action} on {request.service}: {msg}", step="plan",
                                 action=request.action, service=request.service)

        if request.action not in ACTIONS:
            raise fail(f"unknown action (known: {', '.join(ACTIONS)})")
        if request.target.kind != self.kind:
            raise fail(f"target kind {request.target.kind!r} is not 'sim'")
        requested = request.target.name if request.target.name in self.fleet.services else request.service
        if requested not in self.fleet.services:
            raise fail(f"no such service (services: {', '.join(self.fleet.services)})")
        service = self.fleet.resolve_service(request.action, requested)
        params: dict[str, Any] = dict(request.params or {})
        unrendered = sorted(k for k, v in params.items() if isinstance(v, str) and "{{" in v)
        if unrendered:
            raise fail(f"parameter(s) {', '.join(unrendered)} still hold an unrendered template")
        st = self.fleet.state(service)
        facts: dict[str, Any] = {"service": service, "requested_service": requested, "replicas": st.replicas,
                                 "version": st.version, "now": self.fleet.clock()}
        steps: list[str]
        blast = f"1 service ({service})"
        a = request.action
        if a in ("scale_deployment", "asg_set_capacity"):
            replicas = next((params[k] for k in ("replicas", "desired", "capacity") if params.get(k) is not None), None)
            if replicas is not None:
                if not _is_int(replicas) or int(replicas) < 1:
                    raise fail(f"replicas must be an integer >= 1, got {replicas!r} (never scale to zero)")
                params["replicas"] = int(replicas)
            else:
                factor = params.get("factor", 2.0)
                if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not 0 < float(factor) <= 10:
                    raise fail(f"factor must be a number in (0, 10], got {factor!r}")
                params["factor"] = float(factor)
            target = scaled_replicas(st.replicas, params)
            facts["target_replicas"] = target
            steps = [f"scale {service} {st.replicas} -> {target} replicas"]
            blast = f"{abs(target - st.replicas)} pods of {service}"
        elif a == "ssm_run_command":
            commands = _ssm_commands(params)
            bad = [c for c in commands if c not in SSM_COMMANDS]
            if not commands or bad:
                raise fail(f"commands must come from the catalogue {', '.join(SSM_COMMANDS)} (no free text), "
                           f"got {bad or commands or params!r}")
            params = {"commands": commands}
            steps = [f"run catalogued command {c} on the hosts of {service}" for c in commands]
        elif a == "redis_unlink_pattern":
            pattern = params.get("pattern")
            if not isinstance(pattern, str) or not pattern.strip() or pattern.strip() in ("*", "**") \
                    or pattern.strip().startswith("*"):
                raise fail(f"pattern must be a named key prefix such as 'session:tmp:*', got {pattern!r}")
            steps = [f"SCAN + UNLINK keys matching {pattern} on {service}"]
            blast = f"keys matching {pattern}"
        elif a in ("pg_cancel_query", "pg_terminate_query"):
            min_age = params.get("min_age_s", params.get("older_than_s", 0))
            if not isinstance(min_age, (int, float)) or isinstance(min_age, bool) or min_age < 0:
                raise fail(f"min_age_s must be a non-negative number, got {min_age!r}")
            state = params.get("state")
            if state is not None and state not in ("active", "idle in transaction"):
                raise fail(f"state must be 'active' or 'idle in transaction', got {state!r}")
            if state == "idle in transaction":
                if a != "pg_terminate_query":
                    raise fail("idle sessions can only be terminated (pg_terminate_query)")
                idle = [q for q in self.idle_sessions(service) if q["duration_s"] >= min_age]
                facts["sessions"] = len(idle)
                facts["activity"] = idle[:5]
                params.pop("pid", None)
                steps = [f"SELECT pg_terminate_backend(pid) for {len(idle)} idle-in-transaction sessions "
                         f"older than {min_age}s on {service}"]
                return Plan(request=request, steps=tuple(steps), blast_radius=f"{len(idle)} idle sessions",
                            facts={**facts, "params": params})
            activity = [q for q in self.db_activity(service) if q["duration_s"] >= min_age]
            pid = params.get("pid")
            if pid is not None and not _is_int(pid):
                raise fail(f"pid must be an integer, got {pid!r}")
            if pid is None and activity:
                pid = max(activity, key=lambda q: q["duration_s"])["pid"]
            if pid is not None:
                params["pid"] = int(pid)
            facts["activity"] = activity
            facts["query"] = next((q for q in activity if q["pid"] == params.get("pid")), None)
            fn = "pg_cancel_backend" if a == "pg_cancel_query" else "pg_terminate_backend"
            steps = [f"SELECT {fn}({params.get('pid')}) on {service}"]
            blast = "1 query"
        elif a == "drain_node" or a == "cordon_node":
            node = params.get("node")
            if node in ("*", "all"):
                raise fail("one node at a time (never all)")
            steps = [f"{a.replace('_node', '')} node {node or '(the node of the failing pods)'}"]
            blast = "1 node"
        elif a == "delete_pod":
            steps = [f"delete one crash-looping pod of {service}"]
            blast = f"1 pod of {service}"
        elif a in _ROLLOUT_ACTIONS:
            if a in ROLLBACKS:
                facts["rollback_to"] = st.previous_versions[-1] if st.previous_versions else None
            steps = [f"{a} {service} ({st.replicas} pods, one at a time)"]
            blast = f"{st.replicas} pods of {service}, rolling"
        else:
            steps = [f"{a} {service} {params}"]
        return Plan(request=request, steps=tuple(steps), blast_radius=blast, facts={**facts, "params": params})

    # ------------------------------------------------------------------ precheck
    def precheck(self, plan: Plan) -> Check:
        """Re-read the fleet right before acting: target present, not mid-rollout, something to act on."""
        f = plan.facts
        service, a = f["service"], plan.request.action
        st = self.fleet.state(service)
        now = self.fleet.clock()
        observed = {"service": service, "replicas": st.replicas, "version": st.version,
                    **{m: round(self.fleet.last_value(service, m), 4) for m in self.fleet.metric_names(service)}}
        if a in _ROLLOUT_ACTIONS and now < st.rollout_until:
            return Check(ok=False, detail=f"{service} is already rolling out (until {st.rollout_until:.0f})",
                         observed=observed)
        if a in ROLLBACKS and not st.previous_versions:
            return Check(ok=False, detail=f"{service} has no previous version to roll back to", observed=observed)
        if a == "pg_terminate_query" and f["params"].get("state") == "idle in transaction":
            if not f.get("sessions"):
                return Check(ok=False, detail=f"no idle-in-transaction sessions on {service}", observed=observed)
            return Check(ok=True, detail=f"{f['sessions']} idle-in-transaction sessions on {service}",
                         observed=observed)
        if a in ("pg_cancel_query", "pg_terminate_query"):
            pid = f["params"].get("pid")
            min_age = f["params"].get("min_age_s", f["params"].get("older_than_s", 0))
            live = {q["pid"] for q in self.db_activity(service) if q["duration_s"] >= min_age}
            if pid is None or pid not in live:
                return Check(ok=False, detail=f"no long-running query with pid {pid} on {service}", observed=observed)
        if a == "kill_batch_job" and not any(isinstance(x, StuckBatchJob) and x.active(now) for x in self.fleet.faults
                                             if x.service == service):
            if self.fleet.last_value(service, "job_runtime_s") <= 0:
                return Check(ok=False, detail=f"no job is running on {service}", observed=observed)
        return Check(ok=True, detail=f"{service} present; {plan.steps[0]}", observed=observed)

    # ------------------------------------------------------------------ execute
    def execute(self, plan: Plan, *, dry_run: bool = False) -> ActionResult:
        """Apply the plan to the fleet (or, with ``dry_run``, record what would happen and change nothing)."""
        f = plan.facts
        req = plan.request
        now = self.fleet.clock()
        effects = self.fleet.apply_action(req.action, f["service"], f["params"], dry_run=dry_run or req.dry_run)
        status = ActionStatus.DRY_RUN if dry_run or req.dry_run else ActionStatus.SUCCEEDED
        evidence: dict[str, Any] = {"effects": effects, "steps": list(plan.steps), "params": dict(f["params"])}
        if f.get("query"):
            evidence["query"] = f["query"]
        result = ActionResult(action=req.action, service=f["service"], status=status, target=f"sim/{f['service']}",
                              started_at=now, finished_at=self.fleet.clock(), detail="; ".join(effects) or "done",
                              evidence=evidence)
        self.results.append(result)
        return result

    # ------------------------------------------------------------------ verify
    def verify(self, plan: Plan) -> Check:
        """Did the action complete (pods ready, replicas ready, fix effective)? Waits on the simulated clock."""
        service, a = plan.facts["service"], plan.request.action
        deadline = self.fleet.clock() + (self.max_wait_s if self.wait else 0.0)
        while True:
            ok, detail = self._completed(service, a, plan)
            if ok or self.fleet.clock() >= deadline:
                break
            self.fleet.advance(min(self.fleet.step_s, deadline - self.fleet.clock()))
        observed = {m: round(self.fleet.last_value(service, m), 4) for m in self.fleet.metric_names(service)}
        return Check(ok=ok, detail=detail, observed={"service": service, "at": self.fleet.clock(), **observed})

    def _completed(self, service: str, action: str, plan: Plan) -> tuple[bool, str]:
        st = self.fleet.state(service)
        now = self.fleet.clock()
        if action in _ROLLOUT_ACTIONS:
            if now < st.rollout_until:
                return False, f"rollout of {service} in progress (ready at +{st.rollout_until - now:.0f}s)"
            return True, f"rollout of {service} complete: {st.replicas} pods ready, version {st.version}"
        if action in ("scale_deployment", "asg_set_capacity"):
            ready = st.effective_replicas(now)
            return ready == st.replicas, f"{ready}/{st.replicas} replicas ready"
        pending = [x for x in self.fleet.faults if x.fixed_with == action and x.fixed_at is not None
                   and x.fixed_at > now]
        if pending:
            return False, f"{action} on {service} still completing"
        return True, f"{action} on {service} completed"

    # ------------------------------------------------------------------ simulated pg_stat_activity
    def idle_sessions(self, service: str) -> list[dict[str, Any]]:
        """Idle-in-transaction sessions on a simulated database (leaked connections)."""
        now = self.fleet.clock()
        return [q for x in self.fleet.faults if isinstance(x, DbConnectionLeak) and x.db == service
                for q in x.idle_sessions(now, self.fleet)]

    def db_activity(self, service: str) -> list[dict[str, Any]]:
        """Long-running queries on a simulated database, like a ``pg_stat_activity`` read."""
        now = self.fleet.clock()
        out: list[dict[str, Any]] = []
        for x in self.fleet.faults:
            if x.service != service or now < x.start or x.fixed_at is not None and now >= x.fixed_at:
                continue
            if isinstance(x, RunawayQuery):
                out.append({"pid": int(x.p["pid"]), "user": x.p["user"], "application": x.p["application"],
                            "state": "active", "duration_s": round(float(x.p["running_for_s"]) + now - x.start, 1),
                            "query": x.p["query"]})
            elif isinstance(x, ReplicationLag):
                out.append({"pid": int(x.p["pid"]), "user": "analytics", "application": "psql", "state": "active",
                            "duration_s": round(float(x.p["running_for_s"]) + now - x.start, 1),
                            "query": "SELECT * FROM events WHERE created_at > now() - interval '90 days'"})
        return out


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    if isinstance(v, float):
        return v.is_integer()
    if isinstance(v, str):
        return v.strip().lstrip("-").isdigit()
    return False
