"""One exception tree for the whole library.

::

    SreError
    ├── ConfigError                 bad or missing configuration (carries the config path)
    ├── ValidationError             outside input that does not fit its schema (payloads, runbooks, LLM output)
    ├── IntegrationError            a call to an outside system failed (carries integration, operation, target, status)
    │   ├── AuthError               401/403, bad credentials
    │   ├── BadQuery                400/422, the query or request was rejected
    │   ├── NotFound                404, the target does not exist
    │   ├── RateLimited             429, retry later (carries retry_after_s)
    │   ├── SourceDown              5xx, connection refused, DNS failure, garbage instead of JSON
    │   └── Timeout                 no answer within the timeout
    ├── PolicyDenied                a guardrail refused an action (carries the reasons)
    │   └── ForbiddenAction         the action is on the forbidden list; nothing can override it
    ├── ApprovalRequired            a caution action needs a human yes first
    ├── LeaseHeld                   another node holds the remediation lease for this service
    ├── StateError                  the state store (st2 datastore, file, redis) failed
    └── ExecutorError               a remediation step failed half-way (carries the step)

Every error renders a message that says what failed, where, and what to do about it.
"""
from __future__ import annotations

from typing import Any, Iterable


class SreError(Exception):
    """Base of every error raised by aisre."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:  # message first, then the context that locates it
        if not self.context:
            return self.message
        ctx = ", ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return f"{self.message} ({ctx})"

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message,
                **{k: v if isinstance(v, (str, int, float, bool)) else str(v) for k, v in self.context.items()}}


class ConfigError(SreError):
    """Configuration is missing or invalid; ``path`` names the offending key (e.g. ``sources.prometheus.url``)."""

    def __init__(self, message: str, path: str | None = None, **context: Any) -> None:
        super().__init__(message, path=path, **context)
        self.path = path


class ValidationError(SreError):
    """Outside input (webhook payload, runbook file, LLM output, alias parameter) does not fit its schema."""

    def __init__(self, message: str, what: str | None = None, path: str | None = None, **context: Any) -> None:
        super().__init__(message, what=what, path=path, **context)
        self.what = what
        self.path = path


class IntegrationError(SreError):
    """A call to an outside system failed."""

    def __init__(self, message: str, integration: str | None = None, operation: str | None = None,
                 target: str | None = None, status: int | None = None, **context: Any) -> None:
        super().__init__(message, integration=integration, operation=operation, target=target,
                         status=status, **context)
        self.integration = integration
        self.operation = operation
        self.target = target
        self.status = status


class AuthError(IntegrationError):
    """Credentials were rejected (HTTP 401/403)."""


class BadQuery(IntegrationError):
    """The request was rejected as malformed (HTTP 400/422)."""


class NotFound(IntegrationError):
    """The target does not exist (HTTP 404)."""


class RateLimited(IntegrationError):
    """The system asked us to slow down (HTTP 429)."""

    def __init__(self, message: str, retry_after_s: float | None = None, **kw: Any) -> None:
        super().__init__(message, retry_after_s=retry_after_s, **kw)
        self.retry_after_s = retry_after_s


class SourceDown(IntegrationError):
    """The system is unreachable or answered with a server error or garbage."""


class Timeout(IntegrationError):
    """The system did not answer within the timeout."""


class PolicyDenied(SreError):
    """A guardrail refused an action."""

    def __init__(self, message: str, reasons: Iterable[str] = (), **context: Any) -> None:
        self.reasons = tuple(reasons)
        super().__init__(message, reasons="; ".join(self.reasons) or None, **context)


class ForbiddenAction(PolicyDenied):
    """The action is forbidden (deletes data, DDL, scale to zero, ...). Nothing can override it."""


class ApprovalRequired(SreError):
    """A caution action needs a human approval before it runs."""


class LeaseHeld(SreError):
    """Another agent holds the remediation lease for this service."""


class StateError(SreError):
    """The state store (st2 datastore, file, redis) failed."""


class ExecutorError(SreError):
    """A remediation step failed; ``step`` is plan, precheck, execute or verify."""

    def __init__(self, message: str, step: str | None = None, **context: Any) -> None:
        super().__init__(message, step=step, **context)
        self.step = step


def http_error(status: int, message: str, **kw: Any) -> IntegrationError:
    """Map an HTTP status to the right error class (used at every client boundary)."""
    if status in (401, 403):
        return AuthError(message, status=status, **kw)
    if status == 404:
        return NotFound(message, status=status, **kw)
    if status == 429:
        return RateLimited(message, status=status, **kw)
    if status in (400, 405, 409, 413, 414, 422):
        return BadQuery(message, status=status, **kw)
    if status >= 500:
        return SourceDown(message, status=status, **kw)
    return IntegrationError(message, status=status, **kw)
