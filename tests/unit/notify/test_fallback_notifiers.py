"""EmailNotifier against a loopback SMTP server; WebhookNotifier with `responses`."""
from __future__ import annotations

import email
import email.policy
import json

import responses

from aisre.models import Notification, Severity
from aisre.notify.mail import EmailNotifier
from aisre.notify.webhook import WebhookNotifier
from plugins.notify_samples import checkout_incident


def _n(kind="escalated", **kw):
    inc = checkout_incident()
    return Notification(incident_id=inc.id, kind=kind, title=kw.pop("title", "checkout memory leak"),
                        text="restart did not help", severity=Severity.CRITICAL, fingerprint=inc.fingerprint, **kw)


def test_email_carries_text_and_html_report(fake_smtp):
    mail = EmailNotifier(fake_smtp.host, ["oncall@example.com", "sre@example.com"], smtp_port=fake_smtp.port,
                         starttls=False, environment="production")
    r = mail.send(_n(), checkout_incident())
    assert r.ok and r.detail == "2/2 recipients accepted"
    (sender, rcpts, raw), = fake_smtp.messages
    assert rcpts == ["oncall@example.com", "sre@example.com"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "[aisre] [production] [critical] escalated: checkout memory leak"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "TIMELINE (UTC)" in text and "<h3>Timeline (UTC)</h3>" in html


def test_email_subject_cannot_inject_headers(fake_smtp):
    mail = EmailNotifier(fake_smtp.host, ["oncall@example.com"], smtp_port=fake_smtp.port, starttls=False)
    assert mail.send(_n(title="x\r\nBcc: victim@example.com\r\n\r\nbody")).ok
    msg = email.message_from_bytes(fake_smtp.messages[0][2], policy=email.policy.default)
    assert msg["Bcc"] is None and fake_smtp.messages[0][1] == ["oncall@example.com"]


def test_email_failures_are_receipts(fake_smtp):
    fake_smtp.reject.add("gone@example.com")
    r = EmailNotifier(fake_smtp.host, ["gone@example.com"], smtp_port=fake_smtp.port, starttls=False,
                      password="pw-secret").send(_n())
    assert not r.ok and "pw-secret" not in r.detail
    r = EmailNotifier("127.0.0.1", ["a@example.com"], smtp_port=9, starttls=False, timeout_s=2).send(_n())
    assert not r.ok and "email failed" in r.detail
    assert not EmailNotifier("127.0.0.1", []).send(_n()).ok


@responses.activate
def test_webhook_posts_json_with_bearer_token():
    responses.post("https://hooks.example.com/aisre", json={"ok": True})
    r = WebhookNotifier("https://hooks.example.com/aisre", "hook-token").send(_n(), checkout_incident())
    assert r.ok
    call = responses.calls[0]
    assert call.request.headers["Authorization"] == "Bearer hook-token"
    body = json.loads(call.request.body)
    assert body["notification"]["kind"] == "escalated" and body["incident"]["fingerprint"] == "3f9c2a7b1d4e6f80"
    assert "### Timeline (UTC)" in body["report"]


@responses.activate
def test_webhook_errors_are_receipts_without_token():
    responses.post("https://hooks.example.com/aisre", status=500)
    r = WebhookNotifier("https://hooks.example.com/aisre", "hook-token").send(_n())
    assert not r.ok and "HTTP 500" in r.detail and "hook-token" not in r.detail
    r = WebhookNotifier("https://unregistered.example.com/x", "hook-token").send(_n())
    assert not r.ok and "ConnectionError" in r.detail


def test_fallback_kinds_filter(fake_smtp):
    mail = EmailNotifier(fake_smtp.host, ["oncall@example.com"], smtp_port=fake_smtp.port, starttls=False,
                         kinds=("escalated",))
    r = mail.send(_n("acting"))
    assert r.ok and r.detail == "not sent: acting" and fake_smtp.messages == []
    hook = WebhookNotifier("https://hooks.example.com/aisre", kinds=("escalated",))
    assert hook.send(_n("update")).detail == "not sent: update"
