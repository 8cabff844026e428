"""Monitor and CI/CD webhooks, normalised once at the edge into Signals and Changes.

>>> r = normalise("alertmanager", payload_json)           # doctest: +SKIP
>>> r.signals[0].service, r.signals[0].resolved           # doctest: +SKIP

Kinds: datadog, alertmanager, cloudwatch (SNS, signature verified), statuspage, argocd, jenkins,
github (deployment_status), flags, config. Unknown kinds and malformed payloads raise
:class:`aisre.errors.ValidationError`; a failed SNS certificate fetch raises
:class:`aisre.errors.SourceDown`. Nothing else escapes.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from aisre.errors import SreError, ValidationError
from aisre.models import Change, Signal
from aisre.sources.webhooks import (alertmanager, argocd, cloudwatch, config_change, datadog, flags, github,
                                    jenkins, statuspage)
from aisre.sources.webhooks.common import WebhookResult, parse_body
from aisre.sources.webhooks.options import WebhookOptions

NORMALISERS: dict[str, Callable[[dict, WebhookOptions], WebhookResult]] = {
    "datadog": datadog.normalise,
    "alertmanager": alertmanager.normalise,
    "cloudwatch": cloudwatch.normalise,
    "statuspage": statuspage.normalise,
    "argocd": argocd.normalise,
    "jenkins": jenkins.normalise,
    "github": github.normalise,
    "flags": flags.normalise,
    "config": config_change.normalise,
}
KINDS = tuple(NORMALISERS)


def normalise(kind: str, body: Any, headers: Mapping[str, str] | None = None, *, now: float | None = None,
              verify_sns: bool = True, service_map: Mapping[str, str] | None = None,
              cert_fetcher: Callable[[str], bytes] | None = None,
              github_secret: str | None = None) -> WebhookResult:
    """Normalise one webhook delivery of ``kind``; see the module docstring for the error contract.

    ``body`` is the parsed JSON dict, JSON text or raw bytes. ``service_map`` maps vendor names
    (monitor id, alarm name, app, job, repo, flag, status-page component) to our service names.
    """
    fn = NORMALISERS.get(kind)
    if fn is None:
        raise ValidationError(f"unknown webhook kind {kind!r} (known: {', '.join(KINDS)})", what="webhook")
    raw = bytes(body) if isinstance(body, (bytes, bytearray)) else body.encode() if isinstance(body, str) else None
    data = parse_body(kind, body)
    opt = WebhookOptions(now=time.time() if now is None else now,
                         headers={str(k).lower(): str(v) for k, v in (headers or {}).items()},
                         service_map=dict(service_map or {}), verify_sns=verify_sns, cert_fetcher=cert_fetcher,
                         github_secret=github_secret, raw_body=raw)
    try:
        result = fn(data, opt)
    except SreError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a shape we did not foresee
        raise ValidationError(f"{kind} payload has an unexpected shape: {type(exc).__name__}: {exc}",
                              what=kind) from None
    try:    # every field has its declared type (a label `service: -1` must not become a Signal's service)
        for s in result.signals:
            Signal.from_dict(s.to_dict())
        for c in result.changes:
            Change.from_dict(c.to_dict())
    except ValidationError as exc:
        raise ValidationError(f"{kind} payload has a field of the wrong type: {exc.message}", what=kind,
                              path=exc.path) from None
    return result


def normalise_with_config(kind: str, body: Any, headers: Mapping[str, str] | None, config: Any, *,
                          now: float | None = None, cert_fetcher: Callable[[str], bytes] | None = None) -> WebhookResult:
    """:func:`normalise` with ``webhooks.service_map`` / ``webhooks.verify_sns`` from an :class:`aisre.config.Config`."""
    raw = getattr(config, "raw", config) or {}
    section = raw.get("webhooks", {}) if isinstance(raw, Mapping) else {}
    return normalise(kind, body, headers, now=now, verify_sns=bool(section.get("verify_sns", True)),
                     service_map=section.get("service_map") or {}, cert_fetcher=cert_fetcher)


__all__ = ["KINDS", "NORMALISERS", "WebhookResult", "normalise", "normalise_with_config"]
