"""Argo CD and Jenkins executors against `responses` (requests' own transport), stateful where it matters."""
import json

import pytest
import responses
from responses import matchers

from aisre.models import ActionRequest, ActionStatus, Target
from aisre.remediate.cicd import ArgoCDExecutor, JenkinsExecutor
from aisre.remediate.registry import run_action

ARGO = "https://argocd.test"
JENKINS = "https://jenkins.test"


def req(action, kind, name="checkout", ns="prod", **params):
    return ActionRequest(action=action, service="checkout", params=params, incident_id="inc-7",
                         target=Target(kind=kind, name=name, namespace=ns))


class FakeArgo:
    def __init__(self, rsps, automated=False):
        self.app = {"metadata": {"name": "checkout"},
                    "spec": {"syncPolicy": {"automated": {"prune": True}} if automated else {}},
                    "status": {"sync": {"status": "Synced", "revision": "ccc333"}, "health": {"status": "Degraded"},
                               "history": [{"id": 1, "revision": "aaa111"}, {"id": 2, "revision": "bbb222"},
                                           {"id": 3, "revision": "ccc333"}]}}
        self.rollout = {"kind": "Rollout", "status": {"phase": "Paused", "pauseConditions": [{"reason": "CanaryPause"}]}}
        self.posts = []
        rsps.add_callback("GET", f"{ARGO}/api/v1/applications/checkout", callback=self.get_app)
        rsps.add_callback("POST", f"{ARGO}/api/v1/applications/checkout/rollback", callback=self.rollback)
        rsps.add_callback("GET", f"{ARGO}/api/v1/applications/checkout/resource", callback=self.get_rollout)
        rsps.add_callback("POST", f"{ARGO}/api/v1/applications/checkout/resource/actions", callback=self.action)

    def get_app(self, request):
        assert request.headers["Authorization"] == "Bearer t0k"
        return 200, {}, json.dumps(self.app)

    def rollback(self, request):
        body = json.loads(request.body)
        self.posts.append(body)
        if not body["dryRun"]:
            entry = next(h for h in self.app["status"]["history"] if h["id"] == body["id"])
            self.app["status"]["sync"]["revision"] = entry["revision"]
            self.app["status"]["health"]["status"] = "Healthy"
        return 200, {}, json.dumps(self.app)

    def get_rollout(self, request):
        return 200, {}, json.dumps({"manifest": json.dumps(self.rollout)})

    def action(self, request):
        self.posts.append({"query": dict(request.params), "body": json.loads(request.body)})
        self.rollout["status"]["abort"] = True
        self.rollout["status"]["phase"] = "Degraded"
        return 200, {}, "{}"


@pytest.fixture
def argo():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def argo_ex():
    return ArgoCDExecutor(ARGO, "t0k", sleep=lambda s: None, poll_interval_s=0, verify_timeout_s=1)


def test_argocd_rollback_to_previous_history_entry(argo):
    fake = FakeArgo(argo)
    r = run_action(argo_ex(), req("argocd_rollback", "argocd"))
    assert r.status is ActionStatus.SUCCEEDED, r
    assert fake.posts == [{"name": "checkout", "id": 2, "prune": False, "dryRun": False}]
    assert fake.app["status"]["sync"]["revision"] == "bbb222"


def test_argocd_rollback_dry_run_uses_argo_dry_run(argo):
    fake = FakeArgo(argo)
    r = run_action(argo_ex(), req("argocd_rollback", "argocd"), dry_run=True)
    assert r.status is ActionStatus.DRY_RUN and fake.posts[0]["dryRun"] is True
    assert fake.app["status"]["sync"]["revision"] == "ccc333"


def test_argocd_rollback_refused_under_auto_sync(argo):
    fake = FakeArgo(argo, automated=True)
    r = run_action(argo_ex(), req("argocd_rollback", "argocd"))
    assert r.status is ActionStatus.SKIPPED and "automated sync" in r.detail and not fake.posts


