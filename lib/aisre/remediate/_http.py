"""One HTTP call for the executors that speak REST (Argo CD, Jenkins, flags): timeout always on, errors typed,
never retried (these calls mutate)."""
from __future__ import annotations

from typing import Any

from aisre.errors import SourceDown, Timeout, http_error


def call(session: Any, method: str, url: str, *, integration: str, operation: str, target: str = "",
         timeout_s: float = 15.0, expect_json: bool = True, **kw: Any) -> Any:
    """``session.request`` once; returns the decoded JSON (or the response when ``expect_json`` is False)."""
    import requests

    try:
        resp = session.request(method, url, timeout=timeout_s, **kw)
    except requests.Timeout as exc:
        raise Timeout(f"{integration} {operation} timed out: {exc}", integration=integration, operation=operation,
                      target=target) from None
    except requests.RequestException as exc:
        raise SourceDown(f"{integration} {operation} unreachable: {exc}", integration=integration,
                         operation=operation, target=target) from None
    if resp.status_code >= 400:
        body = (resp.text or "")[:300].replace("\n", " ")
        raise http_error(resp.status_code, f"{integration} {operation} {target}: HTTP {resp.status_code} {body}".strip(),
                         integration=integration, operation=operation, target=target)
    if not expect_json:
        return resp
    if not resp.content:
        return {}
    try:
        return resp.json()
    except ValueError:
        raise SourceDown(f"{integration} {operation} {target}: answer is not JSON", integration=integration,
                         operation=operation, target=target, status=resp.status_code) from None
