"""Generic webhook notifier (requests): the independent fallback route. Never raises.

POSTs JSON ``{"notification": ..., "incident": {id, fingerprint, service, status, severity,
environment}, "report": <markdown report or null>}`` with ``Authorization: Bearer <token>`` when a
token is configured. 2xx is success; anything else is a failed receipt.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

import requests

from aisre.models import Incident, Notification, Receipt
from aisre.notify.escape import clean, truncate
from aisre.notify.report import render_report

log = logging.getLogger(__name__)


class WebhookNotifier:
    channel = "webhook"

    def __init__(self, url: str, token: str | None = None, *, timeout_s: float = 10.0,
                 session: requests.Session | None = None, environment: str = "",
                 kinds: Sequence[str] | None = None) -> None:
        self.url = url
        self._token = token
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        self.environment = environment
        self.kinds = frozenset(kinds) if kinds is not None else None

    def payload(self, notification: Notification, incident: Incident | None = None) -> dict[str, Any]:
        n = notification.to_dict()
        n["title"], n["text"] = clean(notification.title, 1000), clean(notification.text, 20_000, multiline=True)
        body: dict[str, Any] = {"notification": n, "incident": None, "report": None}
        if incident is not None:
            body["incident"] = {"id": incident.id, "fingerprint": incident.fingerprint, "service": incident.service,
                                "status": incident.status.value, "severity": incident.severity.value,
                                "environment": self.environment or incident.environment}
            body["report"] = render_report(incident, "markdown", environment=self.environment,
                                           links=notification.links)
        return body

    def send(self, notification: Notification, incident: Incident | None = None) -> Receipt:
        if self.kinds is not None and notification.kind not in self.kinds:
            return Receipt(channel=self.channel, ok=True, detail=f"not sent: {notification.kind}")
        headers = {"Content-Type": "application/json", "User-Agent": "aisre-notify"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            resp = self.session.post(self.url, json=self.payload(notification, incident), headers=headers,
                                     timeout=self.timeout_s)
        except requests.RequestException as exc:
            return self._fail(f"webhook failed: {type(exc).__name__}")
        if not 200 <= resp.status_code < 300:
            return self._fail(f"webhook answered HTTP {resp.status_code}")
        return Receipt(channel=self.channel, ok=True, ref=str(resp.status_code), detail="delivered")

    def _fail(self, detail: str) -> Receipt:
        if self._token:
            detail = detail.replace(self._token, "***")
        log.warning("%s", detail)
        return Receipt(channel=self.channel, ok=False, detail=truncate(detail, 500))
