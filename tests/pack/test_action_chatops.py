"""Orders from chat go through the same guardrails as the agent: the mode, the forbidden list, the lease."""
import json

import pytest
from st2tests.base import BaseActionTestCase

from get_status import GetStatus
from restart_deployment import RestartDeployment
from set_mode import SetMode

from aisre.runtime import ChatOps, Runtime
from aisre.state import DatastoreStore


@pytest.fixture
def kube(fake_kube):
    fake_kube.add_deployment("checkout", ns="shop", replicas=3)
    fake_kube.auto_complete = True
    return fake_kube


def cfg(url, tmp_path):
    return {"services": [{"name": "checkout", "target": {"kind": "kubernetes", "name": "checkout", "namespace": "shop"}}],
            "targets": {"kubernetes": {"host": url, "token": "t", "verify_ssl": False}},
            "safety": {"mode": "shadow"}, "audit": {"path": str(tmp_path / "audit.jsonl")}}


class TestChatOrders(BaseActionTestCase):
    action_cls = RestartDeployment

    @pytest.fixture(autouse=True)
    def _env(self, kube, tmp_path):
        self.kube, self.cfg = kube, cfg(kube.url, tmp_path)

    def patches(self):
        return [c for c in self.kube.calls if c.method == "PATCH"]

    def test_shadow_mode_refuses_a_chat_restart(self):
        ok, res = self.get_action_instance(config=self.cfg).run(service="checkout", user="alice")
        assert res["status"] == "skipped" and "mode is shadow" in res["text"]
        assert self.patches() == []

    def test_after_switching_the_mode_the_restart_runs_and_is_audited(self):
        action = self.get_action_instance(config=self.cfg)
        mode = SetMode(config=self.cfg, action_service=action.action_service)
        assert mode.run(mode="limited", actor="alice")[0]
        ok, res = action.run(service="checkout", user="alice")
        assert ok and res["status"] == "succeeded", res
        assert len(self.patches()) == 1 and "restartedAt" in json.dumps(self.patches()[0].body)
        audit = open(self.cfg["audit"]["path"]).read()
        assert "chat:alice" in audit or "alice" in audit

    def test_a_forbidden_order_from_chat_never_reaches_the_cluster(self):
        action = self.get_action_instance(config=self.cfg)
        SetMode(config=self.cfg, action_service=action.action_service).run(mode="autonomous", actor="alice")
        chat = ChatOps(Runtime(self.cfg, DatastoreStore(action.action_service)))
        res = chat.order("scale_deployment", "checkout", params={"replicas": 0}, user="mallory")
        assert res["status"] == "denied" and not self.patches()
        assert not [c for c in self.kube.calls if "/scale" in c.path and c.method != "GET"]


class TestStatus(BaseActionTestCase):
    action_cls = GetStatus

    def test_unknown_service_is_a_clear_failure(self, tmp_path=None):
        ok, res = self.get_action_instance(config={"services": [{"name": "checkout"}]}).run(service="nope")
        assert ok is False and "unknown service 'nope'" in res["message"] and "checkout" in res["message"]
