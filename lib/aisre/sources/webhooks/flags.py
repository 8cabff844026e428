"""Feature-flag changes: LaunchDarkly webhooks (audit-log entries of kind ``flag``) or a generic
``{"flag", "old", "new", "user", "service", "environment", "ts"}`` body from any flag system.

Service comes from ``service_map[flag]``, a ``service:<name>`` flag tag, or the ``service`` field.
"""
from __future__ import annotations

import json
from typing import Any

from aisre.errors import ValidationError
from aisre.models import Change, stable_hash
from aisre.sources.webhooks.common import WebhookResult, lookup, parse_time, tags_to_dict, text
from aisre.sources.webhooks.options import WebhookOptions


def _show(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)[:200]


def _launchdarkly(body: dict) -> dict[str, Any]:
    cur = body.get("currentVersion") if isinstance(body.get("currentVersion"), dict) else {}
    prev = body.get("previousVersion") if isinstance(body.get("previousVersion"), dict) else {}
    env = ""
    for acc in body.get("accesses") or []:
        res = str(acc.get("resource", "")) if isinstance(acc, dict) else ""
        for part in res.split(":"):
            if part.startswith("env/"):
                env = part[4:]
    envs_now = (cur.get("environments") or {}).get(env, {}) if env else {}
    envs_then = (prev.get("environments") or {}).get(env, {}) if env else {}
    member = body.get("member") if isinstance(body.get("member"), dict) else {}
    return {"flag": cur.get("key") or (body.get("target") or {}).get("name") or body.get("name"),
            "old": envs_then.get("on") if "on" in envs_then else None,
            "new": envs_now.get("on") if "on" in envs_now else None,
            "user": member.get("email") or "", "environment": env, "ts": body.get("date"),
            "tags": cur.get("tags") or [], "id": body.get("_id"),
            "description": body.get("titleVerb") or body.get("description") or ""}


def normalise(body: dict, opt: WebhookOptions) -> WebhookResult:
    if body.get("kind") == "flag" and ("currentVersion" in body or "accesses" in body):
        f = _launchdarkly(body)
    elif "flag" in body:
        f = dict(body)
    elif body.get("kind") not in (None, "flag"):
        return WebhookResult(ignored=f"flag webhook of kind {body.get('kind')!r} is not a flag change")
    else:
        raise ValidationError("flag payload needs 'flag' (generic) or a LaunchDarkly flag entry", what="flags")
    flag = f.get("flag")
    if not isinstance(flag, str) or not flag:
        raise ValidationError("flag payload is missing the flag key", what="flags", path="flag")
    tags = tags_to_dict(f.get("tags") or [])
    service = lookup(opt.service_map, flag) or tags.get("service") or str(f.get("service") or "")
    if not service:
        raise ValidationError(f"flag {flag} maps to no service: add it to the service map or tag it service:<name>",
                              what="flags", path="service")
    ts = parse_time(f.get("ts")) or opt.now
    old, new = f.get("old"), f.get("new")
    return WebhookResult(changes=(Change(
        id="flag-" + stable_hash("flags", flag, f.get("id") or "", ts), service=service, kind="feature_flag",
        source="launchdarkly" if "currentVersion" in body else str(body.get("source") or "flags"), ts=ts,
        version=f"{flag}={_show(new)}", previous_version=f"{flag}={_show(old)}",
        author=text(f.get("user"), 200, redact_text=False),
        description=text(f"flag {flag} {_show(old)} -> {_show(new)} in {f.get('environment') or '-'} "
                         f"by {f.get('user') or '?'}. {f.get('description') or ''}", 600)),))
