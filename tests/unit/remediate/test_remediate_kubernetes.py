"""KubernetesExecutor against the loopback fake API server, through the real kubernetes client."""
import pytest

from aisre.models import ActionRequest, ActionStatus, Target
from aisre.remediate.kubernetes import RESTARTED_AT, KubernetesExecutor, build_kube_client
from aisre.remediate.registry import run_action

DEP = "/apis/apps/v1/namespaces/prod/deployments/web"


def req(action="restart_deployment", name="web", ns="prod", params=None, **extra):
    return ActionRequest(action=action, service="web", params=params or {}, incident_id="inc-1",
                         target=Target(kind="kubernetes", name=name, namespace=ns, extra=extra))


@pytest.fixture
def executor(fake_kube, kube_api):
    def make(**kw):
        kw.setdefault("sleep", lambda s: fake_kube.complete_all())
        kw.setdefault("poll_interval_s", 0)
        return KubernetesExecutor(kube_api, **kw)
    return make


# ------------------------------------------------------------------ restart

def test_restart_patches_restarted_at_and_waits_for_the_rollout(fake_kube, executor):
    fake_kube.add_deployment("web", "prod", replicas=3)
    r = run_action(executor(), req())
    assert r.status is ActionStatus.SUCCEEDED, r
    patches = fake_kube.calls_to("PATCH", "/deployments/web")
    assert len(patches) == 1 and patches[0].content_type == "application/strategic-merge-patch+json"
    stamp = patches[0].body["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    dep = fake_kube.get(DEP)
    assert dep["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == stamp
    assert dep["metadata"]["generation"] == 2
    assert r.verify.ok and r.verify.observed["observed_generation"] == 2
    assert r.precheck.ok and r.started_at <= r.finished_at


def test_restart_dry_run_uses_server_dry_run_and_changes_nothing(fake_kube, executor):
    fake_kube.add_deployment("web", "prod")
    r = run_action(executor(), req(), dry_run=True)
    assert r.status is ActionStatus.DRY_RUN
    assert fake_kube.calls_to("PATCH")[0].query == {"dryRun": "All"}
    assert fake_kube.get(DEP)["metadata"]["generation"] == 1
    assert RESTARTED_AT not in (fake_kube.get(DEP)["spec"]["template"]["metadata"].get("annotations") or {})


def test_restart_times_out_waiting_for_rollout(fake_kube, executor):
    fake_kube.add_deployment("web", "prod")
    t = [0.0]

    def sleep(s):
        t[0] += 10

    r = run_action(executor(sleep=sleep, clock=lambda: t[0], rollout_timeout_s=60, poll_interval_s=10), req())
    assert r.status is ActionStatus.FAILED
    assert r.verify is not None and not r.verify.ok and r.verify.observed["timed_out"]
    assert len(fake_kube.calls_to("PATCH")) == 1            # never retried


def test_restart_skipped_when_a_rollout_is_already_running(fake_kube, executor):
    fake_kube.add_deployment("web", "prod")
    fake_kube.get(DEP)["metadata"]["generation"] = 5          # status still at 1
    r = run_action(executor(), req())
    assert r.status is ActionStatus.SKIPPED and "in progress" in r.detail
    assert not fake_kube.calls_to("PATCH")


def test_restart_skipped_when_symptom_is_gone(fake_kube, executor):
    fake_kube.add_deployment("web", "prod")
    r = run_action(executor(symptom_check=lambda request: False), req())
    assert r.status is ActionStatus.SKIPPED and "symptom" in r.detail
    assert not fake_kube.calls_to("PATCH")


@pytest.mark.parametrize("status", [404, 409, 500, 403])
def test_restart_api_errors_fail_without_retry(fake_kube, executor, status):
    fake_kube.add_deployment("web", "prod")
    fake_kube.fail("PATCH", DEP, status, times=5)
    r = run_action(executor(), req())
    assert r.status is ActionStatus.FAILED and f"status={status}" in r.error
    assert len(fake_kube.calls_to("PATCH")) == 1


def test_missing_deployment_fails_at_plan(fake_kube, executor):
    r = run_action(executor(), req(name="ghost"))
    assert r.status is ActionStatus.FAILED and "NotFound" in r.error and r.detail == "failed at plan"


def test_read_timeouts_are_a_failure(fake_kube, executor):
    fake_kube.add_deployment("web", "prod")
    fake_kube.fail("GET", DEP, 200, delay_s=0.6, times=3)
    r = run_action(executor(request_timeout_s=0.2), req())
    assert r.status is ActionStatus.FAILED and "Timeout" in r.error
    assert len(fake_kube.calls_to("GET", "/deployments/web")) == 3        # reads retried (2x), then typed error


@pytest.mark.parametrize("method,action,path,params", [
    ("PATCH", "restart_deployment", DEP, {}),
    ("DELETE", "delete_pod", "/api/v1/namespaces/prod/pods/web-bad", {}),
])
def test_a_timed_out_mutation_is_never_repeated(fake_kube, executor, method, action, path, params):
    fake_kube.add_deployment("web", "prod")
    fake_kube.add_pod("web-bad", "prod", {"app": "web"}, restarts=9, crashloop=True)
    fake_kube.fail(method, path, 200, delay_s=0.6, times=3)
    r = run_action(executor(request_timeout_s=0.2), req(action, params=params))
    assert r.status is ActionStatus.FAILED and "Timeout" in r.error
    assert len(fake_kube.calls_to(method, path)) == 1


def test_namespaces_are_limited(fake_kube, executor):
    fake_kube.add_deployment("web", "prod")
    r = run_action(executor(allowed_namespaces=("staging",)), req())
    assert r.status is ActionStatus.DENIED and "allowed_namespaces" in r.error
    r = run_action(executor(), req(ns="kube-system", name="coredns"))
    assert r.status is ActionStatus.DENIED and "protected" in r.error
    assert not fake_kube.calls_to("PATCH")


STS = "/apis/apps/v1/namespaces/prod/statefulsets/db"


def test_statefulset_restart_one_pod_at_a_time_through_the_partition(fake_kube, executor):
    fake_kube.add_statefulset("db", "prod", replicas=3)
    fake_kube.add_pdb("db-pdb", "prod", {"app": "db"}, disruptions_allowed=1)
    r = run_action(executor(), req(name="db", params={"kind": "StatefulSet"}))
    assert r.status is ActionStatus.SUCCEEDED, r
    patches = [c.body["spec"] for c in fake_kube.calls_to("PATCH", "/statefulsets/db")]
    assert RESTARTED_AT in patches[0]["template"]["metadata"]["annotations"]
    assert [p["updateStrategy"]["rollingUpdate"]["partition"] for p in patches] == [3, 2, 1, 0]
    assert r.evidence["ordinals"] == [2, 1, 0]
    assert fake_kube.get(STS)["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 0


def test_statefulset_restart_waits_for_a_pdb_and_stops_when_it_refuses(fake_kube, executor):
    fake_kube.add_statefulset("db", "prod", replicas=3)
    pdb = fake_kube.add_pdb("db-pdb", "prod", {"app": "db"}, disruptions_allowed=1)
    steps = []

    def sleep(s):
        fake_kube.complete_all()
        steps.append(s)
        if len(steps) == 1:                 # after the first pod, the budget is used up
            pdb["status"]["disruptionsAllowed"] = 0

    r = run_action(executor(sleep=sleep), req(name="db", params={"kind": "StatefulSet"}))
    assert r.status is ActionStatus.FAILED and "db-pdb" in r.error
    assert r.evidence["ordinals"] == [2] and r.evidence["partition"] == 2
    assert fake_kube.get(STS)["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 2


def test_statefulset_restart_skipped_when_pdb_allows_nothing(fake_kube, executor):
    fake_kube.add_statefulset("db", "prod", replicas=3)
    fake_kube.add_pdb("db-pdb", "prod", {"app": "db"}, disruptions_allowed=0)
    r = run_action(executor(), req(name="db", params={"kind": "StatefulSet"}))
    assert r.status is ActionStatus.SKIPPED and "db-pdb" in r.detail
    assert not fake_kube.calls_to("PATCH")


def test_staged_statefulset_is_left_to_humans(fake_kube, executor):
    fake_kube.add_statefulset("db", "prod", replicas=3, partition=2)
    r = run_action(executor(), req(name="db", params={"kind": "StatefulSet"}))
    assert r.status is ActionStatus.SKIPPED and "partition" in r.detail


def test_ondelete_statefulset_is_left_to_humans(fake_kube, executor):
    fake_kube.add_statefulset("db", "prod", strategy="OnDelete")
    r = run_action(executor(), req(name="db", params={"kind": "StatefulSet"}))
    assert r.status is ActionStatus.SKIPPED and "OnDelete" in r.detail


# ------------------------------------------------------------------ scale

def test_scale_one_step_capped(fake_kube, executor):
    fake_kube.add_deployment("web", "prod", replicas=3)
    r = run_action(executor(), req("scale_deployment", params={"factor": 2}))
    assert r.status is ActionStatus.SUCCEEDED and fake_kube.get(DEP)["spec"]["replicas"] == 6
    call = fake_kube.calls_to("PATCH", "/scale")[0]
    assert call.body == {"spec": {"replicas": 6}}
    # asking for 20 from 6 is capped at 2x = 12 (caution in the registry; the executor caps anyway)
    r = run_action(executor(), req("scale_deployment", params={"replicas": 20}))
    assert fake_kube.get(DEP)["spec"]["replicas"] == 12 and "capped" in r.detail


def test_scale_capped_by_max_replicas(fake_kube, executor):
    fake_kube.add_deployment("web", "prod", replicas=4)
    run_action(executor(max_replicas=5), req("scale_deployment", params={"factor": 2}))
    assert fake_kube.get(DEP)["spec"]["replicas"] == 5


def test_scale_to_zero_never_executes(fake_kube, executor):
    fake_kube.add_deployment("web", "prod")
    r = run_action(executor(), req("scale_deployment", params={"replicas": 0}))
    assert r.status is ActionStatus.DENIED
    assert not fake_kube.calls


def test_scale_idempotent_when_already_there(fake_kube, executor):
    fake_kube.add_deployment("web", "prod", replicas=3)
    r = run_action(executor(), req("scale_deployment", params={"replicas": 3, "current_replicas": 3}))
    assert r.status is ActionStatus.SKIPPED and "already" in r.detail


# ------------------------------------------------------------------ rollback

def test_rollback_to_previous_revision(fake_kube, executor):
    fake_kube.add_deployment("web", "prod", image="app:3", revision=3, history=("app:1", "app:2"))
    r = run_action(executor(), req("rollback_deployment"))
    assert r.status is ActionStatus.SUCCEEDED, r
    tpl = fake_kube.get(DEP)["spec"]["template"]
    assert tpl["spec"]["containers"][0]["image"] == "app:2"
    assert "pod-template-hash" not in tpl["metadata"]["labels"]
    assert r.evidence["to_revision"] == 2 and r.evidence["from_revision"] == 3


def test_rollback_without_history_fails(fake_kube, executor):
    fake_kube.add_deployment("web", "prod", revision=1, history=())
    r = run_action(executor(), req("rollback_deployment"))
    assert r.status is ActionStatus.FAILED and "no previous revision" in r.error
    assert not fake_kube.calls_to("PATCH")


# ------------------------------------------------------------------ one pod

def test_delete_one_crashlooping_pod_only(fake_kube, executor):
    fake_kube.add_deployment("web", "prod", replicas=3)
    bad = fake_kube.add_pod("web-bad", "prod", {"app": "web"}, restarts=9, crashloop=True)
    fake_kube.add_pod("web-meh", "prod", {"app": "web"}, restarts=6, crashloop=True)
    r = run_action(executor(), req("delete_pod"))
    assert r.status is ActionStatus.SUCCEEDED, r
    deletes = fake_kube.calls_to("DELETE")
    assert len(deletes) == 1 and deletes[0].path.endswith("/pods/web-bad")
    assert "/api/v1/namespaces/prod/pods/web-meh" in fake_kube.objects
    assert bad["metadata"]["name"] == r.evidence["pod"]


def test_delete_pod_skipped_when_no_pod_is_crashlooping(fake_kube, executor):
    fake_kube.add_deployment("web", "prod")
    r = run_action(executor(), req("delete_pod"))
    assert r.status is ActionStatus.SKIPPED and not fake_kube.calls_to("DELETE")


# ------------------------------------------------------------------ nodes

def test_cordon_one_node(fake_kube, executor):
    fake_kube.add_node("node-0")
    fake_kube.add_node("node-1")
    r = run_action(executor(), req("cordon_node", params={"node": "node-1"}))
    assert r.status is ActionStatus.SUCCEEDED
    assert fake_kube.get("/api/v1/nodes/node-1")["spec"]["unschedulable"] is True
    r = run_action(executor(), req("cordon_node", params={"node": "node-1"}))
    assert r.status is ActionStatus.SKIPPED                     # already cordoned


def test_never_cordon_the_last_schedulable_node(fake_kube, executor):
    fake_kube.add_node("node-0")
    r = run_action(executor(), req("cordon_node", params={"node": "node-0"}))
    assert r.status is ActionStatus.SKIPPED and "last schedulable" in r.detail


def test_drain_evicts_through_the_api_and_skips_daemonsets(fake_kube, executor):
    for n in ("node-0", "node-1"):
        fake_kube.add_node(n)
    fake_kube.add_pod("a", "prod", {"app": "a"}, node="node-1")
    fake_kube.add_pod("b", "prod", {"app": "b"}, node="node-1")
    fake_kube.add_pod("ds", "prod", {"app": "ds"}, node="node-1", owner_kind="DaemonSet")
    fake_kube.add_pod("c", "prod", {"app": "c"}, node="node-0")
    r = run_action(executor(), req("drain_node", params={"node": "node-1"}))
    assert r.status is ActionStatus.SUCCEEDED, r
    evictions = [c.path for c in fake_kube.calls_to("POST", "/eviction")]
    assert evictions == ["/api/v1/namespaces/prod/pods/a/eviction", "/api/v1/namespaces/prod/pods/b/eviction"]
    assert "/api/v1/namespaces/prod/pods/ds" in fake_kube.objects
    assert "/api/v1/namespaces/prod/pods/c" in fake_kube.objects


def test_drain_stops_when_a_pdb_refuses(fake_kube, executor):
    for n in ("node-0", "node-1"):
        fake_kube.add_node(n)
    fake_kube.add_pod("a", "prod", {"app": "a"}, node="node-1")
    fake_kube.add_pod("z", "prod", {"app": "z"}, node="node-1")
    fake_kube.add_pdb("z-pdb", "prod", {"app": "z"}, disruptions_allowed=0)
    r = run_action(executor(), req("drain_node", params={"node": "node-1"}))
    assert r.status is ActionStatus.FAILED and "PodDisruptionBudget" in r.detail
    assert r.evidence["evicted"] == ["prod/a"] and r.evidence["blocked"] == "prod/z"
    assert "/api/v1/namespaces/prod/pods/z" in fake_kube.objects
    assert len(fake_kube.calls_to("POST", "/pods/z/eviction")) == 1       # not retried


def test_drain_all_is_denied_before_any_call(fake_kube, executor):
    r = run_action(executor(), req("drain_node", params={"node": "*"}))
    assert r.status is ActionStatus.DENIED and not fake_kube.calls


# ------------------------------------------------------------------ jobs

def test_kill_batch_job_suspends_it(fake_kube, executor):
    fake_kube.add_job("nightly", "prod", active=2)
    r = run_action(executor(), req("kill_batch_job", name="nightly"))
    assert r.status is ActionStatus.SUCCEEDED, r
    assert fake_kube.get("/apis/batch/v1/namespaces/prod/jobs/nightly")["spec"]["suspend"] is True
    assert not fake_kube.calls_to("DELETE")


# ------------------------------------------------------------------ client construction

def test_build_kube_client_host_and_token(fake_kube):
    from kubernetes import client

    api = build_kube_client({"host": fake_kube.url, "token": "s3cr3t", "verify_ssl": False})
    fake_kube.add_deployment("web", "prod")
    client.AppsV1Api(api).read_namespaced_deployment("web", "prod")
    assert api.configuration.host == fake_kube.url
    assert api.configuration.api_key == {"authorization": "s3cr3t"}


def test_build_kube_client_without_cluster_is_a_config_error(monkeypatch):
    from aisre.errors import ConfigError

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError):
        build_kube_client({})


def test_garbage_from_the_api_server_is_a_typed_failure(fake_kube, executor):
    fake_kube.put(DEP, {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": "lots"}})
    r = run_action(executor(), req())
    assert r.status is ActionStatus.FAILED and r.detail == "failed at plan"
    assert "SourceDown" in r.error
    assert not fake_kube.calls_to("PATCH")


def test_build_kube_client_from_kubeconfig(fake_kube, tmp_path):
    from kubernetes import client

    cfg = tmp_path / "kubeconfig"
    cfg.write_text(f"""
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {{server: "{fake_kube.url}"}}
users:
- name: bot
  user: {{token: kc-token}}
contexts:
- name: fake-ctx
  context: {{cluster: fake, user: bot}}
current-context: fake-ctx
""")
    fake_kube.add_deployment("web", "prod")
    api = build_kube_client({"kubeconfig": str(cfg), "context": "fake-ctx"})
    assert client.AppsV1Api(api).read_namespaced_deployment("web", "prod").spec.replicas == 3
    assert fake_kube.calls[-1].path == DEP


def test_runbook_names_its_workload_in_a_protected_namespace(fake_kube, executor):
    fake_kube.add_deployment("coredns", "kube-system", replicas=2)
    request = req(params={"namespace": "kube-system", "name": "coredns"})
    r = run_action(executor(), request)
    assert r.status is ActionStatus.DENIED and "protected" in r.error and not fake_kube.calls_to("PATCH")
    r = run_action(executor(allowed_namespaces=("prod", "kube-system")), request)
    assert r.status is ActionStatus.SUCCEEDED, r
    assert fake_kube.calls_to("PATCH")[0].path == "/apis/apps/v1/namespaces/kube-system/deployments/coredns"


def test_drain_passes_the_grace_period_to_each_eviction(fake_kube, executor):
    for n in ("node-0", "node-1"):
        fake_kube.add_node(n)
    fake_kube.add_pod("a", "prod", {"app": "a"}, node="node-1")
    r = run_action(executor(), req("drain_node", params={"node": "node-1", "grace_period_s": 120,
                                                         "respect_pdb": True}))
    assert r.status is ActionStatus.SUCCEEDED, r
    body = fake_kube.calls_to("POST", "/eviction")[0].body
    assert body["deleteOptions"]["gracePeriodSeconds"] == 120 and body["metadata"]["name"] == "a"


def test_cordon_takes_the_node_from_the_target(fake_kube, executor):
    fake_kube.add_node("node-0")
    fake_kube.add_node("node-1")
    r = run_action(executor(), req("cordon_node", node="node-1"))
    assert r.status is ActionStatus.SUCCEEDED and fake_kube.get("/api/v1/nodes/node-1")["spec"]["unschedulable"]