def test_argocd_rollback_failed_operation_fails_fast(argo):
    fake = FakeArgo(argo)

    def failing(request):
        fake.posts.append(json.loads(request.body))
        fake.app["status"]["operationState"] = {"phase": "Failed", "message": "ComparisonError"}
        return 200, {}, json.dumps(fake.app)

    fake.rollback = failing
    argo.remove("POST", f"{ARGO}/api/v1/applications/checkout/rollback")
    argo.add_callback("POST", f"{ARGO}/api/v1/applications/checkout/rollback", callback=failing)
    t = [0.0]
    ex = ArgoCDExecutor(ARGO, "t0k", sleep=lambda s: t.__setitem__(0, t[0] + s), clock=lambda: t[0],
                        poll_interval_s=10, verify_timeout_s=600)
    r = run_action(ex, req("argocd_rollback", "argocd"))
    assert r.status is ActionStatus.FAILED and "operation Failed" in r.error
    assert t[0] == 0.0                                        # gave up at once, no polling until the deadline


@pytest.mark.parametrize("status,err", [(404, "NotFound"), (403, "AuthError"), (500, "SourceDown")])
def test_argocd_api_errors(argo, status, err):
    argo.add("GET", f"{ARGO}/api/v1/applications/checkout", status=status, body="nope")
    r = run_action(argo_ex(), req("argocd_rollback", "argocd"))
    assert r.status is ActionStatus.FAILED and err in r.error


def test_argocd_conflict_on_post_is_not_retried(argo):
    fake = FakeArgo(argo)
    argo.remove("POST", f"{ARGO}/api/v1/applications/checkout/rollback")
    argo.add("POST", f"{ARGO}/api/v1/applications/checkout/rollback", status=409,
             json={"error": "another operation is already in progress"})
    r = run_action(argo_ex(), req("argocd_rollback", "argocd"))
    assert r.status is ActionStatus.FAILED and "409" in r.error
    assert len([c for c in argo.calls if c.request.method == "POST"]) == 1


def test_argocd_timeout(argo):
    import requests

    argo.add("GET", f"{ARGO}/api/v1/applications/checkout", body=requests.Timeout("read timed out"))
    r = run_action(argo_ex(), req("argocd_rollback", "argocd"))
    assert r.status is ActionStatus.FAILED and "Timeout" in r.error


def test_argo_rollouts_abort_through_resource_action(argo):
    fake = FakeArgo(argo)
    r = run_action(argo_ex(), req("argocd_abort_rollout", "argocd", rollout="checkout"))
    assert r.status is ActionStatus.SUCCEEDED, r
    assert fake.posts == [{"query": {"namespace": "prod", "resourceName": "checkout", "version": "v1alpha1",
                                     "kind": "Rollout", "group": "argoproj.io"}, "body": "abort"}]


def test_argo_rollouts_abort_skipped_when_healthy(argo):
    fake = FakeArgo(argo)
    fake.rollout = {"status": {"phase": "Healthy"}}
    r = run_action(argo_ex(), req("argocd_abort_rollout", "argocd"))
    assert r.status is ActionStatus.SKIPPED and not fake.posts


# ------------------------------------------------------------------ Jenkins

@pytest.fixture
def jenkins():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add("GET", f"{JENKINS}/job/deploy/job/rollback/api/json",
                 json={"buildable": True, "inQueue": False, "nextBuildNumber": 42})
        rsps.add("GET", f"{JENKINS}/crumbIssuer/api/json",
                 json={"crumbRequestField": "Jenkins-Crumb", "crumb": "c0ffee"})
        rsps.add("GET", f"{JENKINS}/queue/item/7/api/json",
                 json={"executable": {"number": 42, "url": f"{JENKINS}/job/deploy/job/rollback/42/"}})
        yield rsps


