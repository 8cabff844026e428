"""JiraNotifier (requests, REST v3) against the loopback fake Jira."""
from __future__ import annotations

import json

import pytest

from aisre.errors import AuthError, NotFound
from aisre.models import Notification, Severity
from aisre.notify.jira import JiraNotifier, issue_key
from aisre.state import MemoryStore
from plugins.fake_chat import JIRA_TOKEN, JIRA_USER
from plugins.notify_samples import HOSTILE, checkout_incident, hostile_incident, huge_incident


def _n(kind, **kw):
    inc = checkout_incident()
    return Notification(incident_id=inc.id, kind=kind, title=kw.pop("title", "checkout memory leak"),
                        text=kw.pop("text", "details"), severity=Severity.CRITICAL, fingerprint=inc.fingerprint, **kw)


def _jira(fake, **kw):
    return JiraNotifier(fake.url, JIRA_USER, JIRA_TOKEN, "INC", "Incident", timeout_s=5, **kw)


def _texts(node):
    if isinstance(node, dict):
        yield from ([node["text"]] if node.get("type") == "text" else [])
        for c in node.get("content", []):
            yield from _texts(c)


def test_escalation_creates_one_issue_with_adf_report_then_comments(fake_jira, tmp_path):
    store = MemoryStore()
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + b"1" * 64)
    jira = _jira(fake_jira, store=store)
    r = jira.send(_n("escalated", attachments=(str(chart),)), checkout_incident())
    assert r.ok and r.ref == "INC-1" and "attached chart.png" in r.detail
    issue = fake_jira.issues["INC-1"]
    assert issue["fields"]["issuetype"] == {"name": "Incident"}
    assert issue["fields"]["labels"] == ["aisre", "aisre-3f9c2a7b1d4e6f80"]
    text = " ".join(_texts(issue["fields"]["description"]))
    assert "97.2" in text and "grows without bound" in text and "Roll back checkout" in text
    assert issue["attachments"][0]["filename"] == "chart.png"
    assert store.get(issue_key(checkout_incident().id)) == "INC-1"
    r2 = jira.send(_n("escalated", title="still failing"), checkout_incident())
    assert r2.ok and r2.ref == "INC-1" and len(fake_jira.issues) == 1
    assert "still failing" in " ".join(_texts(issue["comments"][0]["body"]))


def test_resolution_of_an_auto_remediated_incident_creates_comments_and_closes(fake_jira):
    r = _jira(fake_jira).send(_n("resolved", title="restart fixed it"), checkout_incident())
    assert r.ok and "created INC-1" in r.detail and "moved to Done" in r.detail
    assert fake_jira.issues["INC-1"]["fields"]["status"] == {"name": "Done"}


def test_updates_without_an_issue_do_nothing(fake_jira):
    r = _jira(fake_jira).send(_n("acting"), checkout_incident())
    assert r.ok and not fake_jira.issues and "nothing to do" in r.detail


def test_hostile_text_stays_in_text_nodes(fake_jira):
    _jira(fake_jira).send(_n("escalated", title=HOSTILE), hostile_incident())
    issue = fake_jira.issues["INC-1"]
    assert len(issue["fields"]["summary"]) <= 255 and "\x1b" not in issue["fields"]["summary"]
    desc = json.dumps(issue["fields"]["description"])
    hrefs = [m["attrs"]["href"] for m in _marks(issue["fields"]["description"]) if m["type"] == "link"]
    assert all(h.startswith("https://") and "evil" not in h for h in hrefs)   # no link from outside text
    assert "{code}" in desc  # kept literally as text, which Jira never interprets as wiki markup


def _marks(node):
    if isinstance(node, dict):
        yield from node.get("marks", [])
        for c in node.get("content", []):
            yield from _marks(c)


def test_huge_incident_stays_under_the_field_limit(fake_jira):
    assert _jira(fake_jira).send(_n("escalated"), huge_incident()).ok
    text = "".join(_texts(fake_jira.issues["INC-1"]["fields"]["description"]))
    assert len(text) < 32_767 and "Omitted for length" in text


def test_transition_by_name_and_typed_errors(fake_jira):
    jira = _jira(fake_jira)
    key = jira.create_issue("x", {"type": "doc", "version": 1, "content": []})
    assert jira.transition(key, "in progress") == "21"
    with pytest.raises(NotFound, match="available: To Do, In Progress, Done"):
        jira.transition(key, "Closed")
    with pytest.raises(AuthError):
        JiraNotifier(fake_jira.url, JIRA_USER, "bad", "INC", "Incident").create_issue("x", {"type": "doc", "version": 1, "content": []})


def test_vendor_failures_are_failed_receipts_without_secrets(fake_jira):
    fake_jira.fail_next("/rest/api/3/issue", 503)
    r = _jira(fake_jira).send(_n("escalated"), checkout_incident())
    assert not r.ok and "503" in r.detail and JIRA_TOKEN not in r.detail
    bad = JiraNotifier(fake_jira.url, JIRA_USER, "s3cret-token", "NOPE", "Incident")
    r = bad.send(_n("escalated"), checkout_incident())
    assert not r.ok and "401" in r.detail and "s3cret-token" not in r.detail
    r = JiraNotifier("http://127.0.0.1:9", JIRA_USER, JIRA_TOKEN, timeout_s=2).send(_n("escalated"), checkout_incident())
    assert not r.ok and "failed" in r.detail


def test_project_errors_surface_jira_messages(fake_jira):
    r = JiraNotifier(fake_jira.url, JIRA_USER, JIRA_TOKEN, "NOPE", "Incident").send(_n("escalated"), checkout_incident())
    assert not r.ok and "project: Specify a valid project ID or key" in r.detail
