"""CI/CD executors over REST (requests): Argo CD rollback and Argo Rollouts abort, Jenkins rollback job.

Argo CD (``Target(kind="argocd", name=<application>)``), bearer token:

* ``argocd_rollback`` - ``POST /api/v1/applications/{name}/rollback`` with the ``id`` of the previous
  ``status.history`` entry (or ``params.id``); Argo CD's own ``dryRun`` flag serves dry runs. Argo CD refuses
  a rollback while automated sync is on, so precheck reports that instead of trying. Verify: synced to the
  entry's revision and Healthy.
* ``argocd_abort_rollout`` - the Rollout's ``abort`` resource action,
  ``POST /api/v1/applications/{name}/resource/actions?namespace=&resourceName=&version=v1alpha1&kind=Rollout&group=argoproj.io``
  with body ``"abort"``. Verify: the live Rollout has ``status.abort: true``.

Jenkins (``Target(kind="jenkins", name=<service>)``), user + API token: ``jenkins_rollback`` fetches a crumb
(``/crumbIssuer/api/json``, same session) and ``POST /job/<job>/buildWithParameters`` with SERVICE, VERSION and
INCIDENT; verify follows the queue item to the build and waits for ``result: SUCCESS``.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Mapping
from urllib.parse import quote

from aisre.errors import ExecutorError, PolicyDenied, SourceDown
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check
from aisre.remediate._http import call
from aisre.remediate.base import Plan


def argocd_from_config(config: Any, store: Any = None) -> "ArgoCDExecutor | None":
    c = (getattr(config, "targets", None) or {}).get("argocd")
    if not c or not c.get("url"):
        return None
    return ArgoCDExecutor(c["url"], c.get("token", ""), verify_ssl=c.get("verify_ssl", True))


def jenkins_from_config(config: Any, store: Any = None) -> "JenkinsExecutor | None":
    c = (getattr(config, "targets", None) or {}).get("jenkins")
    if not c or not c.get("url"):
        return None
    return JenkinsExecutor(c["url"], c.get("user", ""), c.get("api_token", ""),
                           rollback_job=c.get("rollback_job", "rollback"), allowed_jobs=tuple(c.get("allowed_jobs") or ()))


class _Polling:
    def __init__(self, *, timeout_s: float, verify_timeout_s: float, poll_interval_s: float,
                 sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self.timeout_s = float(timeout_s)
        self.verify_timeout_s = float(verify_timeout_s)
        self.poll_interval_s = float(poll_interval_s)
        self.sleep = sleep
        self.clock = clock

    def _wait(self, what: str, probe: Callable[[], tuple[bool, str, Mapping[str, Any]]]) -> Check:
        deadline = self.clock() + self.verify_timeout_s
        while True:
            ok, why, observed = probe()
            if ok:
                return Check(ok=True, detail=f"{what}: {why}", observed=observed)
            if observed.get("final"):
                return Check(ok=False, detail=f"{what}: {why}", observed=observed)
            if self.clock() >= deadline:
                return Check(ok=False, detail=f"{what} not done after {self.verify_timeout_s:g}s: {why}",
                             observed={**observed, "timed_out": True})
            self.sleep(self.poll_interval_s)

    @staticmethod
    def _result(plan: Plan, kind: str, detail: str, dry_run: bool, **evidence: Any) -> ActionResult:
        r = plan.request
        return ActionResult(action=r.action, service=r.service,
                            status=ActionStatus.DRY_RUN if dry_run else ActionStatus.SUCCEEDED,
                            target=f"{kind}/{r.target.name}", detail=("dry run: " if dry_run else "") + detail,
                            evidence=evidence)


class ArgoCDExecutor(_Polling):
    kind = "argocd"
    actions = ("argocd_rollback", "argocd_abort_rollout")

    def __init__(self, url: str, token: str, *, verify_ssl: bool = True, session: Any = None,
                 timeout_s: float = 15.0, verify_timeout_s: float = 600.0, poll_interval_s: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        import requests

        super().__init__(timeout_s=timeout_s, verify_timeout_s=verify_timeout_s, poll_interval_s=poll_interval_s,
                         sleep=sleep, clock=clock)
        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.verify = verify_ssl

    def _api(self, method: str, path: str, operation: str, target: str, **kw: Any) -> Any:
        return call(self.session, method, f"{self.url}{path}", integration="argocd", operation=operation,
                    target=target, timeout_s=self.timeout_s, **kw)

    def _app(self, name: str) -> dict[str, Any]:
        return self._api("GET", f"/api/v1/applications/{quote(name, safe='')}", "get application", name)

    def plan(self, request: ActionRequest) -> Plan:
        if request.action == "argocd_rollback":
            return self._plan_rollback(request)
        if request.action == "argocd_abort_rollout":
            return self._plan_abort(request)
        raise ExecutorError(f"argocd executor does not implement {request.action}", step="plan")

    def precheck(self, plan: Plan) -> Check:
        return self._precheck_rollback(plan) if plan.request.action == "argocd_rollback" else self._precheck_abort(plan)

    def execute(self, plan: Plan, *, dry_run: bool = False) -> ActionResult:
        return (self._execute_rollback(plan, dry_run) if plan.request.action == "argocd_rollback"
                else self._execute_abort(plan, dry_run))

    def verify(self, plan: Plan) -> Check:
        return self._verify_rollback(plan) if plan.request.action == "argocd_rollback" else self._verify_abort(plan)

    # ------------------------------------------------------------------ rollback

    def _plan_rollback(self, request: ActionRequest) -> Plan:
        name = request.target.name
        app = self._app(name)
        history = sorted((app.get("status") or {}).get("history") or [], key=lambda h: h.get("id", 0))
        if len(history) < 2:
            raise ExecutorError(f"application {name} has no previous deployment in its history", step="plan")
        current = history[-1]
        wanted = (request.params or {}).get("id")
        entry = (next((h for h in history if h.get("id") == wanted), None) if wanted is not None else history[-2])
        if entry is None or entry.get("id") == current.get("id"):
            raise ExecutorError(f"history id {wanted} is not a previous deployment of {name}", step="plan")
        return Plan(request=request, steps=(f"POST /api/v1/applications/{name}/rollback id={entry['id']} "
                                            f"({current.get('revision', '')[:12]} -> {entry.get('revision', '')[:12]})",),
                    blast_radius="1 application, synced to a previous revision",
                    facts={"id": entry["id"], "revision": entry.get("revision", ""),
                           "from_revision": current.get("revision", "")})

    def _precheck_rollback(self, plan: Plan) -> Check:
        app = self._app(plan.request.target.name)
        spec, status = app.get("spec") or {}, app.get("status") or {}
        observed = {"sync": (status.get("sync") or {}).get("revision", ""),
                    "health": (status.get("health") or {}).get("status", "")}
        if (spec.get("syncPolicy") or {}).get("automated"):
            return Check(ok=False, detail="automated sync is on: Argo CD refuses rollbacks (a human disables it "
                                          "or reverts in git)", observed=observed)
        if ((status.get("operationState") or {}).get("phase")) == "Running":
            return Check(ok=False, detail="an operation is already running", observed=observed)
        if observed["sync"] and observed["sync"] == plan.facts["revision"]:
            return Check(ok=False, detail="already at the target revision", observed=observed)
        return Check(ok=True, detail=f"at {observed['sync'][:12]}, health {observed['health']}", observed=observed)

    def _execute_rollback(self, plan: Plan, dry_run: bool) -> ActionResult:
        name = plan.request.target.name
        self._api("POST", f"/api/v1/applications/{quote(name, safe='')}/rollback", "rollback", name,
                  json={"name": name, "id": plan.facts["id"], "prune": False, "dryRun": bool(dry_run)})
        return self._result(plan, "argocd", f"rolled {name} back to history id {plan.facts['id']} "
                                            f"({plan.facts['revision'][:12]})", dry_run,
                            id=plan.facts["id"], revision=plan.facts["revision"])

    def _verify_rollback(self, plan: Plan) -> Check:
        name = plan.request.target.name

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            status = self._app(name).get("status") or {}
            rev = (status.get("sync") or {}).get("revision", "")
            health = (status.get("health") or {}).get("status", "")
            phase = (status.get("operationState") or {}).get("phase", "")
            observed = {"revision": rev, "health": health, "phase": phase}
            if phase in ("Failed", "Error"):
                return False, f"operation {phase}", {**observed, "final": True}
            return rev == plan.facts["revision"] and health == "Healthy", f"{rev[:12]} {health} {phase}", observed

        return self._wait(f"rollback of {name}", probe)

    # ------------------------------------------------------------------ abort rollout

    def _resource_query(self, plan_or_request: Any) -> dict[str, str]:
        r = plan_or_request.request if isinstance(plan_or_request, Plan) else plan_or_request
        rollout = (r.params or {}).get("rollout") or r.target.extra.get("rollout") or r.service
        return {"namespace": r.target.namespace or "default", "resourceName": rollout, "version": "v1alpha1",
                "kind": "Rollout", "group": "argoproj.io"}

    def _rollout(self, name: str, query: Mapping[str, str]) -> dict[str, Any]:
        res = self._api("GET", f"/api/v1/applications/{quote(name, safe='')}/resource", "get rollout", name,
                        params=dict(query))
        try:
            return json.loads(res.get("manifest") or "{}")
        except ValueError:
            raise SourceDown("argocd returned an unreadable Rollout manifest", integration="argocd",
                             operation="get rollout", target=name) from None

    def _plan_abort(self, request: ActionRequest) -> Plan:
        name, q = request.target.name, self._resource_query(request)
        ro = self._rollout(name, q)
        return Plan(request=request, steps=(f"POST /api/v1/applications/{name}/resource/actions abort "
                                            f"rollout {q['namespace']}/{q['resourceName']}",),
                    blast_radius="1 rollout; traffic returns to the stable ReplicaSet",
                    facts={"query": q, "phase": (ro.get("status") or {}).get("phase", "")})

    def _precheck_abort(self, plan: Plan) -> Check:
        ro = self._rollout(plan.request.target.name, plan.facts["query"])
        st = ro.get("status") or {}
        observed = {"phase": st.get("phase", ""), "abort": bool(st.get("abort"))}
        if st.get("abort"):
            return Check(ok=False, detail="rollout already aborted", observed=observed)
        if st.get("phase") == "Healthy" and not st.get("pauseConditions"):
            return Check(ok=False, detail="rollout is complete and healthy: nothing to abort", observed=observed)
        return Check(ok=True, detail=f"rollout {st.get('phase', '?')}", observed=observed)

    def _execute_abort(self, plan: Plan, dry_run: bool) -> ActionResult:
        name, q = plan.request.target.name, plan.facts["query"]
        if not dry_run:
            self._api("POST", f"/api/v1/applications/{quote(name, safe='')}/resource/actions", "abort rollout", name,
                      params=dict(q), data=json.dumps("abort"), headers={"Content-Type": "application/json"})
        return self._result(plan, "argocd", f"abort rollout {q['namespace']}/{q['resourceName']}", dry_run)

    def _verify_abort(self, plan: Plan) -> Check:
        name, q = plan.request.target.name, plan.facts["query"]

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            st = self._rollout(name, q).get("status") or {}
            return bool(st.get("abort")), f"abort={bool(st.get('abort'))} phase={st.get('phase', '')}", \
                {"phase": st.get("phase", "")}

        return self._wait(f"abort of rollout {q['resourceName']}", probe)


class JenkinsExecutor(_Polling):
    kind = "jenkins"
    actions = ("jenkins_rollback",)

    def __init__(self, url: str, user: str = "", api_token: str = "", *, rollback_job: str = "rollback",
                 allowed_jobs: tuple[str, ...] = (), session: Any = None, timeout_s: float = 15.0, verify_timeout_s: float = 1800.0,
                 poll_interval_s: float = 15.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        import requests

        super().__init__(timeout_s=timeout_s, verify_timeout_s=verify_timeout_s, poll_interval_s=poll_interval_s,
                         sleep=sleep, clock=clock)
        self.url = url.rstrip("/")
        self.job = rollback_job
        self.allowed_jobs = (rollback_job, *allowed_jobs)
        self.session = session or requests.Session()
        if user:
            self.session.auth = (user, api_token)

    @staticmethod
    def _path(job: str) -> str:
        return "".join(f"/job/{quote(part, safe='')}" for part in job.strip("/").split("/"))

    def _job(self, request: ActionRequest) -> str:
        """The job to run: ``params.job`` only when it is the configured rollback job or in allowed_jobs."""
        job = str((request.params or {}).get("job") or self.job)
        if job not in self.allowed_jobs:
            raise PolicyDenied(f"Jenkins job {job!r} is not an allowed rollback job",
                               reasons=[f"allowed: {', '.join(self.allowed_jobs)} (targets.jenkins.rollback_job, "
                                        "allowed_jobs)"])
        return job

    def _api(self, method: str, url: str, operation: str, **kw: Any) -> Any:
        full = url if url.startswith("http") else f"{self.url}{url}"
        return call(self.session, method, full, integration="jenkins", operation=operation, target=self.job,
                    timeout_s=self.timeout_s, **kw)

    def plan(self, request: ActionRequest) -> Plan:
        if request.action != "jenkins_rollback":
            raise ExecutorError(f"jenkins executor does not implement {request.action}", step="plan")
        name = self._job(request)
        job_path = self._path(name)
        job = self._api("GET", f"{job_path}/api/json", "get job")
        params = {"SERVICE": request.service or request.target.name, "INCIDENT": request.incident_id}
        if (request.params or {}).get("version"):
            params["VERSION"] = str(request.params["version"])
        return Plan(request=request, steps=(f"POST {job_path}/buildWithParameters {params}",),
                    blast_radius=f"1 service ({params['SERVICE']}) redeployed by job {name}",
                    facts={"job": name, "job_path": job_path, "params": params,
                           "next_build": job.get("nextBuildNumber"), "queue_url": None})

    def precheck(self, plan: Plan) -> Check:
        name = plan.facts["job"]
        job = self._api("GET", f"{plan.facts['job_path']}/api/json", "get job")
        observed = {"buildable": job.get("buildable"), "in_queue": job.get("inQueue")}
        if job.get("buildable") is False:
            return Check(ok=False, detail=f"job {name} is disabled", observed=observed)
        if job.get("inQueue"):
            return Check(ok=False, detail=f"job {name} already queued", observed=observed)
        return Check(ok=True, detail=f"job {name} buildable", observed=observed)

    def _crumb(self) -> dict[str, str]:
        from aisre.errors import NotFound

        try:
            c = self._api("GET", "/crumbIssuer/api/json", "get crumb")
        except NotFound:          # CSRF protection disabled
            return {}
        return {c["crumbRequestField"]: c["crumb"]}

    def execute(self, plan: Plan, *, dry_run: bool = False) -> ActionResult:
        name = plan.facts["job"]
        if dry_run:
            return self._result(plan, "jenkins", f"would trigger {name} with {plan.facts['params']}", True)
        resp = self._api("POST", f"{plan.facts['job_path']}/buildWithParameters", "trigger rollback",
                         headers=self._crumb(), data=plan.facts["params"], expect_json=False)
        queue_url = resp.headers.get("Location", "")
        plan.facts["queue_url"] = queue_url             # verify follows it
        return self._result(plan, "jenkins", f"triggered {name} for {plan.facts['params']['SERVICE']}", False,
                            queue_url=queue_url, job=name)

    def verify(self, plan: Plan) -> Check:
        queue_url = plan.facts.get("queue_url")
        if not queue_url:
            return Check(ok=False, detail="Jenkins did not return a queue item")
        state: dict[str, Any] = {}

        def probe() -> tuple[bool, str, Mapping[str, Any]]:
            if "build_url" not in state:
                item = self._api("GET", f"{queue_url.rstrip('/')}/api/json", "get queue item")
                if item.get("cancelled"):
                    return False, "queue item cancelled", {"final": True}
                exe = item.get("executable")
                if not exe:
                    return False, f"queued: {item.get('why', '')}", {}
                state["build_url"] = exe["url"]
            build = self._api("GET", f"{state['build_url'].rstrip('/')}/api/json", "get build")
            observed = {"build": build.get("number"), "result": build.get("result")}
            if build.get("building") or build.get("result") is None:
                return False, f"build #{build.get('number')} running", observed
            if build.get("result") != "SUCCESS":
                return False, f"build #{build.get('number')} {build.get('result')}", {**observed, "final": True}
            return True, f"build #{build.get('number')} SUCCESS", observed

        return self._wait(f"jenkins {plan.facts['job']}", probe)


__all__ = ["ArgoCDExecutor", "JenkinsExecutor", "argocd_from_config", "jenkins_from_config"]
