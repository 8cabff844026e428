"""Argo CD notifications (webhook service). Accepts the flat template in docs/brain.md
(``app, syncStatus, healthStatus, revision, operationPhase, repoURL, finishedAt``) or the whole
Application object (``{"app": {{toJson .app}}}``).

A finished sync -> a deploy :class:`Change`; a ``Degraded`` / ``Missing`` health -> an alert signal.
"""
from __future__ import annotations

from typing import Any

from aisre.errors import ValidationError
from aisre.models import Change, Severity, Signal, stable_hash
from aisre.sources.webhooks.common import WebhookResult, commit_url, lookup, parse_time, short_sha, text
from aisre.sources.webhooks.options import WebhookOptions

PHASE = {"Succeeded": "succeeded", "Failed": "failed", "Error": "failed", "Running": "running",
         "Terminating": "running"}
BAD_HEALTH = {"Degraded": Severity.ERROR, "Missing": Severity.ERROR}


def _flatten(body: dict) -> dict[str, Any]:
    app = body.get("app")
    if isinstance(app, dict):  # the full Application object
        meta, spec, status = app.get("metadata") or {}, app.get("spec") or {}, app.get("status") or {}
        op = status.get("operationState") or {}
        src = spec.get("source") or {}
        sync_result = op.get("syncResult") or {}
        return {"app": meta.get("name"), "namespace": meta.get("namespace", ""),
                "labels": meta.get("labels") or {},
                "syncStatus": (status.get("sync") or {}).get("status"),
                "healthStatus": (status.get("health") or {}).get("status"),
                "revision": sync_result.get("revision") or (status.get("sync") or {}).get("revision"),
                "operationPhase": op.get("phase"), "finishedAt": op.get("finishedAt"),
                "startedAt": op.get("startedAt"), "repoURL": src.get("repoURL"),
                "targetRevision": src.get("targetRevision"), "message": op.get("message"),
                "previousRevision": ((status.get("history") or [{}])[-2:-1] or [{}])[0].get("revision", "")}
    return dict(body)


def _version(f: dict[str, Any], rev: str) -> str:
    """A tag-like targetRevision (``v1.42.0``) names the version; otherwise the short commit."""
    target = str(f.get("targetRevision") or "")
    if target and target != "HEAD" and any(ch.isdigit() for ch in target):
        return target
    return short_sha(rev)


def normalise(body: dict, opt: WebhookOptions) -> WebhookResult:
    f = _flatten(body)
    name = f.get("app")
    if not isinstance(name, str) or not name:
        raise ValidationError("argocd payload is missing the app name", what="argocd", path="app")
    if not any(f.get(k) for k in ("syncStatus", "healthStatus", "operationPhase")):
        raise ValidationError("argocd payload has no syncStatus, healthStatus or operationPhase", what="argocd")
    labels = f.get("labels") if isinstance(f.get("labels"), dict) else {}
    service = lookup(opt.service_map, name) or labels.get("service") or labels.get("app.kubernetes.io/name") or name
    rev = str(f.get("revision") or "")
    phase = str(f.get("operationPhase") or "")
    health = str(f.get("healthStatus") or "")
    ts = parse_time(f.get("finishedAt")) or parse_time(f.get("startedAt")) or opt.now
    changes, signals = [], []
    if phase in PHASE and rev:
        changes.append(Change(
            id="argocd-" + stable_hash("argocd", name, rev, f.get("startedAt") or f.get("finishedAt") or ""),
            service=service, kind="deploy", source="argocd", ts=ts, version=_version(f, rev),
            previous_version=short_sha(str(f.get("previousRevision") or "")), commit=rev,
            diff_url=commit_url(str(f.get("repoURL") or ""), rev),
            description=text(f"argocd sync of {name}: {phase}, sync {f.get('syncStatus')}, health {health}. "
                             f"{f.get('message') or ''}", 600),
            status=PHASE[phase]))
    if health in BAD_HEALTH:
        signals.append(Signal(
            id="argocd-" + stable_hash("argocd-health", name, health, rev), kind="alert", source="argocd",
            service=service, name="argocd_app_health", summary=text(f"argocd app {name} health {health}", 300),
            severity=BAD_HEALTH[health], ts=ts, onset_ts=ts, labels={"app": name, "health": health,
                                                                     "revision": short_sha(rev)}))
    elif health == "Healthy" and phase == "Succeeded":
        signals.append(Signal(
            id="argocd-" + stable_hash("argocd-health", name, health, rev), kind="alert", source="argocd",
            service=service, name="argocd_app_health", summary=f"argocd app {name} healthy", ts=ts,
            severity=Severity.INFO, labels={"app": name, "health": health}, resolved=True))
    if not changes and not signals:
        return WebhookResult(ignored=f"argocd {name}: phase {phase or '-'} health {health or '-'} carries no change")
    return WebhookResult(signals=tuple(signals), changes=tuple(changes))
