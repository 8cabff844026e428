"""The timer rule's action notices a stopped sensor and pages through the independent route."""
import json
import os
import tempfile
import time

import responses
from st2tests.base import BaseActionTestCase

from check_health import CheckHealth
from health import Health

HOOK = "https://hooks.example.test/aisre"
CONFIG = {"environment": "staging",
          "services": [{"name": "checkout", "metrics": [{"name": "memory_pct", "query": "q", "source": "csv"}]}],
          "notify": {"fallback_webhook": {"url": HOOK}}, "audit": {"path": os.path.join(tempfile.mkdtemp(prefix="aisre-health-"), "audit.jsonl")}}


class TestCheckHealth(BaseActionTestCase):
    action_cls = CheckHealth

    @responses.activate
    def test_stopped_sensor_is_noticed_and_paged(self):
        responses.add(responses.POST, HOOK, json={"ok": True})
        action = self.get_action_instance(config=CONFIG)
        stopped_at = time.time() - 45 * 60
        action.action_service.set_value("aisre.heartbeat.metrics_sensor", json.dumps(
            {"sensor": "metrics", "last_poll": stopped_at, "last_ok": stopped_at}), local=False)
        ok, result = action.run()
        assert ok is False
        assert [p["state"] for p in result["problems"]] == ["stale"]
        assert len(responses.calls) == 1
        body = json.loads(responses.calls[0].request.body)
        assert "staging" in json.dumps(body) and "metrics sensor" in json.dumps(body)

    def test_running_sensor_is_healthy(self):
        action = self.get_action_instance(config=CONFIG)
        action.action_service.set_value("aisre.heartbeat.metrics_sensor", json.dumps(
            {"sensor": "metrics", "last_poll": time.time() - 30, "last_ok": time.time() - 30, "series": 1}), local=False)
        ok, result = action.run()
        assert ok is True and result["problems"] == []


class TestHealth(BaseActionTestCase):
    action_cls = Health

    def test_table_is_truthful(self):
        action = self.get_action_instance(config=CONFIG)
        ok, result = action.run(probe_sources=False)
        assert ok
        assert "metrics sensor" in result["text"] and "never ran" in result["text"]
        assert "environment staging" in result["text"]
        assert not result["ok"]   # the sensor is configured but has never run
