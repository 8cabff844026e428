"""Dispatcher routing and dedup, and build_notifiers from a validated config - real notifiers on fakes."""
from __future__ import annotations

import dataclasses
import io
import json

import httpx2

from aisre.config import load_config
from aisre.models import IncidentStatus, Notification, Receipt, Severity
from aisre.notify.console import ConsoleNotifier
from aisre.notify.dispatch import Dispatcher, build_dispatcher, build_notifiers
from aisre.notify.jira import JiraNotifier
from aisre.notify.pagerduty import PagerDutyNotifier
from aisre.notify.slack import SlackNotifier
from aisre.notify.webhook import WebhookNotifier
from aisre.state import MemoryStore
from plugins.fake_chat import JIRA_TOKEN, JIRA_USER, SLACK_TOKEN
from plugins.notify_samples import checkout_incident


class Events:
    def __init__(self):
        self.events = []

    def __call__(self, request):
        body = json.loads(request.content)
        self.events.append(body)
        return httpx2.Response(202, json={"status": "success", "dedup_key": body.get("dedup_key", "k")})


def _n(kind, severity=Severity.CRITICAL, **kw):
    inc = checkout_incident()
    return Notification(incident_id=inc.id, kind=kind, title=f"checkout {kind}", text="", severity=severity,
                        fingerprint=inc.fingerprint, **kw)


def _setup(fake_slack, fake_jira, store=None):
    store = store or MemoryStore()
    events = Events()
    buf = io.StringIO()
    notifiers = [ConsoleNotifier(buf),
                 SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url, store=store),
                 PagerDutyNotifier("rk", transport=httpx2.MockTransport(events), sleep_timer_s=0),
                 JiraNotifier(fake_jira.url, JIRA_USER, JIRA_TOKEN, "INC", "Incident", store=store)]
    return Dispatcher(notifiers, store=store, pagerduty_min_severity="error"), events, buf


def test_routes_by_kind_and_severity(fake_slack, fake_jira):
    d, events, _ = _setup(fake_slack, fake_jira)
    inc = checkout_incident()
    res = d.dispatch(_n("opened"), inc)
    assert [r.channel for r in res.receipts] == ["console", "slack"]
    assert dict(res.skipped)["pagerduty"] == "pagerduty only pages escalations"
    res = d.dispatch(_n("acting"), inc)
    assert [r.channel for r in res.receipts] == ["console", "slack"]
    res = d.dispatch(_n("escalated"), inc)
    assert [r.channel for r in res.receipts] == ["console", "slack", "pagerduty", "jira"] and res.ok
    assert [e["event_action"] for e in events.events] == ["trigger"] and len(fake_jira.issues) == 1


def test_low_severity_escalation_does_not_page(fake_slack, fake_jira):
    d, events, _ = _setup(fake_slack, fake_jira)
    res = d.dispatch(_n("escalated", severity=Severity.WARNING), checkout_incident())
    assert not events.events and "below pagerduty.min_severity error" in dict(res.skipped)["pagerduty"]


def test_page_is_sent_once_per_fingerprint_and_resolve_reopens(fake_slack, fake_jira):
    store = MemoryStore()
    d, events, _ = _setup(fake_slack, fake_jira, store)
    inc = checkout_incident()
    d.dispatch(_n("escalated"), inc)
    # a second incident record with the same fingerprint (race) and a second dispatcher process
    twin = dataclasses.replace(inc, id="inc-twin")
    d2, events2, _ = _setup(fake_slack, fake_jira, store)
    res = d2.dispatch(dataclasses.replace(_n("escalated"), incident_id="inc-twin"), twin)
    assert not events2.events and "already sent escalated" in dict(res.skipped)["pagerduty"]
    assert len(fake_jira.issues) == 1
    resolved = dataclasses.replace(inc, status=IncidentStatus.RESOLVED, resolved_at=inc.opened_at + 3000)
    res = d.dispatch(_n("resolved"), resolved)
    assert [e["event_action"] for e in events.events] == ["trigger", "resolve"]
    assert fake_jira.issues["INC-1"]["fields"]["status"] == {"name": "Done"}
    # the problem comes back later: it pages again
    d.dispatch(_n("escalated"), inc)
    assert [e["event_action"] for e in events.events] == ["trigger", "resolve", "trigger"]


def test_resolve_of_an_unpaged_incident_does_not_touch_pagerduty(fake_slack, fake_jira):
    d, events, _ = _setup(fake_slack, fake_jira)
    quiet = dataclasses.replace(checkout_incident(), escalated_at=None, actions=(), status=IncidentStatus.RESOLVED)
    res = d.dispatch(_n("resolved"), quiet)
    assert not events.events and dict(res.skipped)["pagerduty"] == "never paged"
    assert dict(res.skipped)["jira"] == "resolved without action or escalation"


def test_failed_send_is_retried_next_time(fake_slack, fake_jira):
    d, events, _ = _setup(fake_slack, fake_jira)
    fake_slack.fail_next("chat.postMessage", "internal_error")
    first = d.dispatch(_n("opened"), checkout_incident())
    assert [r.ok for r in first.receipts] == [True, False]
    second = d.dispatch(_n("opened"), checkout_incident())
    assert [r.channel for r in second.receipts if r.ok] == ["slack"]   # console was deduped, slack retried


class _Raiser:
    channel = "slack"

    def send(self, notification, incident=None) -> Receipt:
        raise RuntimeError("bug")


def test_fallback_route_only_when_primaries_fail():
    import responses
    with responses.RequestsMock() as rsps:
        rsps.post("https://hooks.example.com/x", json={})
        d = Dispatcher([_Raiser(), WebhookNotifier("https://hooks.example.com/x")])
        res = d.dispatch(_n("escalated"), checkout_incident())
        assert [(r.channel, r.ok) for r in res.receipts] == [("slack", False), ("webhook", True)]
        assert "notifier raised RuntimeError" in res.receipts[0].detail
        res = d.dispatch(_n("acting"), checkout_incident())
        assert [r.channel for r in res.receipts] == ["slack"]


def test_build_notifiers_from_config():
    cfg = load_config({"environment": "production", "notify": {
        "slack": {"token": "xoxb-1", "channel": "#ops", "base_url": "http://127.0.0.1:1/api/"},
        "pagerduty": {"routing_key": "rk", "min_severity": "critical"},
        "jira": {"url": "https://jira.example.com", "user": "u", "api_token": "t"},
        "email": {"smtp_host": "smtp.example.com", "to": ["a@example.com"]},
        "fallback_webhook": {"url": "https://hooks.example.com/x"}}})
    notifiers = build_notifiers(cfg, MemoryStore(), console=io.StringIO())
    assert [n.channel for n in notifiers] == ["console", "slack", "pagerduty", "jira", "email", "webhook"]
    d = build_dispatcher(cfg, MemoryStore())
    assert d.min_severity == Severity.CRITICAL and d.dedup_ttl_s == 240 * 60
    assert build_notifiers(load_config({}), MemoryStore()) == []
