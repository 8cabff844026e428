"""Executor registry conformance, build_executors from config, and run_action's never-raise contract."""
import importlib

import pytest

from aisre.config import load_config
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check, Target
from aisre.policy import ACTIONS, AuditLog, Guardrails
from aisre.remediate import EXECUTORS, Executor, Plan, build_executors, run_action
from aisre.state import MemoryStore

CLASSES = {"kubernetes": "aisre.remediate.kubernetes:KubernetesExecutor", "aws": "aisre.remediate.aws:AwsExecutor",
           "argocd": "aisre.remediate.cicd:ArgoCDExecutor", "jenkins": "aisre.remediate.cicd:JenkinsExecutor",
           "redis": "aisre.remediate.redis:RedisExecutor", "postgres": "aisre.remediate.postgres:PostgresExecutor",
           "flags": "aisre.remediate.flags:FlagsExecutor"}


def load(ref):
    mod, _, attr = ref.partition(":")
    return getattr(importlib.import_module(mod), attr)


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_every_executor_is_registered_and_its_actions_are_in_the_action_registry(kind):
    assert kind in EXECUTORS
    cls = load(CLASSES[kind])
    assert cls.kind == kind
    for name in cls.actions:
        assert name in ACTIONS and ACTIONS[name].target_kind == kind, name
    for method in ("plan", "precheck", "execute", "verify"):
        assert callable(getattr(cls, method))


def test_every_registered_action_has_an_executor():
    implemented = {a for ref in CLASSES.values() for a in load(ref).actions}
    assert set(ACTIONS) == implemented


def test_build_executors_from_config():
    """Construction does no network I/O: the addresses below are never dialled."""
    cfg = load_config({"targets": {
        "kubernetes": {"host": "http://127.0.0.1:1", "token": "t", "allowed_namespaces": ["prod"],
                       "rollout_timeout_s": 120, "crashloop_restart_threshold": 3},
        "aws": {"region": "eu-west-1"},
        "argocd": {"url": "https://argocd.test", "token": "x"},
        "jenkins": {"url": "https://jenkins.test", "user": "u", "api_token": "p"},
        "redis": {"url": "redis://127.0.0.1:1/0", "evictable_patterns": ["cache:*:tmp"]},
        "postgres": {"dsn": "host=127.0.0.1 port=1 user=x"},
        "flags": {"url": "https://flags.test"}}})
    ex = build_executors(cfg)
    assert set(ex) == set(CLASSES)
    for kind, e in ex.items():
        assert isinstance(e, Executor) and e.kind == kind
    assert ex["kubernetes"].allowed_namespaces == ("prod",)
    assert ex["redis"].evictable_patterns == ("cache:*:tmp",)
    assert ex["kubernetes"].rollout_timeout_s == 120 and ex["kubernetes"].restart_threshold == 3
    assert build_executors(load_config({})) == {}


class Exploding:
    """An executor whose every step can be told to raise or fail: run_action must never raise."""
    kind = "kubernetes"
    actions = ("restart_deployment",)

    def __init__(self, fail_at=None, precheck_ok=True, verify_ok=True):
        self.fail_at, self.precheck_ok, self.verify_ok, self.seen = fail_at, precheck_ok, verify_ok, []

    def _step(self, name):
        self.seen.append(name)
        if self.fail_at == name:
            raise RuntimeError(f"{name} blew up")

    def plan(self, request):
        self._step("plan")
        return Plan(request=request, steps=("x",))

    def precheck(self, plan):
        self._step("precheck")
        return Check(ok=self.precheck_ok, detail="symptom gone" if not self.precheck_ok else "ok")

    def execute(self, plan, *, dry_run=False):
        self._step("execute")
        r = plan.request
        return ActionResult(action=r.action, service=r.service,
                            status=ActionStatus.DRY_RUN if dry_run else ActionStatus.SUCCEEDED)

    def verify(self, plan):
        self._step("verify")
        return Check(ok=self.verify_ok, detail="still broken" if not self.verify_ok else "fine")


REQ = ActionRequest(action="restart_deployment", service="web", incident_id="inc-1",
                    target=Target(kind="kubernetes", name="web", namespace="prod"))


@pytest.mark.parametrize("step", ["plan", "precheck", "execute", "verify"])
def test_run_action_never_raises(step):
    ex = Exploding(fail_at=step)
    r = run_action(ex, REQ)
    assert r.status is ActionStatus.FAILED and f"{step} blew up" in r.error and r.detail == f"failed at {step}"


def test_run_action_steps_and_outcomes():
    ex = Exploding()
    clock = iter([10.0, 12.5]).__next__
    r = run_action(ex, REQ, clock=clock)
    assert ex.seen == ["plan", "precheck", "execute", "verify"]
    assert r.status is ActionStatus.SUCCEEDED and (r.started_at, r.finished_at) == (10.0, 12.5)
    ex = Exploding(precheck_ok=False)
    r = run_action(ex, REQ)
    assert r.status is ActionStatus.SKIPPED and "symptom gone" in r.detail and ex.seen == ["plan", "precheck"]
    ex = Exploding(verify_ok=False)
    r = run_action(ex, REQ)
    assert r.status is ActionStatus.FAILED and "still broken" in r.error
    ex = Exploding()
    r = run_action(ex, REQ, dry_run=True)
    assert r.status is ActionStatus.DRY_RUN and "verify" not in ex.seen


def test_run_action_consults_guardrails_and_audits(tmp_path):
    from aisre.config import SafetyConfig

    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    g = Guardrails(SafetyConfig(mode="shadow", max_actions_per_window=1), MemoryStore(), audit=audit)
    ex = Exploding()
    r = run_action(ex, REQ, guardrails=g, audit=audit)
    assert r.status is ActionStatus.DENIED and ex.seen == []              # shadow never acts
    g.set_mode("autonomous", actor="test")
    assert run_action(ex, REQ, guardrails=g, audit=audit).status is ActionStatus.SUCCEEDED
    r = run_action(ex, REQ, guardrails=g, audit=audit)                     # rate limit (1 per window) reached
    assert r.status is ActionStatus.DENIED and "rate limit" in r.error
    kinds = [rec.kind for rec in audit.records()]
    assert kinds == ["action", "mode", "action", "action"] and audit.verify().ok


def test_hostile_requests_never_reach_an_executor():
    hostile = [("drop_database", {}), ("scale_deployment", {"replicas": 0}), ("drain_node", {"node": "*"}),
               ("delete_namespace", {}), ("restart_deployment", {"kind": "DaemonSet"}),
               ("restart_deployment", {"command": "kubectl delete ns prod"})]
    for action, params in hostile:
        ex = Exploding()
        ex.actions = (action,)
        r = run_action(ex, ActionRequest(action=action, service="web", params=params,
                                         target=Target(kind="kubernetes", name="web")))
        assert r.status is ActionStatus.DENIED and ex.seen == [], action
