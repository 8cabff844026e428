"""PagerDuty notifier: Events API v2 through PagerDuty's official ``pagerduty`` client (httpx2).

* ``dedup_key`` is the incident fingerprint (stable fields only, never LLM text), so every event
  about one problem lands on one PagerDuty alert; without a fingerprint, ``aisre-<incident id>``.
* ``escalated`` at severity >= ``min_severity`` -> ``trigger`` (re-triggering with the same key adds
  to the alert), ``acknowledged`` -> ``acknowledge``, ``resolved`` -> ``resolve``; every other kind
  (opened, acting, approval, update) is skipped with an ok receipt, so the notifier is safe to call
  for every notification even without the :class:`~aisre.notify.dispatch.Dispatcher`.
* The payload carries the severity (:data:`SEVERITY_MAP`), ``custom_details`` = the report
  (``render_report(fmt='pagerduty')``), links (only http(s)) and the chart as an image when the
  notification has a ``chart`` link.
* Retries: the client's own (500/502/503/504); 429 is capped at :data:`RATE_LIMIT_RETRIES` so a
  rate-limited page returns a failed receipt instead of looping forever.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

import httpx2
from pagerduty import EventsApiV2Client
from pagerduty.errors import Error as PagerDutyError, UrlError

from aisre.models import Incident, Notification, Receipt, Severity
from aisre.notify.escape import clean, safe_url, truncate
from aisre.notify.report import build_report
from aisre.notify.pd_details import custom_details

log = logging.getLogger(__name__)

SEVERITY_MAP = {Severity.CRITICAL: "critical", Severity.ERROR: "error", Severity.WARNING: "warning",
                Severity.INFO: "info"}
RATE_LIMIT_RETRIES = 2
MAX_SUMMARY = 1024


def dedup_key(notification: Notification, incident: Incident | None = None) -> str:
    """The stable key of one problem: the fingerprint, else ``aisre-<incident id>``."""
    fp = notification.fingerprint or (incident.fingerprint if incident is not None else "")
    return clean(fp or f"aisre-{notification.incident_id}", 255)


class PagerDutyNotifier:
    """Pages on-call via Events API v2. ``transport`` is an ``httpx2`` transport (tests: MockTransport)."""

    channel = "pagerduty"

    def __init__(self, routing_key: str, transport: httpx2.BaseTransport | None = None, *, environment: str = "",
                 links: Mapping[str, str] | None = None, timeout_s: float = 10.0, sleep_timer_s: float = 1.5,
                 source: str = "aisre", min_severity: str | Severity = Severity.INFO) -> None:
        kw: dict[str, Any] = {"transport": transport} if transport is not None else {}
        self.client = EventsApiV2Client(routing_key, **kw)
        self.client.timeout = timeout_s
        self.client.sleep_timer = sleep_timer_s
        self.client.retry[429] = RATE_LIMIT_RETRIES
        self._routing_key = routing_key
        self.environment = environment
        self.links = dict(links or {})
        self.source = source
        self.min_severity = Severity(min_severity)

    def send(self, notification: Notification, incident: Incident | None = None) -> Receipt:
        key = dedup_key(notification, incident)
        try:
            if notification.kind == "resolved":
                self.client.resolve(key)
                return Receipt(channel=self.channel, ok=True, ref=key, detail="resolved")
            if notification.kind == "acknowledged":
                self.client.acknowledge(key)
                return Receipt(channel=self.channel, ok=True, ref=key, detail="acknowledged")
            if notification.kind != "escalated":
                return Receipt(channel=self.channel, ok=True, ref=key, detail=f"not paged: {notification.kind}")
            if notification.severity.rank < self.min_severity.rank:
                return Receipt(channel=self.channel, ok=True, ref=key,
                               detail=f"not paged: severity {notification.severity.value} < {self.min_severity.value}")
            event = self.trigger_event(notification, incident)
            ref = self.client.trigger(dedup_key=key, **event)
            return Receipt(channel=self.channel, ok=True, ref=str(ref or key), detail="triggered")
        except (PagerDutyError, UrlError, httpx2.HTTPError, OSError, ValueError, TypeError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            detail = f"pagerduty {notification.kind} failed" + (f" (HTTP {status})" if status else "") + f": {exc}"
            detail = detail.replace(self._routing_key, "***")
            log.warning("%s", detail)
            return Receipt(channel=self.channel, ok=False, ref=key, detail=truncate(detail, 500))

    def trigger_event(self, notification: Notification, incident: Incident | None) -> dict[str, Any]:
        """Keyword arguments of ``EventsApiV2Client.trigger`` (except ``dedup_key``)."""
        links = {**self.links, **notification.links}
        service = incident.service if incident is not None else ""
        env = self.environment or (incident.environment if incident is not None else "")
        summary = clean(notification.title, MAX_SUMMARY) or f"aisre incident {notification.incident_id}"
        if incident is not None:
            details = custom_details(build_report(incident, environment=env, links=links,
                                                  chart_url=links.get("chart")))
        else:
            details = {"incident_id": clean(notification.incident_id, 80), "text": clean(notification.text, 4000)}
        event: dict[str, Any] = {
            "summary": summary,
            "source": clean(".".join(p for p in (service, env) if p) or self.source, 255),
            "severity": SEVERITY_MAP[notification.severity],
            "custom_details": details,
            "payload": {"component": clean(service, 255) or None, "group": clean(env, 255) or None,
                        "class": clean(notification.kind, 255)},
        }
        event["payload"] = {k: v for k, v in event["payload"].items() if v}
        link_list = [{"href": u, "text": clean(n, 100)} for n, u in sorted(links.items())
                     if n != "chart" and safe_url(u)]
        if link_list:
            event["links"] = link_list
        chart = safe_url(links.get("chart"))
        if chart:
            event["images"] = [{"src": chart, "alt": f"chart of {clean(service, 80) or 'the metric'}"}]
        return event