def jenkins_ex():
    return JenkinsExecutor(JENKINS, "bot", "api-tok", rollback_job="deploy/rollback", sleep=lambda s: None,
                           poll_interval_s=0, verify_timeout_s=1)


def test_jenkins_rollback_with_crumb_and_parameters(jenkins):
    jenkins.add("POST", f"{JENKINS}/job/deploy/job/rollback/buildWithParameters", status=201,
                headers={"Location": f"{JENKINS}/queue/item/7/"},
                match=[matchers.header_matcher({"Jenkins-Crumb": "c0ffee"}),
                       matchers.urlencoded_params_matcher({"SERVICE": "checkout", "INCIDENT": "inc-7",
                                                           "VERSION": "1.4.2"})])
    jenkins.add("GET", f"{JENKINS}/job/deploy/job/rollback/42/api/json",
                json={"number": 42, "building": False, "result": "SUCCESS"})
    r = run_action(jenkins_ex(), req("jenkins_rollback", "jenkins", version="1.4.2"))
    assert r.status is ActionStatus.SUCCEEDED, r
    post = [c for c in jenkins.calls if c.request.method == "POST"][0]
    assert post.request.headers["Authorization"].startswith("Basic ")


def test_jenkins_failed_build_fails_verify(jenkins):
    jenkins.add("POST", f"{JENKINS}/job/deploy/job/rollback/buildWithParameters", status=201,
                headers={"Location": f"{JENKINS}/queue/item/7/"})
    jenkins.add("GET", f"{JENKINS}/job/deploy/job/rollback/42/api/json",
                json={"number": 42, "building": False, "result": "FAILURE"})
    r = run_action(jenkins_ex(), req("jenkins_rollback", "jenkins"))
    assert r.status is ActionStatus.FAILED and "FAILURE" in r.error


def test_jenkins_dry_run_posts_nothing(jenkins):
    r = run_action(jenkins_ex(), req("jenkins_rollback", "jenkins"), dry_run=True)
    assert r.status is ActionStatus.DRY_RUN
    assert not [c for c in jenkins.calls if c.request.method == "POST"]


def test_jenkins_500_on_trigger(jenkins):
    jenkins.add("POST", f"{JENKINS}/job/deploy/job/rollback/buildWithParameters", status=500, body="boom")
    r = run_action(jenkins_ex(), req("jenkins_rollback", "jenkins"))
    assert r.status is ActionStatus.FAILED and "SourceDown" in r.error
    assert len([c for c in jenkins.calls if c.request.method == "POST"]) == 1


def test_jenkins_job_from_the_runbook_must_be_allowed(jenkins):
    jenkins.add("GET", f"{JENKINS}/job/deploy-rollback/api/json", json={"buildable": True, "inQueue": False})
    jenkins.add("POST", f"{JENKINS}/job/deploy-rollback/buildWithParameters", status=201,
                headers={"Location": f"{JENKINS}/queue/item/7/"})
    jenkins.add("GET", f"{JENKINS}/job/deploy/job/rollback/42/api/json",
                json={"number": 42, "building": False, "result": "SUCCESS"})
    r = run_action(jenkins_ex(), req("jenkins_rollback", "jenkins", job="deploy-rollback"))
    assert r.status is ActionStatus.DENIED and "not an allowed" in r.error
    assert not [c for c in jenkins.calls if c.request.method == "POST"]
    ex = JenkinsExecutor(JENKINS, "bot", "api-tok", rollback_job="deploy/rollback", allowed_jobs=("deploy-rollback",),
                         sleep=lambda s: None, poll_interval_s=0, verify_timeout_s=1)
    r = run_action(ex, req("jenkins_rollback", "jenkins", job="deploy-rollback"))
    assert r.status is ActionStatus.SUCCEEDED, r
    assert [c.request.url for c in jenkins.calls if c.request.method == "POST"] == \
        [f"{JENKINS}/job/deploy-rollback/buildWithParameters"]
