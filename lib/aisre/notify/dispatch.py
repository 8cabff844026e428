"""Routing notifications to channels, with dedup, and building notifiers from config.

Routing (:meth:`Dispatcher.route`), per notification kind:

============ ============================================================================
channel      receives
============ ============================================================================
slack        everything
console      everything
pagerduty    ``escalated`` at severity >= ``notify.pagerduty.min_severity``; ``resolved`` /
             ``acknowledged`` only for a fingerprint that was paged
jira         ``escalated``; ``resolved`` when the incident was auto-remediated (a succeeded
             action) or escalated (its ticket is then closed)
email,       the fallback route: ``escalated`` and ``approval`` only when every primary channel
webhook      routed for that notification failed (or none is configured)
============ ============================================================================

Dedup: ``opened``, ``escalated`` and ``resolved`` are delivered once per (fingerprint, kind,
channel) within ``notify.dedup_ttl_minutes``; a channel is marked only after a successful send, so
a failure is retried next time. A successful ``resolved`` clears the fingerprint's marks, so the
same problem coming back later pages again.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping, Sequence, TextIO

from aisre.errors import StateError
from aisre.models import Incident, Notification, Receipt, Severity, stable_hash
from aisre.notify.base import Notifier
from aisre.state import MemoryStore, StateStore, claim

log = logging.getLogger(__name__)

#: The notifier family: channel -> "module:Class" (explicit; a test checks every module is listed).
NOTIFIERS = {
    "console": "aisre.notify.console:ConsoleNotifier",
    "slack": "aisre.notify.slack:SlackNotifier",
    "pagerduty": "aisre.notify.pagerduty:PagerDutyNotifier",
    "jira": "aisre.notify.jira:JiraNotifier",
    "email": "aisre.notify.mail:EmailNotifier",
    "webhook": "aisre.notify.webhook:WebhookNotifier",
}

DEDUP_KINDS = frozenset({"opened", "escalated", "resolved"})
PRIMARY = frozenset({"slack", "pagerduty", "jira", "console"})
FALLBACK = frozenset({"email", "webhook"})
FALLBACK_KINDS = ("escalated", "approval")
DEDUP_KEY = "aisre.dedup.notify.{digest}"
PAGED_KEY = "aisre.notify.paged.{fingerprint}"
DEFAULT_DEDUP_TTL_MINUTES = 240.0
CLAIM_TTL_S = 120.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class DispatchResult:
    """What happened to one notification: the receipts of the channels tried and why others were not."""
    receipts: tuple[Receipt, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()      # (channel, reason)

    @property
    def ok(self) -> bool:
        """At least one channel delivered it (or nothing needed to be sent)."""
        return any(r.ok for r in self.receipts) or not self.receipts

    def to_dict(self) -> dict[str, Any]:
        return {"receipts": [r.to_dict() for r in self.receipts],
                "skipped": [{"channel": c, "reason": why} for c, why in self.skipped]}


def _fingerprint(notification: Notification, incident: Incident | None) -> str:
    return notification.fingerprint or (incident.fingerprint if incident is not None else "") or \
        f"incident:{notification.incident_id}"


class Dispatcher:
    """Sends one notification to the channels that should get it. Never raises."""

    def __init__(self, notifiers: Sequence[Notifier], *, store: StateStore | None = None,
                 pagerduty_min_severity: str | Severity = Severity.ERROR,
                 dedup_ttl_minutes: float = DEFAULT_DEDUP_TTL_MINUTES) -> None:
        self.notifiers = list(notifiers)
        self.store: StateStore = store if store is not None else MemoryStore()
        self.min_severity = Severity(pagerduty_min_severity)
        self.dedup_ttl_s = dedup_ttl_minutes * 60

    # ------------------------------------------------------------------ routing

    def wants(self, channel: str, notification: Notification, incident: Incident | None) -> str | None:
        """None when ``channel`` should get ``notification``, else the reason it should not."""
        kind = notification.kind
        if channel in ("slack", "console"):
            return None
        if channel == "pagerduty":
            if kind == "escalated":
                if notification.severity.rank < self.min_severity.rank:
                    return f"severity {notification.severity.value} below pagerduty.min_severity {self.min_severity.value}"
                return None
            if kind in ("resolved", "acknowledged"):
                return None if self._was_paged(_fingerprint(notification, incident)) else "never paged"
            return "pagerduty only pages escalations"
        if channel == "jira":
            if kind == "escalated":
                return None
            if kind == "update":   # new evidence on an escalated incident: a comment on its ticket
                return None if incident is not None and incident.escalated_at is not None else \
                    "jira comments only on escalated incidents"
            if kind == "resolved":
                if incident is None:
                    return "no incident to record"
                if incident.escalated_at is not None or any(a.ok for a in incident.actions):
                    return None
                return "resolved without action or escalation"
            return "jira records escalations, their updates and resolutions"
        if channel in FALLBACK:
            return None if kind in FALLBACK_KINDS else "fallback route carries escalations only"
        return None  # unknown channels get everything

    def route(self, notification: Notification, incident: Incident | None = None) -> list[tuple[Notifier, str | None]]:
        return [(n, self.wants(n.channel, notification, incident)) for n in self.notifiers]

    # ------------------------------------------------------------------ dedup state

    def _dedup_key(self, fingerprint: str, kind: str, channel: str) -> str:
        return DEDUP_KEY.format(digest=stable_hash(fingerprint, kind, channel))

    def _seen(self, key: str) -> bool:
        try:
            return self.store.get(key) is not None
        except StateError as exc:
            log.warning("dedup state unavailable, sending anyway: %s", exc)
            return False

    def _claim(self, key: str) -> bool:
        """Reserve (fingerprint, kind, channel) before sending, atomically where the store allows, so two
        nodes dispatching the same notice at once send it once. The reservation expires after
        ``CLAIM_TTL_S`` if this node dies before the send finishes, so the notice is not lost."""
        try:
            return claim(self.store, key, "sending", ttl_s=CLAIM_TTL_S)
        except StateError as exc:
            log.warning("dedup state unavailable, sending anyway: %s", exc)
            return True

    def _mark(self, key: str, ttl_s: float | None) -> None:
        try:
            self.store.set(key, "1", ttl_s=ttl_s)
        except StateError as exc:
            log.warning("cannot record dedup mark: %s", exc)

    def _clear(self, key: str) -> None:
        try:
            self.store.delete(key)
        except StateError as exc:
            log.warning("cannot clear dedup mark: %s", exc)

    def _was_paged(self, fingerprint: str) -> bool:
        return self._seen(PAGED_KEY.format(fingerprint=stable_hash(fingerprint)))

    # ------------------------------------------------------------------ dispatch

    def _send(self, notifier: Notifier, notification: Notification, incident: Incident | None) -> Receipt:
        try:
            return notifier.send(notification, incident)
        except Exception as exc:  # noqa: BLE001 - the notifier contract says never raise; hold it to that here
            log.error("notifier %s raised %s", getattr(notifier, "channel", "?"), type(exc).__name__)
            return Receipt(channel=getattr(notifier, "channel", "unknown"), ok=False,
                           detail=f"notifier raised {type(exc).__name__}")

    def dispatch(self, notification: Notification, incident: Incident | None = None) -> DispatchResult:
        fp = _fingerprint(notification, incident)
        kind = notification.kind
        receipts: list[Receipt] = []
        skipped: list[tuple[str, str]] = []
        fallbacks: list[Notifier] = []
        for notifier, why_not in self.route(notification, incident):
            channel = notifier.channel
            if why_not is not None:
                skipped.append((channel, why_not))
                continue
            if channel in FALLBACK:
                fallbacks.append(notifier)
                continue
            key = self._dedup_key(fp, kind, channel)
            if kind in DEDUP_KINDS and not self._claim(key):
                skipped.append((channel, f"already sent {kind} for this fingerprint"))
                continue
            receipt = self._send(notifier, notification, incident)
            receipts.append(receipt)
            if kind in DEDUP_KINDS:
                if receipt.ok:
                    self._mark(key, self.dedup_ttl_s)
                else:
                    self._clear(key)          # not delivered: the next attempt may send it
            if receipt.ok and channel == "pagerduty" and kind == "escalated":
                self._mark(PAGED_KEY.format(fingerprint=stable_hash(fp)), None)
        primaries_ok = any(r.ok for r in receipts if r.channel not in ("console",))
        for notifier in fallbacks:
            if primaries_ok:
                skipped.append((notifier.channel, "a primary channel delivered it"))
                continue
            receipts.append(self._send(notifier, notification, incident))
        if kind == "resolved" and any(r.ok for r in receipts):
            for notifier in self.notifiers:
                for k in DEDUP_KINDS:
                    self._clear(self._dedup_key(fp, k, notifier.channel))
            self._clear(PAGED_KEY.format(fingerprint=stable_hash(fp)))
        return DispatchResult(receipts=tuple(receipts), skipped=tuple(skipped))


# --------------------------------------------------------------------------- config


def _section(config: Any) -> tuple[Mapping[str, Any], str]:
    notify = getattr(config, "notify", None)
    if notify is None and isinstance(config, Mapping):
        return config.get("notify", {}) or {}, str(config.get("environment", ""))
    return notify or {}, str(getattr(config, "environment", ""))


def build_notifiers(config: Any, store: StateStore, *, console: TextIO | None = None) -> list[Notifier]:
    """Notifiers for every channel configured under ``notify`` (a :class:`~aisre.config.Config` or its dict).

    ``console`` adds a :class:`ConsoleNotifier` writing to that stream (CLI, drills). No network I/O here.
    """
    notify, env = _section(config)
    out: list[Notifier] = []
    if console is not None:
        from aisre.notify.console import ConsoleNotifier
        out.append(ConsoleNotifier(console, environment=env))
    if notify.get("slack"):
        from aisre.notify.slack import SlackNotifier
        s = notify["slack"]
        out.append(SlackNotifier(s["token"], s.get("channel", "#incidents"), base_url=s.get("base_url"), store=store,
                                 approval_channel=s.get("approval_channel"), environment=env))
    if notify.get("pagerduty"):
        from aisre.notify.pagerduty import PagerDutyNotifier
        pd = notify["pagerduty"]
        out.append(PagerDutyNotifier(pd["routing_key"], environment=env, min_severity=pd.get("min_severity", "error")))
    if notify.get("jira"):
        from aisre.notify.jira import JiraNotifier
        j = notify["jira"]
        out.append(JiraNotifier(j["url"], j.get("user", ""), j.get("api_token", ""), j.get("project", "INC"),
                                j.get("issue_type", "Incident"), store=store, environment=env))
    email = notify.get("email") or {}
    if email.get("smtp_host") and email.get("to"):
        from aisre.notify.mail import EmailNotifier
        out.append(EmailNotifier(email["smtp_host"], email["to"], smtp_port=email.get("smtp_port", 587),
                                 username=email.get("username"), password=email.get("password"),
                                 sender=email.get("sender", "aisre@localhost"), environment=env,
                                 kinds=FALLBACK_KINDS))
    if notify.get("fallback_webhook"):
        from aisre.notify.webhook import WebhookNotifier
        w = notify["fallback_webhook"]
        out.append(WebhookNotifier(w["url"], w.get("token"), environment=env, kinds=FALLBACK_KINDS))
    return out


def build_dispatcher(config: Any, store: StateStore, *, console: TextIO | None = None) -> Dispatcher:
    """A :class:`Dispatcher` over :func:`build_notifiers`, with the config's PagerDuty threshold and dedup TTL."""
    notify, _ = _section(config)
    return Dispatcher(build_notifiers(config, store, console=console), store=store,
                      pagerduty_min_severity=(notify.get("pagerduty") or {}).get("min_severity", "error"),
                      dedup_ttl_minutes=float(notify.get("dedup_ttl_minutes", DEFAULT_DEDUP_TTL_MINUTES)))
