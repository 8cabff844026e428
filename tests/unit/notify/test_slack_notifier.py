"""SlackNotifier against the loopback fake Slack Web API (real slack-sdk WebClient on the wire)."""
from __future__ import annotations

import json

from aisre.models import Notification, Severity
from aisre.notify.slack import SlackNotifier, thread_key
from aisre.state import MemoryStore
from plugins.fake_chat import SLACK_TOKEN
from plugins.notify_samples import checkout_incident, hostile_incident, huge_incident


def _n(kind: str, **kw) -> Notification:
    inc = checkout_incident()
    return Notification(incident_id=inc.id, kind=kind, title=kw.pop("title", f"checkout {kind}"),
                        text=kw.pop("text", "details"), severity=Severity.CRITICAL, fingerprint=inc.fingerprint, **kw)


def test_one_thread_per_incident_with_head_updates(fake_slack):
    store = MemoryStore()
    slack = SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url, store=store)
    inc = checkout_incident()
    r1 = slack.send(_n("opened"), inc)
    assert r1.ok and r1.detail == "thread started"
    head = json.loads(store.get(thread_key(inc.id)))
    assert head == {"channel": "C0INCIDENT", "ts": r1.ref}
    r2 = slack.send(_n("acting", title="restart_deployment checkout"), inc)
    r3 = slack.send(_n("resolved"), inc)
    assert r2.ok and r3.ok and "head updated" in r2.detail
    # a second notifier (another process) sharing the store posts into the same thread
    SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url, store=store).send(_n("update"))
    heads = [m for m in fake_slack.messages if "thread_ts" not in m]
    assert len(heads) == 1
    replies = fake_slack.thread("C0INCIDENT", head["ts"])
    assert [m["text"].split(":")[1] for m in replies] == ["hammer_and_wrench", "white_check_mark", "information_source"]
    assert "taking action" in replies[0]["text"]
    assert heads[0].get("edited") == 2
    assert fake_slack.called("chat.update")[0]["ts"] == head["ts"]


def test_approval_prompt_carries_the_cli_and_inquiry_hints(fake_slack):
    slack = SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url, approval_channel="#approvals")
    slack.send(_n("opened"), checkout_incident())
    r = slack.send(_n("approval", title="restart_deployment checkout (caution)", links={"inquiry": "5f0c1e"}),
                   checkout_incident())
    assert r.ok and "approval prompt posted" in r.detail
    texts = [json.dumps(m["blocks"]) for m in fake_slack.messages if m["channel"] == "C0APPROVAL"]
    assert texts and "aisre approve inc-20261128-0115-checkout" in texts[0]
    assert "st2 inquiry respond 5f0c1e" in texts[0]


def test_chart_is_uploaded_into_the_thread(fake_slack, tmp_path):
    png = tmp_path / "checkout.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    slack = SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url)
    r = slack.send(_n("escalated", attachments=(str(png), str(tmp_path / "missing.png"))), checkout_incident())
    assert r.ok and "uploaded checkout.png" in r.detail and "attachment missing.png missing" in r.detail
    (file_id, data), = fake_slack.uploads.items()
    assert data == png.read_bytes()
    share = [m for m in fake_slack.messages if m.get("subtype") == "file_share"][0]
    head = [m for m in fake_slack.messages if "thread_ts" not in m and m.get("subtype") is None][0]
    assert share["thread_ts"] == head["ts"] and share["files"][0]["id"] == file_id


def test_huge_incident_fits_slack_limits(fake_slack):
    slack = SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url)
    r = slack.send(_n("escalated"), huge_incident())
    assert r.ok, r.detail  # the fake rejects >50 blocks or >3000-char texts like Slack does
    head = fake_slack.messages[0]
    assert len(head["blocks"]) <= 50


def test_hostile_text_cannot_ping_or_link(fake_slack):
    slack = SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url)
    r = slack.send(_n("escalated", title="<!channel> wake up @here", text="<https://evil|x>"), hostile_incident())
    assert r.ok
    blob = json.dumps([m["blocks"] for m in fake_slack.messages]) + json.dumps([m["text"] for m in fake_slack.messages])
    assert "<!channel>" not in blob and "<!here>" not in blob and "<https://evil" not in blob
    assert "@here" not in blob and "@everyone" not in blob


def test_vendor_errors_come_back_as_failed_receipts(fake_slack):
    slack = SlackNotifier(SLACK_TOKEN, "#nope", base_url=fake_slack.url)
    r = slack.send(_n("opened"), checkout_incident())
    assert not r.ok and "channel_not_found" in r.detail
    bad = SlackNotifier("xoxb-wrong", "#incidents", base_url=fake_slack.url)
    r = bad.send(_n("opened"))
    assert not r.ok and "invalid_auth" in r.detail and "xoxb-wrong" not in r.detail
    ok = SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url)
    fake_slack.fail_next("chat.postMessage", "fatal_error", status=500)
    assert not ok.send(_n("opened")).ok
    dead = SlackNotifier(SLACK_TOKEN, "#incidents", base_url="http://127.0.0.1:9/api/", timeout_s=2)
    r = dead.send(_n("opened"))
    assert not r.ok and "failed" in r.detail


def test_failed_head_post_does_not_store_a_thread(fake_slack):
    store = MemoryStore()
    slack = SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url, store=store)
    fake_slack.fail_next("chat.postMessage", "ratelimited", status=429)
    assert not slack.send(_n("opened"), checkout_incident()).ok
    assert store.get(thread_key(checkout_incident().id)) is None
    assert slack.send(_n("opened"), checkout_incident()).ok


def test_deleted_head_does_not_stop_thread_replies(fake_slack):
    slack = SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url)
    slack.send(_n("opened"), checkout_incident())
    fake_slack.messages.clear()  # someone deleted the head message
    fake_slack.messages.append({"type": "message", "channel": "C0INCIDENT",
                                "ts": slack.thread(checkout_incident().id)["ts"], "text": "(deleted)", "blocks": []})
    fake_slack.fail_next("chat.update", "message_not_found")
    r = slack.send(_n("acting"), checkout_incident())
    assert r.ok and "head not updated (message_not_found)" in r.detail and "reply posted" in r.detail
