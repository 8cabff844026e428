"""Datadog monitor webhook (the payload template in docs/brain.md; Datadog's own $VARIABLES).

Recommended template: ``{"id": "$ID", "alert_id": "$ALERT_ID", "title": "$EVENT_TITLE",
"alert_title": "$ALERT_TITLE", "body": "$EVENT_MSG", "alert_transition": "$ALERT_TRANSITION",
"alert_type": "$ALERT_TYPE", "alert_status": "$ALERT_STATUS", "alert_metric": "$ALERT_METRIC",
"priority": "$PRIORITY", "tags": "$TAGS", "hostname": "$HOSTNAME", "date": "$DATE",
"last_updated": "$LAST_UPDATED", "link": "$LINK", "org": {"id": "$ORG_ID", "name": "$ORG_NAME"}}``.
"""
from __future__ import annotations

import re

from aisre.errors import ValidationError
from aisre.models import Severity, Signal, stable_hash
from aisre.sources.webhooks.common import WebhookResult, lookup, number, parse_time, require, tags_to_dict, text
from aisre.sources.webhooks.options import WebhookOptions

PRIORITY = {"p1": Severity.CRITICAL, "p2": Severity.ERROR, "p3": Severity.WARNING, "p4": Severity.INFO,
            "p5": Severity.INFO, "high": Severity.ERROR, "normal": Severity.ERROR, "low": Severity.WARNING}
ALERT_TYPE = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO,
              "success": Severity.INFO}
RECOVERED = {"recovered", "ok", "success", "resolved"}
IGNORED = {"no data", "renotify-no data", "muted", "unmuted"}
_PREFIX = re.compile(r"^\s*\[(?:[A-Za-z -]+)\]\s*")


def normalise(body: dict, opt: WebhookOptions) -> WebhookResult:
    require("datadog", body, "title")
    if not any(body.get(k) for k in ("alert_transition", "alert_type", "alert_id", "event_type")):
        raise ValidationError("datadog payload has none of alert_transition, alert_type, alert_id, event_type "
                              "(is the webhook template the one in docs/brain.md?)", what="datadog")
    transition = str(body.get("alert_transition") or "").strip()
    alert_type = str(body.get("alert_type") or "").strip().lower()
    if transition.lower() in IGNORED:
        return WebhookResult(ignored=f"datadog transition {transition!r} carries no signal")
    tags = tags_to_dict(body.get("tags"))
    service = (lookup(opt.service_map, tags.get("service", ""), str(body.get("alert_id") or ""))
               or tags.get("service") or tags.get("app") or str(body.get("hostname") or "")).strip()
    if not service:
        raise ValidationError("datadog payload names no service: add a service:<name> tag to the monitor",
                              what="datadog", path="tags")
    title = _PREFIX.sub("", str(body.get("alert_title") or body.get("title")))
    monitor = str(body.get("alert_id") or "").strip()
    name = f"monitor:{monitor}" if monitor else title[:200]
    prio = str(body.get("priority") or "").strip().lower()
    severity = PRIORITY.get(prio) or ALERT_TYPE.get(alert_type, Severity.WARNING)
    resolved = transition.lower() in RECOVERED or alert_type == "success"
    ts = parse_time(body.get("last_updated")) or parse_time(body.get("date")) or opt.now
    sid = stable_hash("datadog", body.get("id") or "", monitor, transition, ts)
    labels = {k[:100]: str(v)[:200] for k, v in list(tags.items())[:30]}
    if body.get("alert_metric"):
        labels["metric"] = str(body["alert_metric"])[:200]
    return WebhookResult(signals=(Signal(
        id=f"dd-{sid}", kind="alert", source="datadog", service=service, name=name,
        summary=text(f"{title}: {body.get('body') or ''}", 600), severity=severity, ts=ts,
        onset_ts=None if resolved else ts, value=number(body.get("alert_value")), labels=labels,
        evidence={"monitor_id": monitor, "transition": transition, "alert_type": alert_type,
                  "priority": prio, "link": text(body.get("link"), 500)}, resolved=resolved),))
