"""Monitor webhooks and vendor status pages through the pack's actions, from real-format payloads."""
import json

import responses
from st2tests.base import BaseActionTestCase

from normalise_webhook import NormaliseWebhook
from poll_status_pages import PollStatusPages

import packlint

FIXTURES = packlint.ROOT / "tests" / "fixtures" / "webhooks"
SUMMARY_URL = "https://status.example-vendor.test/api/v2/summary.json"


class TestNormaliseWebhook(BaseActionTestCase):
    action_cls = NormaliseWebhook

    def test_alertmanager_payload_becomes_signals(self):
        body = json.loads((FIXTURES / "alertmanager" / "firing.json").read_text())
        ok, out = self.get_action_instance(config={}).run(kind="alertmanager", body=body, headers={})
        assert ok and out["signals"] and all(s["kind"] == "alert" for s in out["signals"])
        assert all(s["source"] == "alertmanager" for s in out["signals"])

    def test_malformed_payload_is_a_clear_failure(self):
        ok, out = self.get_action_instance(config={}).run(kind="datadog", body={"what": "ever"}, headers={})
        assert ok is False and out["error"] == "ValidationError" and out["message"]


class TestPollStatusPages(BaseActionTestCase):
    action_cls = PollStatusPages

    @responses.activate
    def test_degraded_vendor_component_signals_the_dependent_service(self):
        summary = json.loads((FIXTURES / "statuspage" / "summary_degraded.json").read_text())
        responses.add(responses.GET, SUMMARY_URL, json=summary)
        cfg = {"sources": {"statuspages": [{"name": "vendor", "url": SUMMARY_URL,
                                            "services": {"Charges API": "checkout"}}]},
               "services": [{"name": "checkout"}]}
        ok, out = self.get_action_instance(config=cfg).run()
        assert ok and not out["errors"]
        assert any(s["service"] == "checkout" and s["kind"] == "status" for s in out["signals"])

    @responses.activate
    def test_an_unreadable_page_is_reported_not_fatal(self):
        responses.add(responses.GET, SUMMARY_URL, body="<html>502 Bad Gateway</html>", status=502)
        cfg = {"sources": {"statuspages": [{"name": "vendor", "url": SUMMARY_URL}]}}
        ok, out = self.get_action_instance(config=cfg).run()
        assert ok and out["signals"] == [] and "vendor" in out["errors"][0]
