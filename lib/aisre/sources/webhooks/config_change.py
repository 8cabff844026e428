"""Config changes (our own small format, posted by a config repo's CI or a config service):
``{"service", "key"|"path", "old", "new", "user", "ts", "commit", "diff_url", "environment", "id"}``;
``changes: [...]`` may carry several at once.
"""
from __future__ import annotations

import json
from typing import Any

from aisre.errors import ValidationError
from aisre.models import Change, stable_hash
from aisre.sources.webhooks.common import WebhookResult, lookup, parse_time, short_sha, text
from aisre.sources.webhooks.options import WebhookOptions


def _one(item: Any, i: int, opt: WebhookOptions) -> Change:
    if not isinstance(item, dict):
        raise ValidationError(f"config change #{i} must be an object", what="config", path=f"changes[{i}]")
    key = str(item.get("key") or item.get("path") or "")
    service = lookup(opt.service_map, key) or str(item.get("service") or "")
    if not service or not key:
        raise ValidationError(f"config change #{i} needs service and key", what="config", path=f"changes[{i}]")
    ts = parse_time(item.get("ts") or item.get("timestamp")) or opt.now
    show = lambda v: v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)  # noqa: E731
    commit = str(item.get("commit") or "")
    return Change(
        id="config-" + stable_hash("config", service, key, item.get("id") or commit or ts), service=service,
        kind="config", source=str(item.get("source") or "config"), ts=ts,
        version=short_sha(commit) or f"{key}@{int(ts)}", commit=commit, diff_url=text(item.get("diff_url"), 500),
        author=text(item.get("user") or item.get("author"), 200, redact_text=False),
        description=text(f"config {key}: {show(item.get('old'))[:200]} -> {show(item.get('new'))[:200]} "
                         f"in {item.get('environment') or '-'}", 600))


def normalise(body: dict, opt: WebhookOptions) -> WebhookResult:
    items = body.get("changes") if "changes" in body else [body]
    if not isinstance(items, list) or not items:
        raise ValidationError("config payload has no changes", what="config", path="changes")
    return WebhookResult(changes=tuple(_one(x, i, opt) for i, x in enumerate(items)))
