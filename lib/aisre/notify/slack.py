"""Slack notifier: one thread per incident, the head message kept current with ``chat.update``.

Wire calls (slack-sdk ``WebClient``): ``chat.postMessage`` (head, then thread replies),
``chat.update`` (head, as the incident moves), ``files_upload_v2`` (charts into the thread:
files.getUploadURLExternal + upload + files.completeUploadExternal).

The head message's ``{"channel": <id>, "ts": <ts>}`` is kept in the StateStore under
``aisre.slack.thread.<incident_id>`` so every process (sensor, action, CLI) posts into one thread.

Thread replies by notification kind: ``acting`` "🛠 taking action", ``resolved`` "✅ resolved",
``escalated`` "🚨 escalated", ``approval`` "✋ approval needed" with the ``aisre approve <id>`` /
``st2 inquiry respond <inquiry id>`` hint (the inquiry id is taken from ``notification.links['inquiry']``
when present), anything else "ℹ️". :meth:`SlackNotifier.send` never raises.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Mapping

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from aisre.errors import StateError
from aisre.models import Incident, Notification, Receipt
from aisre.notify.blocks import MAX_TEXT, context, enforce_limits, fallback_text, report_blocks, section
from aisre.notify.escape import clean, code_mrkdwn, mrkdwn, mrkdwn_url, truncate
from aisre.notify.report import build_report
from aisre.state import MemoryStore, StateStore

log = logging.getLogger(__name__)

THREAD_KEY = "aisre.slack.thread.{incident_id}"
THREAD_TTL_S = 30 * 86400
_HEAD_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
DEFAULT_BASE_URL = "https://slack.com/api/"

_KIND_PREFIX = {
    "opened": ":rotating_light: incident opened",
    "acting": ":hammer_and_wrench: taking action",
    "resolved": ":white_check_mark: resolved",
    "escalated": ":rotating_light: escalated to on-call",
    "approval": ":raised_hand: approval needed",
    "update": ":information_source: update",
}


def _api_error(exc: SlackApiError) -> str:
    """Slack's error code (``channel_not_found``, ``ratelimited`` ...) or the HTTP status."""
    resp = exc.response
    try:
        return str(resp.get("error") or f"HTTP {resp.status_code}")
    except (AttributeError, TypeError, ValueError):
        return "unknown error"


def thread_key(incident_id: str) -> str:
    return THREAD_KEY.format(incident_id=incident_id)


def approval_hint(incident_id: str, inquiry_id: str = "") -> str:
    """How to approve: the aisre CLI, ChatOps alias and, when known, the st2 inquiry."""
    hint = f"Approve with `aisre approve {code_mrkdwn(incident_id)}` (or deny with `aisre deny {code_mrkdwn(incident_id)}`)"
    if inquiry_id:
        hint += (f", or `st2 inquiry respond {code_mrkdwn(inquiry_id)} -r '{{\"approved\": true}}'`")
    return hint + "."


def notice_blocks(notification: Notification) -> list[dict[str, Any]]:
    """The thread reply for one notification."""
    prefix = _KIND_PREFIX.get(notification.kind, _KIND_PREFIX["update"])
    body = f"*{prefix}:* {mrkdwn(notification.title, 500)}"
    if notification.text:
        body += "\n" + mrkdwn(notification.text, MAX_TEXT - len(body) - 10, multiline=True)
    blocks = [section(body)]
    if notification.kind == "approval":
        blocks.append(section(approval_hint(notification.incident_id, clean(notification.links.get("inquiry", ""), 80))))
    links = [f"<{mrkdwn_url(u)}|{mrkdwn(n, 40)}>" for n, u in sorted(notification.links.items()) if mrkdwn_url(u)]
    if links:
        blocks.append(context(" · ".join(links)))
    return enforce_limits(blocks)


def notice_text(notification: Notification) -> str:
    prefix = _KIND_PREFIX.get(notification.kind, _KIND_PREFIX["update"])
    return truncate(f"{prefix}: {mrkdwn(notification.title)}", 3000)


