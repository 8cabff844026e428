"""CloudWatch alarms delivered by SNS over HTTP(S).

* ``SubscriptionConfirmation`` -> ``confirm_url`` (the caller GETs it to subscribe);
* ``Notification`` whose ``Message`` is the alarm JSON -> a signal (``NewStateValue`` ALARM) or a
  resolved signal (OK); INSUFFICIENT_DATA is ignored;
* ``UnsubscribeConfirmation`` is ignored.
The SNS signature is verified first unless ``verify_sns=False`` (tests of the mapping only).
"""
from __future__ import annotations

import json
import re

from aisre.errors import ValidationError
from aisre.models import Severity, Signal, stable_hash
from aisre.sources.webhooks import sns
from aisre.sources.webhooks.common import WebhookResult, lookup, number, parse_time, require, text
from aisre.sources.webhooks.options import WebhookOptions

SERVICE_DIMENSIONS = ("Service", "ServiceName", "service", "FunctionName", "AutoScalingGroupName",
                      "DBInstanceIdentifier", "ClusterName", "TargetGroup", "LoadBalancer", "QueueName")
_REASON_VALUE = re.compile(r"\[(-?[\d.]+(?:E[+-]?\d+)?)\s*\(")


def normalise(body: dict, opt: WebhookOptions) -> WebhookResult:
    require("cloudwatch", body, "Type")
    mtype = str(body["Type"])
    header_type = opt.headers.get("x-amz-sns-message-type")
    if header_type and header_type != mtype:
        raise ValidationError(f"SNS header says {header_type} but the body says {mtype}", what="cloudwatch")
    if mtype not in ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"):
        raise ValidationError(f"unknown SNS message Type {mtype!r}", what="cloudwatch", path="Type")
    if opt.verify_sns:
        sns.verify(body, opt.cert_fetcher)
    if mtype == "SubscriptionConfirmation":
        url = str(body.get("SubscribeURL") or "")
        sns.check_sns_url(url, str(body.get("TopicArn") or ""), field="SubscribeURL")  # only ever GET SNS itself
        return WebhookResult(confirm_url=url, ignored="SNS subscription confirmation")
    if mtype == "UnsubscribeConfirmation":
        return WebhookResult(ignored="SNS unsubscribe confirmation")
    try:
        alarm = json.loads(body.get("Message") or "")
    except (ValueError, RecursionError):
        raise ValidationError("SNS Message is not CloudWatch alarm JSON", what="cloudwatch", path="Message") from None
    if not isinstance(alarm, dict) or "AlarmName" not in alarm or "NewStateValue" not in alarm:
        raise ValidationError("SNS Message is not a CloudWatch alarm (no AlarmName/NewStateValue)",
                              what="cloudwatch", path="Message")
    state = str(alarm["NewStateValue"]).upper()
    if state == "INSUFFICIENT_DATA":
        return WebhookResult(ignored=f"alarm {alarm['AlarmName']} has insufficient data")
    if state not in ("ALARM", "OK"):
        raise ValidationError(f"unknown alarm state {state!r}", what="cloudwatch", path="Message.NewStateValue")
    trigger = alarm.get("Trigger") if isinstance(alarm.get("Trigger"), dict) else {}
    dims = {str(d.get("name")): str(d.get("value")) for d in trigger.get("Dimensions") or []
            if isinstance(d, dict)}
    name = str(alarm["AlarmName"])
    service = (lookup(opt.service_map, name, *dims.values())
               or next((dims[k] for k in SERVICE_DIMENSIONS if dims.get(k)), None) or name)
    reason = str(alarm.get("NewStateReason") or "")
    m = _REASON_VALUE.search(reason)
    threshold = number(trigger.get("Threshold"))
    op = str(trigger.get("ComparisonOperator") or "")
    ts = parse_time(alarm.get("StateChangeTime")) or parse_time(body.get("Timestamp")) or opt.now
    resolved = state == "OK"
    labels = {"metric": str(trigger.get("MetricName") or ""), "namespace": str(trigger.get("Namespace") or ""),
              "region": str(alarm.get("Region") or ""), **{f"dim_{k}": v[:200] for k, v in list(dims.items())[:10]}}
    return WebhookResult(signals=(Signal(
        id="cw-" + stable_hash("cloudwatch", alarm.get("AlarmArn") or name, ts, state),
        kind="alert", source="cloudwatch", service=service, name=name,
        summary=text(f"{alarm.get('AlarmDescription') or name}: {reason}", 600),
        severity=Severity.ERROR, ts=ts, onset_ts=None if resolved else ts,
        value=number(m.group(1)) if m else None,
        upper=threshold if "Greater" in op else None, lower=threshold if "Less" in op else None,
        labels=labels, resolved=resolved,
        evidence={"alarm_arn": text(alarm.get("AlarmArn"), 300), "old_state": str(alarm.get("OldStateValue") or ""),
                  "new_state": state, "sns_message_id": str(body.get("MessageId") or "")}),))
