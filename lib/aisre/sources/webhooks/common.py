"""Shared helpers for webhook normalisers: the result type, body parsing, time parsing, field access."""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import re
from typing import Any, Mapping

from aisre.errors import ValidationError
from aisre.models import Change, Signal

MAX_BODY_BYTES = 1_000_000
MAX_TEXT = 2000


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookResult:
    """What one webhook delivery means: signals, changes, an SNS confirm URL, or why it was ignored."""
    signals: tuple[Signal, ...] = ()
    changes: tuple[Change, ...] = ()
    confirm_url: str | None = None
    ignored: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"signals": [s.to_dict() for s in self.signals], "changes": [c.to_dict() for c in self.changes],
                "confirm_url": self.confirm_url, "ignored": self.ignored}


def parse_body(kind: str, body: Any) -> dict[str, Any]:
    """Accept a dict, JSON text or bytes; anything else is a :class:`ValidationError`."""
    if isinstance(body, (bytes, bytearray)):
        if len(body) > MAX_BODY_BYTES:
            raise ValidationError(f"{kind} payload too large ({len(body)} bytes)", what=kind)
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"{kind} payload is not UTF-8", what=kind) from None
    if isinstance(body, str):
        if len(body) > MAX_BODY_BYTES:
            raise ValidationError(f"{kind} payload too large ({len(body)} chars)", what=kind)
        try:
            body = json.loads(body)
        except RecursionError:
            raise ValidationError(f"{kind} payload is nested too deeply", what=kind) from None
        except ValueError as exc:
            raise ValidationError(f"{kind} payload is not JSON: {exc}", what=kind) from None
    if not isinstance(body, Mapping):
        raise ValidationError(f"{kind} payload must be a JSON object, got {type(body).__name__}", what=kind)
    return dict(body)


def require(kind: str, data: Mapping[str, Any], *names: str) -> None:
    missing = [n for n in names if data.get(n) in (None, "")]
    if missing:
        raise ValidationError(f"{kind} payload is missing {', '.join(missing)}", what=kind, path=missing[0])


def obj(kind: str, data: Mapping[str, Any], name: str, required: bool = True) -> dict[str, Any]:
    v = data.get(name)
    if v is None and not required:
        return {}
    if not isinstance(v, Mapping):
        raise ValidationError(f"{kind} payload field {name} must be an object", what=kind, path=name)
    return dict(v)


def text(v: Any, limit: int = MAX_TEXT, *, redact_text: bool = True) -> str:
    """Untrusted text, stringified, capped (never interpreted) and redacted: secrets and personal data
    in alert titles and descriptions never reach a trigger payload (:func:`aisre.detect.masking.redact`).
    ``redact_text=False`` only for identities the record exists to carry (a change's author)."""
    from aisre.detect.masking import redact

    if v is None:
        return ""
    s = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
    s = s.replace("\x00", "")
    s = s if len(s) <= limit else s[:limit] + "…"
    return redact(s, max_chars=limit + 1) if s and redact_text else s


_EPOCH_RE = re.compile(r"^-?\d+(\.\d+)?$")


def parse_time(v: Any, default: float | None = None) -> float | None:
    """ISO-8601 (Z, +00:00, +0000, fractional seconds of any length) or epoch s/ms -> epoch seconds."""
    if v is None or v == "":
        return default
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        x = float(v)
    elif isinstance(v, str) and _EPOCH_RE.match(v.strip()):
        x = float(v.strip())
    elif isinstance(v, str):
        s = v.strip().replace("Z", "+00:00")
        s = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", s)
        s = re.sub(r"\.(\d{6})\d+", r".\1", s)  # nanoseconds (Alertmanager) -> microseconds
        try:
            dt = _dt.datetime.fromisoformat(s)
        except ValueError:
            return default
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=_dt.timezone.utc)
        if dt.year < 1971:  # Alertmanager's zero time 0001-01-01 = "not set"
            return default
        return dt.timestamp()
    else:
        return default
    if not math.isfinite(x) or x <= 0:
        return default
    return x / 1000.0 if x > 1e11 else x


def number(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def tags_to_dict(tags: Any) -> dict[str, str]:
    """Datadog-style ``"env:prod,service:checkout"`` or a list of ``key:value`` -> dict."""
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    items = tags.split(",") if isinstance(tags, str) else list(tags or [])
    out: dict[str, str] = {}
    for t in items:
        t = str(t).strip()
        if not t:
            continue
        k, _, val = t.partition(":")
        out.setdefault(k.strip(), val.strip())
    return out


def lookup(service_map: Mapping[str, str] | None, *keys: str) -> str | None:
    for k in keys:
        if service_map and k and k in service_map:
            return service_map[k]
    return None


def short_sha(sha: str) -> str:
    return sha[:12] if re.fullmatch(r"[0-9a-f]{7,40}", sha or "") else sha


def commit_url(repo_url: str, sha: str) -> str:
    """``https://github.com/acme/checkout(.git)`` + sha -> a commit/diff link (github, gitlab style)."""
    if not repo_url or not sha:
        return ""
    base = repo_url.strip()
    if base.startswith("git@"):
        host, _, path = base[4:].partition(":")
        base = f"https://{host}/{path}"
    base = base.removesuffix(".git").rstrip("/")
    if not base.startswith("http"):
        return ""
    return f"{base}/-/commit/{sha}" if "gitlab" in base else f"{base}/commit/{sha}"