class SlackNotifier:
    """Posts incident threads to Slack. See the module docstring for the message flow.

    Parameters
    ----------
    token : bot token (``xoxb-...``); never logged or put into a receipt.
    channel : channel name or id for incident threads.
    base_url : Web API base, ending in ``/api/`` (a fake server in tests).
    store : where thread ids live; a :class:`MemoryStore` if omitted (one process only).
    approval_channel : if set, approval prompts are also posted there.
    """

    channel = "slack"

    def __init__(self, token: str, channel: str, base_url: str | None = None, store: StateStore | None = None, *,
                 approval_channel: str | None = None, environment: str = "",
                 links: Mapping[str, str] | None = None, timeout_s: int = 10) -> None:
        base = base_url or DEFAULT_BASE_URL
        if not base.endswith("/"):
            base += "/"
        self._token = token
        self.target = channel
        self.approval_channel = approval_channel
        self.environment = environment
        self.links = dict(links or {})
        self.store: StateStore = store if store is not None else MemoryStore()
        self.client = WebClient(token=token, base_url=base, timeout=timeout_s)

    # ------------------------------------------------------------------ public

    def send(self, notification: Notification, incident: Incident | None = None) -> Receipt:
        try:
            return self._send(notification, incident)
        except SlackApiError as exc:
            return self._fail(f"slack API error: {_api_error(exc)}")
        except (SlackClientError, OSError, ValueError) as exc:
            return self._fail(f"slack request failed: {type(exc).__name__}: {exc}")
        except StateError as exc:
            return self._fail(f"slack thread state unavailable: {exc}")

    def thread(self, incident_id: str) -> dict[str, str] | None:
        """The stored ``{"channel", "ts"}`` of an incident's head message, if any."""
        raw = self.store.get(thread_key(incident_id))
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        if isinstance(data, dict) and data.get("channel") and data.get("ts"):
            return {"channel": str(data["channel"]), "ts": str(data["ts"])}
        return None

    # ------------------------------------------------------------------ internals

    def _fail(self, detail: str) -> Receipt:
        detail = detail.replace(self._token, "***") if self._token else detail
        log.warning("slack notification failed: %s", detail)
        return Receipt(channel=self.channel, ok=False, detail=truncate(detail, 500))

    def _head(self, notification: Notification, incident: Incident | None) -> tuple[list[dict[str, Any]], str]:
        if incident is not None:
            links = {**self.links, **notification.links}
            report = build_report(incident, environment=self.environment, links=links)
            return report_blocks(report), fallback_text(report)
        return notice_blocks(notification), notice_text(notification)

    def _send(self, notification: Notification, incident: Incident | None) -> Receipt:
        notes: list[str] = []
        thread = self.thread(notification.incident_id)
        blocks, text = self._head(notification, incident)
        started = thread is None
        if thread is None:
            resp = self.client.chat_postMessage(channel=self.target, text=text, blocks=blocks,
                                                unfurl_links=False, unfurl_media=False)
            thread = {"channel": str(resp["channel"]), "ts": str(resp["ts"])}
            self.store.set(thread_key(notification.incident_id), json.dumps(thread), ttl_s=THREAD_TTL_S)
            notes.append("thread started")
        elif incident is not None:
            try:
                self.client.chat_update(channel=thread["channel"], ts=thread["ts"], text=text, blocks=blocks)
                notes.append("head updated")
            except SlackApiError as exc:
                # The head was deleted or is too old to edit: keep replying in the thread.
                if _api_error(exc) not in _HEAD_GONE:
                    raise
                notes.append(f"head not updated ({_api_error(exc)})")
        ref = thread["ts"]
        # A new head already says everything when it is the notice itself or the opening report.
        if not (started and (incident is None or notification.kind == "opened")):
            resp = self.client.chat_postMessage(channel=thread["channel"], thread_ts=thread["ts"],
                                                text=notice_text(notification), blocks=notice_blocks(notification),
                                                unfurl_links=False, unfurl_media=False)
            ref = str(resp["ts"])
            notes.append("reply posted")
        if notification.kind == "approval" and self.approval_channel:
            self.client.chat_postMessage(channel=self.approval_channel, text=notice_text(notification),
                                         blocks=notice_blocks(notification), unfurl_links=False)
            notes.append("approval prompt posted")
        for path in notification.attachments:
            notes.append(self._upload(path, thread))
        return Receipt(channel=self.channel, ok=True, ref=ref, detail="; ".join(notes))

    def _upload(self, path: str, thread: Mapping[str, str]) -> str:
        """Upload one file into the thread; a missing file or failed upload is reported, not raised."""
        name = os.path.basename(path)
        if not os.path.isfile(path):
            return f"attachment {name} missing"
        try:
            self.client.files_upload_v2(file=path, filename=name, title=name, channel=thread["channel"],
                                        thread_ts=thread["ts"])
        except SlackApiError as exc:
            return f"upload of {name} failed: {_api_error(exc)}"
        except (SlackClientError, OSError) as exc:
            return f"upload of {name} failed: {type(exc).__name__}"
        return f"uploaded {name}"
