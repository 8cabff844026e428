"""FlagsExecutor against a stateful `responses` flag/config service."""
import json

import pytest
import responses

from aisre.models import ActionRequest, ActionStatus, Target
from aisre.remediate.flags import FlagsExecutor
from aisre.remediate.registry import run_action

URL = "https://flags.test/api"


class FakeFlags:
    def __init__(self, rsps):
        self.flags = {"new-checkout": {"key": "new-checkout", "enabled": True}}
        self.config = {"key": "checkout.timeouts", "version": "v3", "value": {"ms": 50}}
        self.versions = [{"version": "v1"}, {"version": "v2"}, {"version": "v3"}]
        self.writes = []
        rsps.add_callback("GET", f"{URL}/flags/new-checkout", callback=self.get_flag)
        rsps.add_callback("PATCH", f"{URL}/flags/new-checkout", callback=self.patch_flag)
        rsps.add_callback("GET", f"{URL}/configs/checkout.timeouts", callback=lambda r: (200, {}, json.dumps(self.config)))
        rsps.add("GET", f"{URL}/configs/checkout.timeouts/versions", json=self.versions)
        rsps.add_callback("POST", f"{URL}/configs/checkout.timeouts/revert", callback=self.revert)

    def get_flag(self, request):
        assert request.headers["Authorization"] == "Bearer ff-token"
        return 200, {}, json.dumps(self.flags["new-checkout"])

    def patch_flag(self, request):
        body = json.loads(request.body)
        self.writes.append(("PATCH", body))
        self.flags["new-checkout"]["enabled"] = body["enabled"]
        return 200, {}, json.dumps(self.flags["new-checkout"])

    def revert(self, request):
        body = json.loads(request.body)
        self.writes.append(("REVERT", body))
        self.config["version"] = body["version"]
        return 200, {}, json.dumps(self.config)


@pytest.fixture
def fake():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeFlags(rsps)


def req(action, **params):
    return ActionRequest(action=action, service="checkout", params=params,
                         target=Target(kind="flags", name="checkout"))


def test_flag_off_and_verified(fake):
    r = run_action(FlagsExecutor(URL, "ff-token"), req("flag_toggle", flag="new-checkout", enabled=False))
    assert r.status is ActionStatus.SUCCEEDED, r
    assert fake.writes == [("PATCH", {"enabled": False})] and fake.flags["new-checkout"]["enabled"] is False


def test_flag_already_in_state_is_skipped(fake):
    r = run_action(FlagsExecutor(URL, "ff-token"), req("flag_toggle", flag="new-checkout", enabled=True))
    assert r.status is ActionStatus.SKIPPED and not fake.writes


def test_monitoring_flags_are_never_switched_off(fake):
    r = run_action(FlagsExecutor(URL, "ff-token"), req("flag_toggle", flag="alerting", enabled=False))
    assert r.status is ActionStatus.DENIED and not fake.writes


def test_config_revert_to_previous_version(fake):
    r = run_action(FlagsExecutor(URL, "ff-token"), req("config_revert", key="checkout.timeouts"))
    assert r.status is ActionStatus.SUCCEEDED, r
    assert fake.writes == [("REVERT", {"version": "v2"})] and fake.config["version"] == "v2"


def test_config_revert_dry_run(fake):
    r = run_action(FlagsExecutor(URL, "ff-token"), req("config_revert", key="checkout.timeouts"), dry_run=True)
    assert r.status is ActionStatus.DRY_RUN and not fake.writes and "v3 -> v2" in r.detail


def test_config_revert_unknown_version_fails(fake):
    r = run_action(FlagsExecutor(URL, "ff-token"), req("config_revert", key="checkout.timeouts", version="v9"))
    assert r.status is ActionStatus.FAILED and "no previous version" in r.error and not fake.writes


def test_garbage_answer_is_source_down():
    with responses.RequestsMock() as rsps:
        rsps.add("GET", f"{URL}/flags/new-checkout", body="<html>gateway</html>")
        r = run_action(FlagsExecutor(URL), req("flag_toggle", flag="new-checkout", enabled=False))
    assert r.status is ActionStatus.FAILED and "not JSON" in r.error


def test_runbook_value_alias(fake):
    r = run_action(FlagsExecutor(URL, "ff-token"), req("flag_toggle", flag="new-checkout", value=False))
    assert r.status is ActionStatus.SUCCEEDED and fake.writes == [("PATCH", {"enabled": False})]


def test_config_revert_key_from_the_target(fake):
    r = run_action(FlagsExecutor(URL, "ff-token"), ActionRequest(
        action="config_revert", service="checkout", params={"to": "previous"},
        target=Target(kind="flags", name="checkout.timeouts")))
    assert r.status is ActionStatus.SUCCEEDED and fake.config["version"] == "v2"
