"""AWS executor (boto3): Auto Scaling capacity, catalogued SSM scripts, RDS failover, one ELBv2 target.

* ``asg_set_capacity`` - ``Target(kind="aws", name=<ASG name>)``; one step, at most ``max_scale_factor`` x the
  current desired capacity, clamped to the group's MinSize/MaxSize, never 0; skipped while a scaling
  activity is in progress. Verify: desired capacity set and that many instances InService.
* ``ssm_run_command`` - ``AWS-RunShellScript`` with the fixed lines of one catalogue entry
  (:data:`aisre.policy.actions.SSM_CATALOGUE`) on the affected instance ids only (``params.instance_ids`` or
  ``target.extra.instance_ids``, at most 5, running). Verify: ``get_command_invocation`` is Success on each.
* ``rds_failover`` - Aurora ``failover_db_cluster`` (``name`` = cluster id) to a reader; verify the writer moved.
* ``rds_reboot_failover`` - ``reboot_db_instance(ForceFailover=True)`` on a Multi-AZ instance; verify available.
* ``deregister_target`` - ``name`` = target group ARN or name; deregisters ONE target that is unhealthy
  while at least one other target is healthy. Verify: the target is gone or draining.

Clients are made with ``total_max_attempts=1`` (botocore's ``max_attempts=1`` would still mean one retry):
botocore never repeats a mutation behind our back.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Mapping

from aisre.errors import (ExecutorError, ForbiddenAction, IntegrationError, NotFound, SourceDown, Timeout,
                          http_error)
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check
from aisre.policy.actions import SSM_CATALOGUE, ssm_commands
from aisre.remediate.base import Plan, StepDispatch

def is_bad_target(health: Mapping[str, Any]) -> bool:
    """A target that serves nothing: failing health checks, or registered while stopped (Target.InvalidState)."""
    th = health.get("TargetHealth", {})
    return th.get("State") == "unhealthy" or (th.get("State") == "unused" and th.get("Reason") == "Target.InvalidState")


THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
             "RequestThrottled", "SlowDown"}
TERMINAL_SSM = {"Success", "Failed", "Cancelled", "TimedOut", "Undeliverable", "Terminated", "InvalidPlatform",
                "AccessDenied", "DeliveryTimedOut", "ExecutionTimedOut"}


def from_config(config: Any, store: Any = None) -> "AwsExecutor | None":
    acfg = (getattr(config, "targets", None) or {}).get("aws")
    if acfg is None:
        return None
    safety = getattr(config, "safety", None)
    return AwsExecutor(region=acfg.get("region", "us-east-1"), endpoint_url=acfg.get("endpoint_url"),
                       access_key_id=acfg.get("access_key_id"), secret_access_key=acfg.get("secret_access_key"),
                       max_scale_factor=getattr(safety, "max_scale_factor", 2.0))


_SESSIONS: dict[tuple[Any, ...], Any] = {}


def _session(key_id: str | None, secret: str | None, region: str) -> Any:
    """One boto3 Session per credentials+region per process (building one re-reads every service model)."""
    import boto3

    k = (key_id or None, secret or None, region)
    if k not in _SESSIONS:
        _SESSIONS[k] = boto3.session.Session(aws_access_key_id=k[0], aws_secret_access_key=k[1], region_name=region)
    return _SESSIONS[k]


class AwsExecutor(StepDispatch):
    kind = "aws"
    actions = ("asg_set_capacity", "ssm_run_command", "rds_failover", "rds_reboot_failover", "deregister_target")

    def __init__(self, *, region: str = "us-east-1", endpoint_url: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None, session: Any = None,
                 max_scale_factor: float = 2.0, verify_timeout_s: float = 600.0, poll_interval_s: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._keys = (access_key_id, secret_access_key)
        self._session = session
        self._clients: dict[str, Any] = {}
        self.max_scale_factor = float(max_scale_factor)
        self.verify_timeout_s = float(verify_timeout_s)
        self.poll_interval_s = float(poll_interval_s)
        self.sleep = sleep
        self.clock = clock

    # ------------------------------------------------------------------ plumbing

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            session = self._session or _session(self._keys[0], self._keys[1], self.region)
            self._clients[service] = session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url or None,
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                              read_timeout=30))
        return self._clients[service]

    def _call(self, service: str, operation: str, target: str = "", **kw: Any) -> Any:
        from botocore.exceptions import (ClientError, ConnectTimeoutError, EndpointConnectionError,
                                         NoCredentialsError, ReadTimeoutError)

        try:
            return getattr(self.client(service), operation)(**kw)
        except ClientError as exc:
            meta = exc.response.get("ResponseMetadata", {})
            err = exc.response.get("Error", {})
            status = int(meta.get("HTTPStatusCode") or 400)
            code = err.get("Code", "")
            if "NotFound" in code or code in ("InvalidInstanceId", "InvalidInstanceID.NotFound"):
                status = 404
            elif code in THROTTLED:
                status = 429
            raise http_error(status, f"aws {service}.{operation} {target}: {code} {err.get('Message', '')}".strip(),
                             integration="aws", operation=f"{service}.{operation}", target=target) from None
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise Timeout(f"aws {service}.{operation} timed out: {exc}", integration="aws",
                          operation=f"{service}.{operation}", target=target) from None
        except EndpointConnectionError as exc:
            raise SourceDown(f"aws {service}.{operation} unreachable: {exc}", integration="aws",
                             operation=f"{service}.{operation}", target=target) from None
        except NoCredentialsError as exc:
            raise IntegrationError(f"aws {service}.{operation}: {exc}", integration="aws",
                                   operation=f"{service}.{operation}") from None

    def _result(self, plan: Plan, detail: str, dry_run: bool, **evidence: Any) -> ActionResult:
        r = plan.request
        return ActionResult(action=r.action, service=r.service,
                            status=ActionStatus.DRY_RUN if dry_run else ActionStatus.SUCCEEDED,
                            target=f"aws/{r.target.name}", detail=("dry run: would " if dry_run else "") + detail,
                            evidence=evidence)

    def _wait(self, what: str, probe: Callable[[], tuple[bool, str, Mapping[str, Any]]]) -> Check:
        deadline = self.clock() + self.verify_timeout_s
        while True:
            ok, why, observed = probe()
            if ok:
                return Check(ok=True, detail=f"{what}: {why}", observed=observed)
            if self.clock() >= deadline:
                return Check(ok=False, detail=f"{what} not done after {self.verify_timeout_s:g}s: {why}",
                             observed={**observed, "timed_out": True})
            self.sleep(self.poll_interval_s)

    # ------------------------------------------------------------------ protocol

    def plan(self, request: ActionRequest) -> Plan:
        if request.action not in self.actions:
            raise ExecutorError(f"aws executor does not implement {request.action}", step="plan")
        return getattr(self, f"_plan_{request.action}")(request)


    # ------------------------------------------------------------------ Auto Scaling

    def _asg(self, name: str) -> dict[str, Any]:
        groups = self._call("autoscaling", "describe_auto_scaling_groups", name,
                            AutoScalingGroupNames=[name])["AutoScalingGroups"]
        if not groups:
            raise NotFound(f"auto scaling group {name} not found", integration="aws", target=name, status=404)
        return groups[0]

    def _plan_asg_set_capacity(self, request: ActionRequest) -> Plan:
        name, p = request.target.name, dict(request.params or {})
        g = self._asg(name)
        current, lo, hi = g["DesiredCapacity"], g["MinSize"], g["MaxSize"]
        if p.get("desired") is not None:
            wanted = int(p["desired"])
        elif p.get("factor") is not None:
            wanted = math.ceil(current * float(p["factor"]))
        else:
            raise ExecutorError("asg_set_capacity needs factor or desired", step="plan")
        if wanted <= 0:
            raise ForbiddenAction(f"setting {name} to {wanted} instances is forbidden", reasons=["scale to zero"])
        step_cap = max(1, math.floor(current * self.max_scale_factor)) if current else 1
        target = max(lo, min(wanted, hi, step_cap), 1)
        notes = ()
        if p.get("exclude_zone"):
            notes = (f"note: exclude_zone={p['exclude_zone']} is not applied - set_desired_capacity is group-wide; "
                     "the group's AZ balancing places the new instances",)
        return Plan(request=request, steps=(f"set_desired_capacity {name} {current} -> {target} (HonorCooldown)",
                                            *notes),
                    blast_radius=f"1 ASG, {current} -> {target} instances (min {lo}, max {hi})",
                    facts={"current": current, "target": target, "requested": wanted, "min": lo, "max": hi})

    def _precheck_asg_set_capacity(self, plan: Plan) -> Check:
        name, f = plan.request.target.name, plan.facts
        g = self._asg(name)
        observed = {"desired": g["DesiredCapacity"], "target": f["target"]}
        if g["DesiredCapacity"] != f["current"]:
            return Check(ok=False, detail=f"desired changed since the plan ({f['current']} -> {g['DesiredCapacity']})",
                         observed=observed)
        if f["target"] == f["current"]:
            return Check(ok=False, detail=f"already at {f['current']} (limits {f['min']}..{f['max']})",
                         observed=observed)
        acts = self._call("autoscaling", "describe_scaling_activities", name, AutoScalingGroupName=name,
                          MaxRecords=10).get("Activities", [])
        busy = [a for a in acts if a.get("StatusCode") in ("InProgress", "PreInService", "WaitingForSpotInstanceId",
                                                           "WaitingForInstanceId", "PendingSpotBidPlacement")]
        if busy:
            return Check(ok=False, detail=f"{len(busy)} scaling activities in progress", observed=observed)
        return Check(ok=True, detail=f"desired {f['current']}, setting {f['target']}", observed=observed)

    def _execute_asg_set_capacity(self, plan: Plan, dry_run: bool) -> ActionResult:
        name, f = plan.request.target.name, plan.facts
        if not dry_run:
            self._call("autoscaling", "set_desired_capacity", name, AutoScalingGroupName=name,
                       DesiredCapacity=f["target"], HonorCooldown=True)
        note = f" (clamped from {f['requested']})" if f["requested"] != f["target"] else ""
        return self._result(plan, f"set {name} desired {f['current']} -> {f['target']}{note}", dry_run,
                            desired_before=f["current"], desired_after=f["target"])

    def _verify_asg_set_capacity(self, plan: Plan) -> Check:
        name, f = plan.request.target.name, plan.facts

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            g = self._asg(name)
            in_service = sum(1 for i in g.get("Instances", []) if i.get("LifecycleState") == "InService")
            ok = g["DesiredCapacity"] == f["target"] and in_service >= f["target"]
            return ok, f"desired {g['DesiredCapacity']}, {in_service} InService", {"desired": g["DesiredCapacity"],
                                                                                  "in_service": in_service}

        return self._wait(f"capacity of {name}", probe)

    # ------------------------------------------------------------------ SSM

    def _plan_ssm_run_command(self, request: ActionRequest) -> Plan:
        p = dict(request.params or {})
        cmds = ssm_commands(p)
        bad = [c for c in cmds if c not in SSM_CATALOGUE]
        if not cmds or bad:
            raise ForbiddenAction(f"SSM commands {bad or cmds!r} are not in the catalogue", reasons=["never free text"])
        cmd = "+".join(cmds)
        ids = list(p.get("instance_ids") or request.target.extra.get("instance_ids") or [])
        if not ids or len(ids) > 5:
            raise ForbiddenAction("SSM needs 1-5 affected instance ids", reasons=[f"got {len(ids)}"])
        service = str(p.get("service") or "")
        lines = [line.format(service=service) for c in cmds for line in SSM_CATALOGUE[c]]
        return Plan(request=request, steps=(f"ssm send_command AWS-RunShellScript {cmd} on {', '.join(ids)}",
                                            *lines), blast_radius=f"{len(ids)} instances",
                    facts={"command": cmd, "lines": lines, "instance_ids": ids, "command_id": None})

    def _precheck_ssm_run_command(self, plan: Plan) -> Check:
        ids = plan.facts["instance_ids"]
        res = self._call("ec2", "describe_instances", ",".join(ids), InstanceIds=ids)
        states = {i["InstanceId"]: i["State"]["Name"] for r in res["Reservations"] for i in r["Instances"]}
        not_running = sorted(i for i in ids if states.get(i) != "running")
        if not_running:
            return Check(ok=False, detail=f"instances not running: {', '.join(not_running)}", observed=states)
        return Check(ok=True, detail=f"{len(ids)} instances running", observed=states)

    def _execute_ssm_run_command(self, plan: Plan, dry_run: bool) -> ActionResult:
        f, r = plan.facts, plan.request
        if dry_run:
            return self._result(plan, f"send {f['command']} to {', '.join(f['instance_ids'])}", True,
                                lines=f["lines"])
        resp = self._call("ssm", "send_command", ",".join(f["instance_ids"]), InstanceIds=f["instance_ids"],
                          DocumentName="AWS-RunShellScript", Parameters={"commands": f["lines"]},
                          TimeoutSeconds=600, Comment=f"aisre {r.incident_id} {f['command']}"[:100])
        command_id = resp["Command"]["CommandId"]
        f["command_id"] = command_id          # verify reads it back from the plan
        return self._result(plan, f"sent {f['command']} to {len(f['instance_ids'])} instances", False,
                            command_id=command_id, instance_ids=f["instance_ids"])

    def _verify_ssm_run_command(self, plan: Plan) -> Check:
        f = plan.facts
        if not f.get("command_id"):
            return Check(ok=False, detail="no command was sent")

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            statuses = {}
            for iid in f["instance_ids"]:
                inv = self._call("ssm", "get_command_invocation", iid, CommandId=f["command_id"], InstanceId=iid)
                statuses[iid] = inv.get("Status", "")
            done = all(s in TERMINAL_SSM for s in statuses.values())
            ok = all(s == "Success" for s in statuses.values())
            if done and not ok:
                return True, "finished with failures", {"statuses": statuses, "failed": True}
            return ok, ", ".join(f"{k}={v}" for k, v in statuses.items()), {"statuses": statuses}

        check = self._wait(f"SSM {f['command']}", probe)
        if check.observed.get("failed"):
            return Check(ok=False, detail=check.detail, observed=check.observed)
        return check

    # ------------------------------------------------------------------ RDS

    def _cluster(self, name: str) -> dict[str, Any]:
        return self._call("rds", "describe_db_clusters", name, DBClusterIdentifier=name)["DBClusters"][0]

    @staticmethod
    def _writer(cluster: Mapping[str, Any]) -> str:
        return next((m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")),
                    "")

    def _plan_rds_failover(self, request: ActionRequest) -> Plan:
        name = request.target.name
        c = self._cluster(name)
        writer = self._writer(c)
        readers = [m["DBInstanceIdentifier"] for m in c.get("DBClusterMembers", []) if not m.get("IsClusterWriter")]
        wanted = (request.params or {}).get("target_instance")
        if wanted and wanted not in readers:
            raise ExecutorError(f"{wanted} is not a reader of cluster {name}", step="plan")
        return Plan(request=request, steps=(f"failover_db_cluster {name} {writer} -> {wanted or 'a reader'}",),
                    blast_radius="1 Aurora cluster; writes pause ~30 s",
                    facts={"writer": writer, "readers": readers, "target_instance": wanted})

    def _precheck_rds_failover(self, plan: Plan) -> Check:
        c = self._cluster(plan.request.target.name)
        observed = {"status": c.get("Status"), "writer": self._writer(c)}
        if not plan.facts["readers"]:
            return Check(ok=False, detail="no reader to fail over to", observed=observed)
        if c.get("Status") != "available":
            return Check(ok=False, detail=f"cluster is {c.get('Status')}", observed=observed)
        if observed["writer"] != plan.facts["writer"]:
            return Check(ok=False, detail="writer changed since the plan", observed=observed)
        return Check(ok=True, detail=f"writer {observed['writer']}, {len(plan.facts['readers'])} readers",
                     observed=observed)

    def _execute_rds_failover(self, plan: Plan, dry_run: bool) -> ActionResult:
        name, f = plan.request.target.name, plan.facts
        if not dry_run:
            kw = {"TargetDBInstanceIdentifier": f["target_instance"]} if f["target_instance"] else {}
            self._call("rds", "failover_db_cluster", name, DBClusterIdentifier=name, **kw)
        return self._result(plan, f"fail over {name} from {f['writer']}", dry_run, writer_before=f["writer"])

    def _verify_rds_failover(self, plan: Plan) -> Check:
        name = plan.request.target.name

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            c = self._cluster(name)
            writer = self._writer(c)
            ok = writer not in ("", plan.facts["writer"]) and c.get("Status") == "available"
            return ok, f"writer {writer}, status {c.get('Status')}", {"writer": writer}

        return self._wait(f"failover of {name}", probe)

    def _instance(self, name: str) -> dict[str, Any]:
        return self._call("rds", "describe_db_instances", name, DBInstanceIdentifier=name)["DBInstances"][0]

    def _plan_rds_reboot_failover(self, request: ActionRequest) -> Plan:
        name = request.target.name
        db = self._instance(name)
        return Plan(request=request, steps=(f"reboot_db_instance {name} ForceFailover=True",),
                    blast_radius="1 Multi-AZ instance; ~60 s unavailable",
                    facts={"multi_az": bool(db.get("MultiAZ")), "az": db.get("AvailabilityZone")})

    def _precheck_rds_reboot_failover(self, plan: Plan) -> Check:
        db = self._instance(plan.request.target.name)
        observed = {"status": db.get("DBInstanceStatus"), "multi_az": bool(db.get("MultiAZ"))}
        if not db.get("MultiAZ"):
            return Check(ok=False, detail="not Multi-AZ: a forced failover is impossible", observed=observed)
        if db.get("DBInstanceStatus") != "available":
            return Check(ok=False, detail=f"instance is {db.get('DBInstanceStatus')}", observed=observed)
        return Check(ok=True, detail="Multi-AZ and available", observed=observed)

    def _execute_rds_reboot_failover(self, plan: Plan, dry_run: bool) -> ActionResult:
        name = plan.request.target.name
        if not dry_run:
            self._call("rds", "reboot_db_instance", name, DBInstanceIdentifier=name, ForceFailover=True)
        return self._result(plan, f"reboot {name} with failover", dry_run, az_before=plan.facts["az"])

    def _verify_rds_reboot_failover(self, plan: Plan) -> Check:
        name = plan.request.target.name

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            db = self._instance(name)
            st = db.get("DBInstanceStatus")
            return st == "available", f"status {st}", {"status": st, "az": db.get("AvailabilityZone")}

        return self._wait(f"reboot of {name}", probe)

    # ------------------------------------------------------------------ ELBv2

    def _tg_arn(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        tgs = self._call("elbv2", "describe_target_groups", name, Names=[name])["TargetGroups"]
        return tgs[0]["TargetGroupArn"]

    def _health(self, arn: str) -> list[dict[str, Any]]:
        return self._call("elbv2", "describe_target_health", arn, TargetGroupArn=arn)["TargetHealthDescriptions"]

    def _zones(self, targets: list[Mapping[str, Any]]) -> dict[str, str]:
        """Availability zone of each target (its own field for IP targets, the instance's placement otherwise)."""
        out = {t["Id"]: t["AvailabilityZone"] for t in targets if t.get("AvailabilityZone") not in (None, "all")}
        ids = [t["Id"] for t in targets if t["Id"].startswith("i-") and t["Id"] not in out]
        if ids:
            res = self._call("ec2", "describe_instances", ",".join(ids), InstanceIds=ids)
            for r in res["Reservations"]:
                for i in r["Instances"]:
                    out[i["InstanceId"]] = i.get("Placement", {}).get("AvailabilityZone", "")
        return out

    def _plan_deregister_target(self, request: ActionRequest) -> Plan:
        arn = self._tg_arn(request.target.name)
        p = dict(request.params or {})
        health = self._health(arn)
        unhealthy = [h for h in health if is_bad_target(h)
                     and (not p.get("target_id") or h["Target"]["Id"] == p["target_id"])]
        if p.get("zone"):
            zones = self._zones([h["Target"] for h in unhealthy])
            unhealthy = [h for h in unhealthy if zones.get(h["Target"]["Id"]) == p["zone"]]
        pick = unhealthy[0]["Target"] if unhealthy else ({"Id": p["target_id"]} if p.get("target_id") else None)
        if pick is not None and p.get("port"):
            pick = {**pick, "Port": int(p["port"])}
        return Plan(request=request, steps=(f"deregister {pick['Id'] if pick else '(none)'} from {arn}",),
                    blast_radius="1 unhealthy target", facts={"arn": arn, "target": pick})

    def _precheck_deregister_target(self, plan: Plan) -> Check:
        f = plan.facts
        if f["target"] is None:
            return Check(ok=False, detail="no unhealthy target")
        health = self._health(f["arn"])
        states = {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in health}
        bad = {h["Target"]["Id"] for h in health if is_bad_target(h)}
        healthy_others = sum(1 for t, s in states.items() if s == "healthy" and t != f["target"]["Id"])
        if f["target"]["Id"] not in bad:
            return Check(ok=False, detail=f"{f['target']['Id']} is {states.get(f['target']['Id'], 'not registered')}",
                         observed=states)
        if healthy_others < 1:
            return Check(ok=False, detail="no other healthy target would remain", observed=states)
        return Check(ok=True, detail=f"{f['target']['Id']} unhealthy, {healthy_others} healthy others",
                     observed=states)

    def _execute_deregister_target(self, plan: Plan, dry_run: bool) -> ActionResult:
        f = plan.facts
        if not dry_run:
            self._call("elbv2", "deregister_targets", f["arn"], TargetGroupArn=f["arn"], Targets=[f["target"]])
        return self._result(plan, f"deregister {f['target']['Id']}", dry_run, target=f["target"]["Id"])

    def _verify_deregister_target(self, plan: Plan) -> Check:
        f = plan.facts

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            h = next((h for h in self._health(f["arn"]) if h["Target"]["Id"] == f["target"]["Id"]), None)
            state = "gone" if h is None else h["TargetHealth"]["State"]
            ok = h is None or state == "draining" or h["TargetHealth"].get("Reason") == "Target.NotRegistered"
            return ok, f"{f['target']['Id']} {state}", {"state": state}

        return self._wait("deregistration", probe)


__all__ = ["AwsExecutor", "from_config"]
