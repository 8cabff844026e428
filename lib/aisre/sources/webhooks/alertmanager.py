"""Prometheus Alertmanager webhook (``version: "4"``): one signal per alert in ``alerts[]``."""
from __future__ import annotations

from aisre.errors import ValidationError
from aisre.models import Severity, Signal, stable_hash
from aisre.sources.webhooks.common import WebhookResult, lookup, number, parse_time, require, text
from aisre.sources.webhooks.options import WebhookOptions

SEVERITY = {"critical": Severity.CRITICAL, "page": Severity.CRITICAL, "high": Severity.ERROR,
            "error": Severity.ERROR, "major": Severity.ERROR, "warning": Severity.WARNING,
            "minor": Severity.WARNING, "info": Severity.INFO, "none": Severity.INFO, "low": Severity.INFO}
SERVICE_LABELS = ("service", "app", "app_kubernetes_io_name", "job", "deployment", "container", "namespace")


def normalise(body: dict, opt: WebhookOptions) -> WebhookResult:
    require("alertmanager", body, "alerts")
    version = str(body.get("version", "4"))
    if version != "4":
        raise ValidationError(f"alertmanager webhook version {version} is not supported (want 4)", what="alertmanager")
    alerts = body["alerts"]
    if not isinstance(alerts, list):
        raise ValidationError("alertmanager alerts must be a list", what="alertmanager", path="alerts")
    common = body.get("commonLabels") if isinstance(body.get("commonLabels"), dict) else {}
    signals = []
    for i, a in enumerate(alerts):
        if not isinstance(a, dict) or not isinstance(a.get("labels"), dict):
            raise ValidationError(f"alertmanager alert #{i} has no labels object", what="alertmanager",
                                  path=f"alerts[{i}].labels")
        labels = {str(k): str(v) for k, v in {**common, **a["labels"]}.items()}
        ann = a.get("annotations") if isinstance(a.get("annotations"), dict) else {}
        alertname = labels.get("alertname")
        if not alertname:
            raise ValidationError(f"alertmanager alert #{i} has no alertname label", what="alertmanager",
                                  path=f"alerts[{i}].labels.alertname")
        service = lookup(opt.service_map, alertname) or next((labels[k] for k in SERVICE_LABELS if labels.get(k)), "")
        if not service:
            raise ValidationError(f"alertmanager alert {alertname} has no service/app/job label", what="alertmanager",
                                  path=f"alerts[{i}].labels")
        resolved = str(a.get("status", body.get("status", "firing"))).lower() == "resolved"
        starts = parse_time(a.get("startsAt"), opt.now)
        ends = parse_time(a.get("endsAt"))
        ts = (ends or opt.now) if resolved else starts
        sid = stable_hash("alertmanager", a.get("fingerprint") or sorted(labels.items()), a.get("startsAt"), resolved)
        signals.append(Signal(
            id=f"am-{sid}", kind="alert", source="alertmanager", service=service, name=alertname,
            summary=text(ann.get("summary") or ann.get("description") or alertname, 600),
            severity=SEVERITY.get(labels.get("severity", "").lower(), Severity.WARNING), ts=ts,
            onset_ts=starts, value=number(ann.get("value")), labels={k: v[:200] for k, v in list(labels.items())[:40]},
            evidence={"fingerprint": str(a.get("fingerprint") or ""), "generator_url": text(a.get("generatorURL"), 500),
                      "runbook_url": text(ann.get("runbook_url"), 500), "description": text(ann.get("description"), 600)},
            resolved=resolved))
    if not signals:
        return WebhookResult(ignored="alertmanager payload has no alerts")
    return WebhookResult(signals=tuple(signals))
