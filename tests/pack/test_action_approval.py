"""Approvals: the paused core.ask is announced in Slack with its incident; `aisre approve <incident>` answers
the right inquiry through st2's API, and the answer is audited."""
import json
import os

import responses
from st2tests.base import BaseActionTestCase

from announce_approval import AnnounceApproval
from correlate_signal import CorrelateSignal
from respond_approval import RespondApproval

from aisre.models import Severity, Signal
from plugins.fake_chat import SLACK_TOKEN

API = "http://st2.test:9101/v1"


class TestApprovalRoundTrip(BaseActionTestCase):
    action_cls = AnnounceApproval

    @responses.activate
    def test_announce_then_approve_by_incident_id(self):
        import tempfile
        from plugins.fake_chat import FakeSlack
        slack = FakeSlack()
        responses.add_passthru(slack.server.base)
        try:
            tmp = tempfile.mkdtemp()
            cfg = {"services": [{"name": "orders-db"}],
                   "notify": {"slack": {"token": SLACK_TOKEN, "channel": "#incidents", "approval_channel": "#approvals",
                                        "base_url": slack.url}},
                   "audit": {"path": os.path.join(tmp, "audit.jsonl")}}
            announce = self.get_action_instance(config=cfg)
            shared = announce.action_service
            sig = Signal(id="s1", kind="metric", source="prometheus", service="orders-db", name="db_cpu_pct",
                         summary="orders-db CPU 95%", severity=Severity.CRITICAL, ts=1000.0)
            ok, corr = CorrelateSignal(config=cfg, action_service=shared).run(signal=sig.to_dict())
            incident_id = corr["incident_id"]
            responses.add(responses.GET, f"{API}/executions/inq-123", json={"id": "inq-123", "parent": "wf-9"})
            responses.add(responses.GET, f"{API}/executions/wf-9", json={"id": "wf-9", "parameters": {
                "incident_id": incident_id, "request": {"action": "pg_cancel_query", "service": "orders-db",
                                                        "reason": "runaway report query pid 4242"}}})
            os.environ["ST2_ACTION_API_URL"], os.environ["ST2_ACTION_AUTH_TOKEN"] = API, "tok"
            ok, out = announce.run(inquiry_id="inq-123", route="#approvals")
            assert ok and out["announced"] and out["incident_id"] == incident_id
            posted = json.dumps(slack.messages)
            assert "pg_cancel_query" in posted and f"aisre approve {incident_id}" in posted

            responses.add(responses.PUT, f"{API}/inquiries/inq-123", json={"id": "inq-123"})
            ok, ans = RespondApproval(config=cfg, action_service=shared).run(ref=incident_id, approved=True,
                                                                              user="dba-on-call", comment="go")
            assert ok and ans["inquiry_id"] == "inq-123" and ans["approved"] is True
            put = [c for c in responses.calls if c.request.method == "PUT"][0]
            assert json.loads(put.request.body)["response"]["approved"] is True
            assert put.request.headers["X-Auth-Token"] == "tok"
            assert "dba-on-call" in open(cfg["audit"]["path"]).read()
        finally:
            os.environ.pop("ST2_ACTION_API_URL", None)
            os.environ.pop("ST2_ACTION_AUTH_TOKEN", None)
            slack.close()
