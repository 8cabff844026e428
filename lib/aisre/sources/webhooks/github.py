"""GitHub ``deployment_status`` events (X-GitHub-Event: deployment_status).

Other event types (``ping``, ``push`` ...) are ignored. With ``github_secret`` set, the
``X-Hub-Signature-256`` HMAC over the raw body must verify.
"""
from __future__ import annotations

import hashlib
import hmac
import json

from aisre.errors import ValidationError
from aisre.models import Change, stable_hash
from aisre.sources.webhooks.common import WebhookResult, commit_url, lookup, obj, parse_time, short_sha, text
from aisre.sources.webhooks.options import WebhookOptions

STATE = {"success": "succeeded", "failure": "failed", "error": "failed", "inactive": "superseded",
         "pending": "running", "queued": "running", "in_progress": "running"}


def _check_signature(body: dict, opt: WebhookOptions) -> None:
    sig = opt.headers.get("x-hub-signature-256", "")
    raw = opt.raw_body if opt.raw_body is not None else json.dumps(body).encode()
    want = "sha256=" + hmac.new(opt.github_secret.encode(), raw, hashlib.sha256).hexdigest()
    if not sig or not hmac.compare_digest(sig, want):
        raise ValidationError("github webhook signature (X-Hub-Signature-256) does not verify", what="github")


def normalise(body: dict, opt: WebhookOptions) -> WebhookResult:
    event = opt.headers.get("x-github-event", "deployment_status" if "deployment_status" in body else "")
    if opt.github_secret:
        _check_signature(body, opt)
    if event != "deployment_status":
        return WebhookResult(ignored=f"github event {event or 'unknown'} is not deployment_status")
    st = obj("github", body, "deployment_status")
    dep = obj("github", body, "deployment")
    repo = obj("github", body, "repository")
    state = str(st.get("state") or "")
    if state not in STATE:
        raise ValidationError(f"github deployment state {state!r} is unknown", what="github",
                              path="deployment_status.state")
    sha = str(dep.get("sha") or "")
    if not sha:
        raise ValidationError("github deployment has no sha", what="github", path="deployment.sha")
    payload = dep.get("payload") if isinstance(dep.get("payload"), dict) else {}
    full = str(repo.get("full_name") or repo.get("name") or "")
    service = lookup(opt.service_map, full, str(repo.get("name") or "")) or str(payload.get("service") or "") \
        or str(repo.get("name") or "")
    if not service:
        raise ValidationError("github deployment names no repository", what="github", path="repository.name")
    ref = str(dep.get("ref") or "")
    env = str(st.get("environment") or dep.get("environment") or "")
    ts = parse_time(st.get("created_at")) or parse_time(st.get("updated_at")) or opt.now
    return WebhookResult(changes=(Change(
        id="github-" + stable_hash("github", full, dep.get("id")), service=service,
        kind="rollback" if "rollback" in str(dep.get("task") or "") else "deploy", source="github", ts=ts,
        version=ref if ref and ref != sha else short_sha(sha), commit=sha,
        diff_url=commit_url(str(repo.get("html_url") or ""), sha) or text(st.get("target_url"), 500),
        author=text((st.get("creator") or {}).get("login") if isinstance(st.get("creator"), dict) else "", 200),
        description=text(f"github deployment to {env}: {state}. {st.get('description') or ''} "
                         f"{st.get('target_url') or ''}", 600),
        status=STATE[state]),))
