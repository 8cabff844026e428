"""PagerDutyNotifier through the official client, with httpx2.MockTransport playing events.pagerduty.com."""
from __future__ import annotations

import json

import httpx2
import pytest

from aisre.models import Notification, Severity
from aisre.notify.pagerduty import PagerDutyNotifier
from plugins.notify_samples import checkout_incident, hostile_incident

ROUTING_KEY = "R0UTINGKEY00000000000000000000AB"


class FakeEvents:
    """The Events API v2 contract: 202 with {status, message, dedup_key}; 400 for invalid events."""

    def __init__(self, statuses=()):
        self.events: list[dict] = []
        self.statuses = list(statuses)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url.host == "events.pagerduty.com" and request.url.path == "/v2/enqueue"
        body = json.loads(request.content)
        self.events.append(body)
        if self.statuses:
            return httpx2.Response(self.statuses.pop(0), json={"status": "error", "message": "nope"})
        if body.get("routing_key") != ROUTING_KEY:
            return httpx2.Response(400, json={"status": "invalid event", "message": "Event object is invalid",
                                              "errors": ["'routing_key' is invalid"]})
        if body["event_action"] == "trigger":
            p = body.get("payload", {})
            if not p.get("summary") or len(p["summary"]) > 1024 or not p.get("source") or \
                    p.get("severity") not in ("critical", "error", "warning", "info"):
                return httpx2.Response(400, json={"status": "invalid event", "message": "Event object is invalid"})
        return httpx2.Response(202, json={"status": "success", "message": "Event processed",
                                          "dedup_key": body.get("dedup_key") or "generated"})


def _n(kind, **kw):
    inc = checkout_incident()
    return Notification(incident_id=inc.id, kind=kind, title=kw.pop("title", "checkout memory leak, restart failed"),
                        text="", severity=kw.pop("severity", Severity.CRITICAL), fingerprint=inc.fingerprint, **kw)


def _pd(fake, **kw):
    return PagerDutyNotifier(ROUTING_KEY, transport=httpx2.MockTransport(fake), sleep_timer_s=0.0, **kw)


def test_trigger_carries_fingerprint_severity_report_links_and_chart():
    fake = FakeEvents()
    r = _pd(fake, environment="production").send(
        _n("escalated", links={"dashboard": "https://grafana.example.com/d/x", "chart": "https://c.example/x.png",
                               "evil": "javascript:alert(1)"}), checkout_incident())
    assert r.ok and r.ref == "3f9c2a7b1d4e6f80"
    ev, = fake.events
    assert ev["event_action"] == "trigger" and ev["dedup_key"] == "3f9c2a7b1d4e6f80"
    p = ev["payload"]
    assert p["severity"] == "critical" and p["source"] == "checkout.production" and p["component"] == "checkout"
    assert p["custom_details"]["incident_id"] == "inc-20261128-0115-checkout"
    assert "97.2" in p["custom_details"]["key_metrics"][0]
    assert ev["links"] == [{"href": "https://grafana.example.com/d/x", "text": "dashboard"}]
    assert ev["images"][0]["src"] == "https://c.example/x.png"


@pytest.mark.parametrize("sev,expected", [(Severity.ERROR, "error"), (Severity.WARNING, "warning"),
                                          (Severity.INFO, "info")])
def test_severity_map(sev, expected):
    fake = FakeEvents()
    _pd(fake).send(_n("escalated", severity=sev), checkout_incident())
    assert fake.events[0]["payload"]["severity"] == expected


def test_dedup_key_is_the_fingerprint_not_the_title():
    fake = FakeEvents()
    pd = _pd(fake)
    pd.send(_n("escalated", title="LLM says: memory leak"), checkout_incident())
    pd.send(_n("escalated", title="LLM now says: something else"), checkout_incident())
    assert {e["dedup_key"] for e in fake.events} == {"3f9c2a7b1d4e6f80"}


def test_acknowledge_and_resolve_use_the_same_key():
    fake = FakeEvents()
    pd = _pd(fake)
    assert pd.send(_n("acknowledged")).ok and pd.send(_n("resolved")).ok
    assert [(e["event_action"], e["dedup_key"]) for e in fake.events] == [
        ("acknowledge", "3f9c2a7b1d4e6f80"), ("resolve", "3f9c2a7b1d4e6f80")]


def test_hostile_title_is_cleaned_and_capped():
    fake = FakeEvents()
    r = _pd(fake).send(_n("escalated", title="\x1b[31m" + "A" * 5000), hostile_incident())
    assert r.ok
    s = fake.events[0]["payload"]["summary"]
    assert "\x1b" not in s and len(s) <= 1024


def test_vendor_errors_are_failed_receipts_without_the_routing_key():
    r = PagerDutyNotifier("wrong-key", transport=httpx2.MockTransport(FakeEvents()), sleep_timer_s=0.0).send(
        _n("escalated"), checkout_incident())
    assert not r.ok and "400" in r.detail and "wrong-key" not in r.detail
    fake = FakeEvents(statuses=[429, 429, 429, 429])
    r = _pd(fake).send(_n("escalated"), checkout_incident())
    assert not r.ok and len(fake.events) == 3          # capped retries on 429, never an endless loop
    fake = FakeEvents(statuses=[502, 202])
    fake.statuses = [502]
    assert _pd(fake).send(_n("escalated"), checkout_incident()).ok   # client retried the 502


def test_network_failure_is_a_failed_receipt():
    def boom(request):
        raise httpx2.ConnectError("connection refused")
    r = PagerDutyNotifier(ROUTING_KEY, transport=httpx2.MockTransport(boom), sleep_timer_s=0.0).send(
        _n("escalated"), checkout_incident())
    assert not r.ok and "failed" in r.detail


def test_only_escalations_page_even_without_the_dispatcher():
    fake = FakeEvents()
    pd = _pd(fake, min_severity="error")
    for kind in ("opened", "acting", "approval", "update"):
        r = pd.send(_n(kind), checkout_incident())
        assert r.ok and r.detail == f"not paged: {kind}"
    r = pd.send(_n("escalated", severity=Severity.WARNING), checkout_incident())
    assert r.ok and "not paged: severity warning < error" in r.detail
    assert fake.events == []
