"""Kubernetes executor (official ``kubernetes`` client): restart, scale, rollback, one pod, one node, one job.

Every action is ``plan -> precheck -> execute -> verify``:

* ``restart_deployment`` - patch ``spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]``
  (what ``kubectl rollout restart`` does) on a Deployment. On a RollingUpdate StatefulSet the partition is
  raised to N with the patch, then lowered one ordinal at a time (highest first), each step only when the
  PodDisruptionBudgets covering the pods allow a disruption and after the previous pod is Ready again.
  OnDelete StatefulSets and ones already staged with a partition are refused at precheck (a human rolls them).
* ``scale_deployment`` - one step through the ``/scale`` subresource, capped at ``max_scale_factor`` x
  current and ``max_replicas``, never to 0.
* ``rollback_deployment`` - the deployment's ReplicaSets (owner uid + revision annotation), previous
  revision's pod template patched back onto the deployment.
* ``delete_pod`` - ONE pod in CrashLoopBackOff or with restarts >= threshold.
* ``cordon_node`` / ``drain_node`` - one node; drain evicts through the Eviction API (PodDisruptionBudgets
  decide; a 429 stops the drain, nothing is retried), DaemonSet and mirror pods stay.
* ``kill_batch_job`` - ``spec.suspend=true`` on one Job (its pods stop; nothing is deleted).

Prechecks re-read the object (exists, not already rolling, not already in the wanted state, the symptom
still present when ``symptom_check`` is given). Verify polls with the injected ``sleep`` until the rollout
is complete (observedGeneration >= generation, updated == available == replicas) or the deadline passes.
Dry runs go to the API server with ``dryRun=All`` (validated, persisted nowhere). Mutations are not retried.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import time
from typing import Any, Callable, Mapping

from aisre.errors import (ConfigError, ExecutorError, ForbiddenAction, PolicyDenied, SourceDown, Timeout,
                          http_error)
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check
from aisre.remediate.base import Plan, StepDispatch

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
PROTECTED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


def read_only_retries() -> Any:
    """urllib3 retry policy: connection failures (nothing sent) and reads of GET/HEAD only.

    urllib3's default retries DELETE/PUT on a read timeout; a mutation must never be repeated behind
    our back, so every client the executor uses gets this policy instead.
    """
    from urllib3.util.retry import Retry

    return Retry(total=2, connect=2, read=2, status=0, other=0, allowed_methods=frozenset({"GET", "HEAD"}),
                 backoff_factor=0.2, raise_on_status=False)


def _guard_retries(api_client: Any) -> None:
    cfg = getattr(api_client, "configuration", None)
    if cfg is not None and cfg.retries is None:
        cfg.retries = read_only_retries()
    pool = getattr(getattr(api_client, "rest_client", None), "pool_manager", None)
    if pool is not None and hasattr(pool, "connection_pool_kw"):
        pool.connection_pool_kw["retries"] = read_only_retries()
        pool.clear()


def build_kube_client(cfg: Mapping[str, Any] | None) -> Any:
    """An ``ApiClient`` from ``targets.kubernetes``: host+token, else kubeconfig (+context), else in-cluster."""
    from kubernetes import client, config as kconfig
    from kubernetes.config.config_exception import ConfigException

    cfg = dict(cfg or {})
    if cfg.get("host"):
        c = client.Configuration(host=cfg["host"])
        c.retries = read_only_retries()
        if cfg.get("token"):
            c.api_key = {"authorization": cfg["token"]}
            c.api_key_prefix = {"authorization": "Bearer"}
        c.verify_ssl = bool(cfg.get("verify_ssl", True))
        if cfg.get("ca_cert"):
            c.ssl_ca_cert = cfg["ca_cert"]
        return client.ApiClient(c)
    try:
        if cfg.get("kubeconfig"):
            return kconfig.new_client_from_config(config_file=cfg["kubeconfig"], context=cfg.get("context"))
        c = client.Configuration()
        kconfig.load_incluster_config(client_configuration=c)
        return client.ApiClient(c)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        raise ConfigError(f"cannot build a Kubernetes client: {exc}", path="targets.kubernetes") from None


def from_config(config: Any, store: Any = None) -> "KubernetesExecutor | None":
    kcfg = (getattr(config, "targets", None) or {}).get("kubernetes")
    if kcfg is None:
        return None
    safety = getattr(config, "safety", None)
    return KubernetesExecutor(build_kube_client(kcfg), tuple(kcfg.get("allowed_namespaces") or ()),
                              max_scale_factor=getattr(safety, "max_scale_factor", 2.0),
                              max_replicas=getattr(safety, "max_replicas", 50),
                              rollout_timeout_s=float(kcfg.get("rollout_timeout_s", 600)),
                              restart_threshold=int(kcfg.get("crashloop_restart_threshold", 5)))


def _now_iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rollout_state(obj: Any) -> tuple[bool, str]:
    """(complete, why) for a Deployment or StatefulSet model, the way ``kubectl rollout status`` judges it."""
    meta, spec, st = obj.metadata, obj.spec, obj.status
    want = spec.replicas if spec.replicas is not None else 1
    if st is None:
        return False, "no status yet"
    if (st.observed_generation or 0) < (meta.generation or 0):
        return False, f"observedGeneration {st.observed_generation} < generation {meta.generation}"
    updated, ready = st.updated_replicas or 0, st.ready_replicas or 0
    is_sts = type(obj).__name__ == "V1StatefulSet" or getattr(obj, "kind", None) == "StatefulSet"
    if not is_sts:
        available = st.available_replicas or 0
        if not (updated == available == want and (st.replicas or 0) == want):
            return False, f"updated {updated}, available {available}, replicas {st.replicas}, want {want}"
        return True, f"{want}/{want} updated and available"
    partition = 0
    strategy = getattr(spec, "update_strategy", None)
    if strategy is not None and strategy.rolling_update is not None:
        partition = strategy.rolling_update.partition or 0
    if updated < want - partition or ready < want:
        return False, f"updated {updated}, ready {ready}, want {want} (partition {partition})"
    if partition == 0 and st.update_revision and st.current_revision != st.update_revision:
        return False, f"currentRevision {st.current_revision} != updateRevision {st.update_revision}"
    return True, f"{ready}/{want} ready on the new revision"


def _crashlooping(pod: Any, threshold: int) -> tuple[bool, int, str]:
    restarts, reason = 0, ""
    for cs in (pod.status.container_statuses or []) if pod.status else []:
        restarts = max(restarts, cs.restart_count or 0)
        waiting = cs.state.waiting if cs.state is not None else None
        if waiting is not None and waiting.reason == "CrashLoopBackOff":
            reason = "CrashLoopBackOff"
    if not reason and restarts >= threshold:
        reason = f"{restarts} restarts"
    return bool(reason), restarts, reason


def _selector(match_labels: Mapping[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((match_labels or {}).items()))


class KubernetesExecutor(StepDispatch):
    """Executor for ``Target(kind="kubernetes", name=<workload>, namespace=<ns>)``."""

    kind = "kubernetes"
    actions = ("restart_deployment", "scale_deployment", "rollback_deployment", "delete_pod", "cordon_node",
               "drain_node", "kill_batch_job")

    def __init__(self, api_client: Any, allowed_namespaces: tuple[str, ...] | list[str] = (), *,
                 max_scale_factor: float = 2.0, max_replicas: int = 50, restart_threshold: int = 5,
                 rollout_timeout_s: float = 600.0, poll_interval_s: float = 5.0, request_timeout_s: float = 15.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 symptom_check: Callable[[ActionRequest], bool] | None = None) -> None:
        from kubernetes import client

        self.api_client = api_client
        _guard_retries(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.policy = client.PolicyV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.allowed_namespaces = tuple(allowed_namespaces)
        self.max_scale_factor = float(max_scale_factor)
        self.max_replicas = int(max_replicas)
        self.restart_threshold = int(restart_threshold)
        self.rollout_timeout_s = float(rollout_timeout_s)
        self.poll_interval_s = float(poll_interval_s)
        self.request_timeout_s = float(request_timeout_s)
        self.sleep = sleep
        self.clock = clock
        self.wall_clock = wall_clock
        self.symptom_check = symptom_check

    # ------------------------------------------------------------------ plumbing

    def _call(self, operation: str, target: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Call the client once with a timeout; map every failure into the aisre error tree."""
        from kubernetes.client.exceptions import ApiException
        import urllib3

        kw.setdefault("_request_timeout", self.request_timeout_s)
        try:
            return fn(*args, **kw)
        except ApiException as exc:
            body = (exc.body or "")[:300] if isinstance(exc.body, str) else ""
            raise http_error(exc.status or 0, f"kubernetes {operation} {target}: {exc.reason} {body}".strip(),
                             integration="kubernetes", operation=operation, target=target) from None
        except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            raise Timeout(f"kubernetes {operation} {target} timed out: {exc}", integration="kubernetes",
                          operation=operation, target=target) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SourceDown(f"kubernetes {operation} {target} unreachable: {exc}", integration="kubernetes",
                             operation=operation, target=target) from None
        except ValueError as exc:   # the client could not deserialise what came back
            raise SourceDown(f"kubernetes {operation} {target}: bad response: {exc}", integration="kubernetes",
                             operation=operation, target=target) from None

    def _ns(self, request: ActionRequest) -> str:
        ns = request.target.namespace or "default"
        if ns in PROTECTED_NAMESPACES and ns not in self.allowed_namespaces:
            raise PolicyDenied(f"namespace {ns} is protected", reasons=[f"{ns} is a system namespace"])
        if self.allowed_namespaces and ns not in self.allowed_namespaces:
            raise PolicyDenied(f"namespace {ns} is not in targets.kubernetes.allowed_namespaces",
                               reasons=[f"allowed: {', '.join(self.allowed_namespaces)}"])
        return ns

    def _workload_kind(self, request: ActionRequest) -> str:
        kind = (request.params or {}).get("kind") or request.target.extra.get("kind") or "Deployment"
        if kind not in ("Deployment", "StatefulSet"):
            raise ForbiddenAction(f"cannot restart a {kind}", reasons=["Deployment or StatefulSet only"])
        return kind

    def _read_workload(self, kind: str, name: str, ns: str) -> Any:
        if kind == "StatefulSet":
            return self._call("read", f"statefulset/{ns}/{name}", self.apps.read_namespaced_stateful_set, name, ns)
        return self._call("read", f"deployment/{ns}/{name}", self.apps.read_namespaced_deployment, name, ns)

    def _symptom_gone(self, request: ActionRequest) -> bool:
        return self.symptom_check is not None and not self.symptom_check(request)

    def _ok(self, plan: Plan, detail: str, dry_run: bool, **evidence: Any) -> ActionResult:
        r = plan.request
        return ActionResult(action=r.action, service=r.service,
                            status=ActionStatus.DRY_RUN if dry_run else ActionStatus.SUCCEEDED,
                            target=f"kubernetes/{r.target.namespace or 'default'}/{r.target.name}",
                            detail=("dry run (server-side dryRun=All): " if dry_run else "") + detail,
                            evidence=evidence)

    def _wait(self, what: str, probe: Callable[[], tuple[bool, str, Mapping[str, Any]]]) -> Check:
        """Poll ``probe`` every poll_interval_s until it is ok or rollout_timeout_s passes."""
        deadline = self.clock() + self.rollout_timeout_s
        polls = 0
        while True:
            ok, why, observed = probe()
            polls += 1
            if ok:
                return Check(ok=True, detail=f"{what}: {why}", observed={**observed, "polls": polls})
            if self.clock() >= deadline:
                return Check(ok=False, detail=f"{what} not done after {self.rollout_timeout_s:g}s: {why}",
                             observed={**observed, "polls": polls, "timed_out": True})
            self.sleep(self.poll_interval_s)

    # ------------------------------------------------------------------ protocol

    def plan(self, request: ActionRequest) -> Plan:
        if request.action not in self.actions:
            raise ExecutorError(f"kubernetes executor does not implement {request.action}", step="plan")
        p = request.params or {}
        if p.get("namespace") or p.get("name"):      # a runbook naming its workload (e.g. kube-system/coredns)
            target = dataclasses.replace(request.target, namespace=p.get("namespace") or request.target.namespace,
                                         name=p.get("name") or request.target.name)
            request = dataclasses.replace(request, target=target)
        return getattr(self, f"_plan_{request.action}")(request)


    # ------------------------------------------------------------------ restart

    def _plan_restart_deployment(self, request: ActionRequest) -> Plan:
        ns, name, kind = self._ns(request), request.target.name, self._workload_kind(request)
        obj = self._read_workload(kind, name, ns)
        replicas = obj.spec.replicas if obj.spec.replicas is not None else 1
        return Plan(request=request, steps=(f"patch {kind.lower()}/{ns}/{name} template annotation {RESTARTED_AT}",
                                            "wait for the rollout to complete"),
                    blast_radius=f"1 {kind}, {replicas} pods replaced one at a time",
                    facts={"kind": kind, "namespace": ns, "replicas": replicas,
                           "generation": obj.metadata.generation})

    def _precheck_restart_deployment(self, plan: Plan) -> Check:
        f = plan.facts
        obj = self._read_workload(f["kind"], plan.request.target.name, f["namespace"])
        observed = {"generation": obj.metadata.generation, "replicas": obj.spec.replicas}
        if f["kind"] == "Deployment" and obj.spec.paused:
            return Check(ok=False, detail="deployment is paused", observed=observed)
        if f["kind"] == "StatefulSet":
            strategy = obj.spec.update_strategy.type if obj.spec.update_strategy else "RollingUpdate"
            if strategy == "OnDelete":
                return Check(ok=False, detail="StatefulSet uses OnDelete: a human rolls it", observed=observed)
            ru = obj.spec.update_strategy.rolling_update if obj.spec.update_strategy else None
            if ru is not None and (ru.partition or 0) > 0:
                return Check(ok=False, detail=f"StatefulSet partition is {ru.partition} (a staged rollout): a human "
                                              "decides", observed=observed)
            blocked = self._pdb_blocking(f["namespace"], obj.spec.template.metadata.labels or {})
            if blocked:
                return Check(ok=False, detail=f"PodDisruptionBudget {blocked} allows no disruption now",
                             observed=observed)
        complete, why = rollout_state(obj)
        if not complete:
            return Check(ok=False, detail=f"a rollout is already in progress ({why})", observed=observed)
        if self._symptom_gone(plan.request):
            return Check(ok=False, detail="symptom no longer present", observed=observed)
        return Check(ok=True, detail="workload exists and is stable", observed=observed)

    def _pdb_blocking(self, ns: str, labels: Mapping[str, str]) -> str:
        """Name of a PodDisruptionBudget covering ``labels`` that allows no disruption now ('' if none)."""
        pdbs = self._call("list", f"poddisruptionbudgets/{ns}", self.policy.list_namespaced_pod_disruption_budget,
                          ns).items
        for pdb in pdbs:
            match = (pdb.spec.selector.match_labels if pdb.spec and pdb.spec.selector else None) or {}
            if match and all(labels.get(k) == v for k, v in match.items()):
                if pdb.status is None or (pdb.status.disruptions_allowed or 0) < 1:
                    return pdb.metadata.name
        return ""

    def _patch_sts(self, ns: str, name: str, body: Mapping[str, Any], **kw: Any) -> Any:
        return self._call("patch", f"statefulset/{ns}/{name}", self.apps.patch_namespaced_stateful_set, name, ns,
                          body, _content_type=SMP, **kw)

    def _restart_statefulset(self, plan: Plan, stamp: str, dry_run: bool) -> ActionResult:
        """RollingUpdate StatefulSet, one pod at a time by lowering the partition from N to 0; before each step
        the PodDisruptionBudgets covering the pods must allow a disruption. Stops (partition left where it is,
        never retried) when a PDB refuses or a step does not become ready in time."""
        f, name, ns = plan.facts, plan.request.target.name, plan.facts["namespace"]
        n = int(f["replicas"])
        template = {"metadata": {"annotations": {RESTARTED_AT: stamp}}}
        if dry_run:
            obj = self._patch_sts(ns, name, {"spec": {"template": template}}, dry_run="All")
            return self._ok(plan, f"StatefulSet {ns}/{name} restartedAt={stamp}, {n} pods one at a time", True,
                            restarted_at=stamp, generation=obj.metadata.generation)
        self._patch_sts(ns, name, {"spec": {"template": template, "updateStrategy": {
            "type": "RollingUpdate", "rollingUpdate": {"partition": n}}}})
        done: list[int] = []
        for ordinal in reversed(range(n)):
            sts = self._read_workload("StatefulSet", name, ns)
            blocked = self._pdb_blocking(ns, sts.spec.template.metadata.labels or {})
            if blocked:
                return self._stopped(plan, f"PodDisruptionBudget {blocked} allows no disruption before pod "
                                           f"{name}-{ordinal}", ordinal + 1, done, stamp)
            self._patch_sts(ns, name, {"spec": {"updateStrategy": {"rollingUpdate": {"partition": ordinal}}}})

            def probe(o: int = ordinal) -> tuple[bool, str, Mapping[str, Any]]:
                cur = self._read_workload("StatefulSet", name, ns)
                ok, why = rollout_state(cur)
                return ok and (cur.status.updated_replicas or 0) >= n - o, why, {"partition": o}

            step = self._wait(f"pod {name}-{ordinal}", probe)
            if not step.ok:
                return self._stopped(plan, step.detail, ordinal, done, stamp)
            done.append(ordinal)
        return self._ok(plan, f"StatefulSet {ns}/{name} restartedAt={stamp}: {n} pods replaced one at a time", False,
                        restarted_at=stamp, ordinals=done)

    def _stopped(self, plan: Plan, why: str, partition: int, done: list[int], stamp: str) -> ActionResult:
        r = plan.request
        return ActionResult(action=r.action, service=r.service, status=ActionStatus.FAILED,
                            target=f"kubernetes/{plan.facts['namespace']}/{r.target.name}",
                            detail=f"StatefulSet restart stopped: {why}; partition left at {partition} "
                                   f"({len(done)} pods restarted) for a human to finish",
                            error=why, evidence={"restarted_at": stamp, "ordinals": done, "partition": partition})

    def _execute_restart_deployment(self, plan: Plan, dry_run: bool) -> ActionResult:
        f, name = plan.facts, plan.request.target.name
        stamp = _now_iso(self.wall_clock())
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        kw = {"dry_run": "All"} if dry_run else {}
        if f["kind"] == "StatefulSet":
            return self._restart_statefulset(plan, stamp, dry_run)
        else:
            obj = self._call("patch", f"deployment/{f['namespace']}/{name}", self.apps.patch_namespaced_deployment,
                             name, f["namespace"], body, _content_type=SMP, **kw)
        return self._ok(plan, f"{f['kind']} {f['namespace']}/{name} restartedAt={stamp}", dry_run,
                        restarted_at=stamp, generation=obj.metadata.generation)

    def _verify_rollout(self, plan: Plan) -> Check:
        f, name = plan.facts, plan.request.target.name
        kind = f.get("kind", "Deployment")

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            obj = self._read_workload(kind, name, f["namespace"])
            ok, why = rollout_state(obj)
            st = obj.status
            return ok, why, {"generation": obj.metadata.generation,
                             "observed_generation": st.observed_generation if st else None,
                             "replicas": obj.spec.replicas, "ready": st.ready_replicas if st else None}

        return self._wait(f"rollout of {kind.lower()}/{f['namespace']}/{name}", probe)

    _verify_restart_deployment = _verify_rollout

    # ------------------------------------------------------------------ scale

    def _plan_scale_deployment(self, request: ActionRequest) -> Plan:
        ns, name, p = self._ns(request), request.target.name, dict(request.params or {})
        scale = self._call("read", f"deployment/{ns}/{name}/scale", self.apps.read_namespaced_deployment_scale,
                           name, ns)
        current = scale.spec.replicas or 0
        if p.get("replicas") is not None:
            wanted = int(p["replicas"])
        elif p.get("factor") is not None:
            wanted = math.ceil(current * float(p["factor"]))
        else:
            raise ExecutorError("scale_deployment needs factor or replicas", step="plan")
        if wanted <= 0:
            raise ForbiddenAction(f"scale {ns}/{name} to {wanted} is forbidden", reasons=["scale to zero"])
        capped = min(wanted, self.max_replicas, max(1, math.floor(current * self.max_scale_factor)))
        return Plan(request=request, steps=(f"patch deployment/{ns}/{name}/scale replicas {current} -> {capped}",),
                    blast_radius=f"1 deployment, {current} -> {capped} pods",
                    facts={"kind": "Deployment", "namespace": ns, "current": current, "target": capped,
                           "requested": wanted, "capped": capped != wanted})

    def _precheck_scale_deployment(self, plan: Plan) -> Check:
        f, name = plan.facts, plan.request.target.name
        scale = self._call("read", f"deployment/{f['namespace']}/{name}/scale",
                           self.apps.read_namespaced_deployment_scale, name, f["namespace"])
        now = scale.spec.replicas or 0
        observed = {"replicas": now, "target": f["target"]}
        if now == 0:
            return Check(ok=False, detail="deployment is at 0 replicas on purpose: a human decides", observed=observed)
        if now != f["current"]:
            return Check(ok=False, detail=f"replicas changed since the plan ({f['current']} -> {now})",
                         observed=observed)
        if now == f["target"]:
            return Check(ok=False, detail=f"already at {now} replicas", observed=observed)
        if self._symptom_gone(plan.request):
            return Check(ok=False, detail="symptom no longer present", observed=observed)
        return Check(ok=True, detail=f"{now} replicas, scaling to {f['target']}", observed=observed)

    def _execute_scale_deployment(self, plan: Plan, dry_run: bool) -> ActionResult:
        f, name = plan.facts, plan.request.target.name
        kw = {"dry_run": "All"} if dry_run else {}
        self._call("patch", f"deployment/{f['namespace']}/{name}/scale", self.apps.patch_namespaced_deployment_scale,
                   name, f["namespace"], {"spec": {"replicas": f["target"]}}, _content_type=MERGE, **kw)
        note = f" (capped from {f['requested']})" if f["capped"] else ""
        return self._ok(plan, f"scaled {f['namespace']}/{name} {f['current']} -> {f['target']}{note}", dry_run,
                        replicas_before=f["current"], replicas_after=f["target"])

    _verify_scale_deployment = _verify_rollout

    # ------------------------------------------------------------------ rollback

    def _revisions(self, dep: Any, ns: str) -> list[tuple[int, Any]]:
        rs_list = self._call("list", f"replicasets/{ns}", self.apps.list_namespaced_replica_set, ns,
                             label_selector=_selector(dep.spec.selector.match_labels))
        out = []
        for rs in rs_list.items:
            owners = rs.metadata.owner_references or []
            if not any(o.uid == dep.metadata.uid and o.kind == "Deployment" for o in owners):
                continue
            try:
                out.append((int((rs.metadata.annotations or {}).get(REVISION, "")), rs))
            except ValueError:
                continue
        return sorted(out, key=lambda x: x[0])

    def _plan_rollback_deployment(self, request: ActionRequest) -> Plan:
        ns, name = self._ns(request), request.target.name
        dep = self._read_workload("Deployment", name, ns)
        revs = self._revisions(dep, ns)
        try:
            current = int((dep.metadata.annotations or {}).get(REVISION, "0"))
        except ValueError:
            current = revs[-1][0] if revs else 0
        wanted = (request.params or {}).get("revision")
        older = [(n, rs) for n, rs in revs if (n == wanted if wanted else n < current)]
        if not older:
            raise ExecutorError(f"no previous revision of deployment {ns}/{name} (current {current})", step="plan")
        rev, rs = older[-1]
        template = self.api_client.sanitize_for_serialization(rs.spec.template)
        labels = template.get("metadata", {}).get("labels") or {}
        labels.pop("pod-template-hash", None)
        images = [c.image for c in rs.spec.template.spec.containers]
        return Plan(request=request, steps=(f"patch deployment/{ns}/{name} template <- replicaset "
                                            f"{rs.metadata.name} (revision {rev})", "wait for the rollout"),
                    blast_radius="1 deployment, rolling",
                    facts={"kind": "Deployment", "namespace": ns, "from_revision": current, "to_revision": rev,
                           "replicaset": rs.metadata.name, "template": template, "images": images})

    def _precheck_rollback_deployment(self, plan: Plan) -> Check:
        f = plan.facts
        dep = self._read_workload("Deployment", plan.request.target.name, f["namespace"])
        current = (dep.metadata.annotations or {}).get(REVISION, "0")
        observed = {"revision": current, "to_revision": f["to_revision"]}
        if str(current) != str(f["from_revision"]):
            return Check(ok=False, detail=f"revision changed since the plan ({f['from_revision']} -> {current})",
                         observed=observed)
        if self._symptom_gone(plan.request):
            return Check(ok=False, detail="symptom no longer present", observed=observed)
        return Check(ok=True, detail=f"at revision {current}, rolling back to {f['to_revision']}", observed=observed)

    def _execute_rollback_deployment(self, plan: Plan, dry_run: bool) -> ActionResult:
        f, name = plan.facts, plan.request.target.name
        kw = {"dry_run": "All"} if dry_run else {}
        self._call("patch", f"deployment/{f['namespace']}/{name}", self.apps.patch_namespaced_deployment, name,
                   f["namespace"], {"spec": {"template": f["template"]}}, _content_type=SMP, **kw)
        return self._ok(plan, f"rolled {f['namespace']}/{name} back to revision {f['to_revision']} "
                              f"({', '.join(f['images'])})", dry_run,
                        from_revision=f["from_revision"], to_revision=f["to_revision"], images=f["images"])

    _verify_rollback_deployment = _verify_rollout

    # ------------------------------------------------------------------ one pod

    def _plan_delete_pod(self, request: ActionRequest) -> Plan:
        ns, name, p = self._ns(request), request.target.name, dict(request.params or {})
        threshold = int(p.get("restart_threshold") or self.restart_threshold)
        if p.get("pod"):
            pods = [self._call("read", f"pod/{ns}/{p['pod']}", self.core.read_namespaced_pod, p["pod"], ns)]
        else:
            dep = self._read_workload("Deployment", name, ns)
            pods = self._call("list", f"pods/{ns}", self.core.list_namespaced_pod, ns,
                              label_selector=_selector(dep.spec.selector.match_labels)).items
        ranked = sorted(((r, pod, why) for pod in pods for bad, r, why in [_crashlooping(pod, threshold)] if bad),
                        key=lambda x: -x[0])
        if not ranked:
            return Plan(request=request, steps=(), blast_radius="nothing: no crash-looping pod",
                        facts={"namespace": ns, "pod": None, "threshold": threshold})
        restarts, pod, why = ranked[0]
        return Plan(request=request, steps=(f"delete pod/{ns}/{pod.metadata.name} ({why})",),
                    blast_radius="1 pod (its controller recreates it)",
                    facts={"namespace": ns, "pod": pod.metadata.name, "uid": pod.metadata.uid, "why": why,
                           "threshold": threshold, "restarts": restarts})

    def _precheck_delete_pod(self, plan: Plan) -> Check:
        f = plan.facts
        if not f.get("pod"):
            return Check(ok=False, detail=f"no pod in CrashLoopBackOff or with >= {f['threshold']} restarts")
        pod = self._call("read", f"pod/{f['namespace']}/{f['pod']}", self.core.read_namespaced_pod, f["pod"],
                         f["namespace"])
        bad, restarts, why = _crashlooping(pod, f["threshold"])
        observed = {"pod": f["pod"], "restarts": restarts, "reason": why}
        if pod.metadata.uid != f["uid"] or not bad:
            return Check(ok=False, detail=f"pod {f['pod']} is no longer crash-looping", observed=observed)
        return Check(ok=True, detail=f"pod {f['pod']}: {why}", observed=observed)

    def _execute_delete_pod(self, plan: Plan, dry_run: bool) -> ActionResult:
        f = plan.facts
        kw = {"dry_run": "All"} if dry_run else {}
        self._call("delete", f"pod/{f['namespace']}/{f['pod']}", self.core.delete_namespaced_pod, f["pod"],
                   f["namespace"], **kw)
        return self._ok(plan, f"deleted crash-looping pod {f['namespace']}/{f['pod']} ({f['why']})", dry_run,
                        pod=f["pod"], restarts=f["restarts"])

    def _verify_delete_pod(self, plan: Plan) -> Check:
        from aisre.errors import NotFound

        f = plan.facts

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            try:
                pod = self._call("read", f"pod/{f['namespace']}/{f['pod']}", self.core.read_namespaced_pod,
                                 f["pod"], f["namespace"])
            except NotFound:
                return True, "pod gone", {"pod": f["pod"]}
            if pod.metadata.uid != f["uid"]:
                return True, "pod replaced", {"pod": f["pod"], "uid": pod.metadata.uid}
            return False, "pod still present", {"pod": f["pod"]}

        return self._wait(f"deletion of pod {f['pod']}", probe)

    # ------------------------------------------------------------------ nodes

    def _node_name(self, request: ActionRequest) -> str:
        node = (request.params or {}).get("node") or request.target.extra.get("node") or ""
        if not node or any(ch in node for ch in "*?,="):
            raise ForbiddenAction("cordon/drain needs exactly one node", reasons=["drain all is forbidden"])
        return node

    def _other_schedulable(self, node: str) -> int:
        nodes = self._call("list", "nodes", self.core.list_node).items
        return sum(1 for n in nodes if n.metadata.name != node and not n.spec.unschedulable)

    def _plan_cordon_node(self, request: ActionRequest) -> Plan:
        node = self._node_name(request)
        self._call("read", f"node/{node}", self.core.read_node, node)
        return Plan(request=request, steps=(f"patch node/{node} spec.unschedulable=true",),
                    blast_radius="1 node; running pods untouched", facts={"node": node})

    def _precheck_node(self, plan: Plan) -> Check:
        node = plan.facts["node"]
        n = self._call("read", f"node/{node}", self.core.read_node, node)
        others = self._other_schedulable(node)
        observed = {"node": node, "unschedulable": bool(n.spec.unschedulable), "other_schedulable": others}
        if others < 1:
            return Check(ok=False, detail=f"{node} is the last schedulable node", observed=observed)
        if plan.request.action == "cordon_node" and n.spec.unschedulable:
            return Check(ok=False, detail=f"{node} is already cordoned", observed=observed)
        return Check(ok=True, detail=f"{node} exists; {others} other schedulable nodes", observed=observed)

    _precheck_cordon_node = _precheck_node

    def _cordon(self, node: str, dry_run: bool) -> None:
        kw = {"dry_run": "All"} if dry_run else {}
        self._call("patch", f"node/{node}", self.core.patch_node, node, {"spec": {"unschedulable": True}},
                   _content_type=SMP, **kw)

    def _execute_cordon_node(self, plan: Plan, dry_run: bool) -> ActionResult:
        self._cordon(plan.facts["node"], dry_run)
        return self._ok(plan, f"cordoned node {plan.facts['node']}", dry_run, node=plan.facts["node"])

    def _verify_cordon_node(self, plan: Plan) -> Check:
        node = plan.facts["node"]
        n = self._call("read", f"node/{node}", self.core.read_node, node)
        return Check(ok=bool(n.spec.unschedulable), detail=f"{node} unschedulable={bool(n.spec.unschedulable)}",
                     observed={"node": node})

    def _evictable(self, node: str) -> list[Any]:
        pods = self._call("list", f"pods on {node}", self.core.list_pod_for_all_namespaces,
                          field_selector=f"spec.nodeName={node}").items
        out = []
        for pod in pods:
            owners = pod.metadata.owner_references or []
            if any(o.kind == "DaemonSet" for o in owners):
                continue
            if "kubernetes.io/config.mirror" in (pod.metadata.annotations or {}):
                continue
            if pod.status is not None and pod.status.phase in ("Succeeded", "Failed"):
                continue
            out.append(pod)
        return out

    def _plan_drain_node(self, request: ActionRequest) -> Plan:
        node = self._node_name(request)
        self._call("read", f"node/{node}", self.core.read_node, node)
        pods = self._evictable(node)
        limit = int((request.params or {}).get("max_pods") or 50)
        names = [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods]
        return Plan(request=request, steps=(f"cordon node/{node}", *[f"evict pod/{n}" for n in names[:limit]]),
                    blast_radius=f"1 node, {min(len(names), limit)} pods evicted (PDBs honoured)",
                    facts={"node": node, "pods": names[:limit], "skipped": names[limit:]})

    def _precheck_drain_node(self, plan: Plan) -> Check:
        check = self._precheck_node(plan)
        if not check.ok:
            return check
        if plan.facts["skipped"]:
            return Check(ok=False, detail=f"{len(plan.facts['pods']) + len(plan.facts['skipped'])} pods exceed "
                                          f"max_pods {len(plan.facts['pods'])}", observed=check.observed)
        return check

    def _execute_drain_node(self, plan: Plan, dry_run: bool) -> ActionResult:
        from kubernetes import client
        from aisre.errors import RateLimited

        node, evicted = plan.facts["node"], []
        self._cordon(node, dry_run)
        kw = {"dry_run": "All"} if dry_run else {}
        for ref in plan.facts["pods"]:
            ns, name = ref.split("/", 1)
            grace = (plan.request.params or {}).get("grace_period_s")
            options = None
            if dry_run or grace is not None:
                options = client.V1DeleteOptions(dry_run=["All"] if dry_run else None,
                                                 grace_period_seconds=int(grace) if grace is not None else None)
            body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=ns), delete_options=options)
            try:
                self._call("evict", f"pod/{ref}", self.core.create_namespaced_pod_eviction, name, ns, body, **kw)
            except RateLimited as exc:
                r = plan.request
                return ActionResult(action=r.action, service=r.service, status=ActionStatus.FAILED,
                                    target=f"kubernetes/node/{node}",
                                    detail=f"drain stopped: a PodDisruptionBudget refused evicting {ref} "
                                           f"after {len(evicted)} evictions (node stays cordoned)",
                                    error=str(exc), evidence={"evicted": evicted, "blocked": ref})
            evicted.append(ref)
        return self._ok(plan, f"drained node {node}: {len(evicted)} pods evicted", dry_run, node=node,
                        evicted=evicted)

    def _verify_drain_node(self, plan: Plan) -> Check:
        node = plan.facts["node"]

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            left = [f"{p.metadata.namespace}/{p.metadata.name}" for p in self._evictable(node)]
            return not left, f"{len(left)} pods left", {"left": left}

        return self._wait(f"drain of {node}", probe)

    # ------------------------------------------------------------------ jobs

    def _job_name(self, request: ActionRequest) -> str:
        return (request.params or {}).get("job") or request.target.name

    def _plan_kill_batch_job(self, request: ActionRequest) -> Plan:
        ns, job = self._ns(request), self._job_name(request)
        self._call("read", f"job/{ns}/{job}", self.batch.read_namespaced_job, job, ns)
        return Plan(request=request, steps=(f"patch job/{ns}/{job} spec.suspend=true",),
                    blast_radius="1 job's running pods stop; the Job object stays", facts={"namespace": ns, "job": job})

    def _precheck_kill_batch_job(self, plan: Plan) -> Check:
        f = plan.facts
        job = self._call("read", f"job/{f['namespace']}/{f['job']}", self.batch.read_namespaced_job, f["job"],
                         f["namespace"])
        active = (job.status.active or 0) if job.status else 0
        observed = {"active": active, "suspend": bool(job.spec.suspend)}
        if job.spec.suspend:
            return Check(ok=False, detail="job already suspended", observed=observed)
        if active == 0:
            return Check(ok=False, detail="job has no running pods", observed=observed)
        return Check(ok=True, detail=f"job running with {active} pods", observed=observed)

    def _execute_kill_batch_job(self, plan: Plan, dry_run: bool) -> ActionResult:
        f = plan.facts
        kw = {"dry_run": "All"} if dry_run else {}
        self._call("patch", f"job/{f['namespace']}/{f['job']}", self.batch.patch_namespaced_job, f["job"],
                   f["namespace"], {"spec": {"suspend": True}}, _content_type=SMP, **kw)
        return self._ok(plan, f"suspended job {f['namespace']}/{f['job']}", dry_run, job=f["job"])

    def _verify_kill_batch_job(self, plan: Plan) -> Check:
        f = plan.facts

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            job = self._call("read", f"job/{f['namespace']}/{f['job']}", self.batch.read_namespaced_job, f["job"],
                             f["namespace"])
            active = (job.status.active or 0) if job.status else 0
            return bool(job.spec.suspend) and active == 0, f"suspend={job.spec.suspend}, active={active}", \
                {"active": active}

        return self._wait(f"suspension of job {f['job']}", probe)


__all__ = ["KubernetesExecutor", "build_kube_client", "from_config", "rollout_state"]
