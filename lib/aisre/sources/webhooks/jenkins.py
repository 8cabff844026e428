"""Jenkins Notification plugin (``build.phase`` QUEUED / STARTED / COMPLETED / FINALIZED).

STARTED -> a running deploy change; COMPLETED / FINALIZED -> the finished change (same id, so
the later one replaces the earlier); QUEUED is ignored. Service and version come from the build
parameters (SERVICE / APP, VERSION / TAG / IMAGE_TAG) or the job name through ``service_map``.
"""
from __future__ import annotations

from aisre.errors import ValidationError
from aisre.models import Change, stable_hash
from aisre.sources.webhooks.common import WebhookResult, commit_url, lookup, obj, parse_time, short_sha, text
from aisre.sources.webhooks.options import WebhookOptions

STATUS = {"SUCCESS": "succeeded", "FAILURE": "failed", "UNSTABLE": "failed", "ABORTED": "aborted",
          "NOT_BUILT": "aborted"}


def _param(params: dict, *names: str) -> str:
    for n in names:
        for k, v in params.items():
            if k.lower() == n and v not in (None, ""):
                return str(v)
    return ""


def normalise(body: dict, opt: WebhookOptions) -> WebhookResult:
    job = body.get("name")
    if not isinstance(job, str) or not job:
        raise ValidationError("jenkins payload is missing the job name", what="jenkins", path="name")
    build = obj("jenkins", body, "build")
    phase = str(build.get("phase") or "").upper()
    if phase not in ("QUEUED", "STARTED", "COMPLETED", "FINALIZED"):
        raise ValidationError(f"jenkins build phase {phase!r} is unknown", what="jenkins", path="build.phase")
    if phase == "QUEUED":
        return WebhookResult(ignored=f"jenkins {job} queued")
    params = build.get("parameters") if isinstance(build.get("parameters"), dict) else {}
    scm = build.get("scm") if isinstance(build.get("scm"), dict) else {}
    service = lookup(opt.service_map, job) or _param(params, "service", "app", "application", "service_name") or job
    number = build.get("number")
    sha = str(scm.get("commit") or _param(params, "commit", "git_commit", "sha"))
    version = _param(params, "version", "tag", "image_tag", "release") or short_sha(sha) or f"build-{number}"
    status = "running" if phase == "STARTED" else STATUS.get(str(build.get("status") or "").upper(), "failed")
    started = parse_time(build.get("timestamp")) or opt.now
    duration = build.get("duration") if isinstance(build.get("duration"), (int, float)) else 0
    ts = started + duration / 1000.0 if phase != "STARTED" else started
    kind = "rollback" if "rollback" in job.lower() or _param(params, "action").lower() == "rollback" else "deploy"
    return WebhookResult(changes=(Change(
        id="jenkins-" + stable_hash("jenkins", job, number), service=service, kind=kind, source="jenkins", ts=ts,
        version=version, previous_version=_param(params, "previous_version", "from_version"), commit=sha,
        diff_url=commit_url(str(scm.get("url") or ""), sha) or text(build.get("full_url"), 500),
        author=text(_param(params, "user", "triggered_by"), 200),
        description=text(f"jenkins {job} #{number} {phase.lower()} {build.get('status') or ''} "
                         f"env {_param(params, 'env', 'environment') or '-'}", 600),
        status=status),))
