"""The one HTTP layer every HTTP source uses: timeouts, read retries, error mapping, redaction.

Contract
--------
* Every request has a timeout (connect and read) **and** a total deadline for reading the body.
* Only reads are retried (GET, and POSTs a caller marks ``idempotent=True`` such as a search).
  Retried: connection errors, timeouts, 5xx, garbage bodies, and 429 when ``Retry-After`` is
  short enough. Backoff is exponential with jitter; ``sleep`` and ``rng`` are injectable so
  tests never sleep.
* Failures surface as :mod:`aisre.errors` classes only:

  ======================================  =================================================
  what happened                           raised
  ======================================  =================================================
  401 / 403                               :class:`~aisre.errors.AuthError`
  400 / 405 / 409 / 413 / 414 / 422       :class:`~aisre.errors.BadQuery` (vendor reason kept)
  404                                     :class:`~aisre.errors.NotFound`
  429                                     :class:`~aisre.errors.RateLimited` (``retry_after_s``)
  5xx, refused, DNS, TLS, non-JSON body   :class:`~aisre.errors.SourceDown`
  connect/read timeout, deadline passed   :class:`~aisre.errors.Timeout`
  ======================================  =================================================

* Secrets given to the client (tokens, keys, passwords) are replaced by ``***`` in every
  message, log line and error context; URLs in errors carry no query string.
"""
from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import random
import time
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3

from aisre.errors import IntegrationError, RateLimited, SourceDown, Timeout, http_error

log = logging.getLogger(__name__)

#: Largest body we accept (bytes); bigger answers are refused rather than exhausting memory.
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
_EXCERPT = 200


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for idempotent reads.

    ``attempts`` counts the first try (``attempts=1`` disables retries). The delay before retry
    ``n`` (1-based) is ``min(max_delay_s, base_delay_s * 2**(n-1))`` scaled by a random factor in
    ``[1 - jitter, 1]``. A 429 whose ``Retry-After`` exceeds ``max_retry_after_s`` is not waited
    for: it is raised at once so the caller (the sensor) backs off on its own schedule.
    """
    attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.5
    max_retry_after_s: float = 30.0

    def delay_s(self, retry: int, rng: random.Random) -> float:
        raw = min(self.max_delay_s, self.base_delay_s * (2 ** (retry - 1)))
        return raw * (1.0 - self.jitter * rng.random())


NO_RETRY = RetryPolicy(attempts=1)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (longest first) in ``text`` with ``***``."""
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def strip_query(url: str) -> str:
    """The URL without query string, fragment or user info (safe to show in errors)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def body_excerpt(raw: bytes | str, limit: int = _EXCERPT) -> str:
    """A short, single-line excerpt of a response body for error messages."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def vendor_reason(raw: bytes) -> str:
    """The error text a vendor put in its body (JSON ``error``/``errors``/``message``), else an excerpt."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return body_excerpt(raw)
    if isinstance(doc, Mapping):
        for field in ("error", "errors", "message", "reason"):
            val = doc.get(field)
            if not val:
                continue
            if isinstance(val, Mapping):  # Elasticsearch: {"error": {"root_cause": [...], "reason": ...}}
                causes = val.get("root_cause") or []
                first = causes[0] if causes and isinstance(causes[0], Mapping) else val
                reason = first.get("reason") or val.get("reason") or val.get("type")
                return body_excerpt(str(reason or json.dumps(val)), 400)
            if isinstance(val, list):
                return body_excerpt("; ".join(str(v) for v in val), 400)
            return body_excerpt(str(val), 400)
    return body_excerpt(raw)


class HttpClient:
    """JSON over HTTP for one integration, with timeouts, read retries and typed errors.

    Parameters
    ----------
    base_url: e.g. ``http://prometheus:9090`` (paths are appended).
    integration: name used in errors and logs (``prometheus``, ``datadog`` …).
    timeout_s: connect and read timeout, and the total deadline for reading one body.
    headers: sent with every request (auth headers go here and are redacted everywhere).
    secrets: extra strings to redact (passwords, tokens in URLs).
    auth: a requests auth object (basic auth); its password must be listed in ``secrets``.
    """

    def __init__(self, base_url: str, *, integration: str, timeout_s: float = 10.0,
                 headers: Mapping[str, str] | None = None, secrets: Iterable[str] = (),
                 auth: Any = None, verify: bool | str = True, retry: RetryPolicy = RetryPolicy(),
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if timeout_s is None or timeout_s <= 0:
            raise ValueError("timeout_s must be > 0: timeouts are always on")
        self.base_url = base_url.rstrip("/")
        self.integration = integration
        self.timeout_s = float(timeout_s)
        self.headers = dict(headers or {})
        self.secrets = tuple(s for s in (*secrets, *self._header_secrets(self.headers)) if s)
        self.auth = auth
        self.verify = verify
        self.retry = retry
        self.session = session or requests.Session()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.max_body_bytes = max_body_bytes

    @staticmethod
    def _header_secrets(headers: Mapping[str, str]) -> list[str]:
        out = []
        for name, value in headers.items():
            if name.lower() in ("authorization", "dd-api-key", "dd-application-key", "x-api-key", "api-key"):
                out.append(value)
                if " " in value:  # "Bearer abc" -> also redact "abc"
                    out.append(value.split(" ", 1)[1])
        return out

    # ------------------------------------------------------------------ public

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *, operation: str = "") -> Any:
        """GET ``path`` and return the decoded JSON body (retried: GET is a read)."""
        return self.request_json("GET", path, params=params, operation=operation, idempotent=True)

    def post_json(self, path: str, body: Any, params: Mapping[str, Any] | None = None, *,
                  operation: str = "", idempotent: bool = False) -> Any:
        """POST a JSON body; retried only when the caller declares it a read (``idempotent=True``)."""
        return self.request_json("POST", path, params=params, json_body=body, operation=operation,
                                 idempotent=idempotent)

    def request_json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                     json_body: Any = None, operation: str = "", idempotent: bool = False) -> Any:
        url = self.base_url + path if path.startswith("/") else path
        attempts = self.retry.attempts if idempotent else 1
        op = operation or f"{method} {urlsplit(url).path}"
        last: IntegrationError | None = None
        for attempt in range(1, max(1, attempts) + 1):
            try:
                return self._once(method, url, params, json_body, op)
            except IntegrationError as exc:
                last = exc
                if attempt >= attempts or not self._retryable(exc):
                    raise
                delay = self.retry.delay_s(attempt, self.rng)
                if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
                    delay = max(delay, exc.retry_after_s)
                log.warning("%s %s failed (attempt %d/%d), retrying in %.2fs: %s",
                            self.integration, op, attempt, attempts, delay, exc)
                self.sleep(delay)
        raise last  # pragma: no cover - the loop always returns or raises

    # ------------------------------------------------------------------ internals

    def _retryable(self, exc: IntegrationError) -> bool:
        if isinstance(exc, RateLimited):
            return exc.retry_after_s is None or exc.retry_after_s <= self.retry.max_retry_after_s
        return isinstance(exc, (SourceDown, Timeout))

    def _err(self, cls_or_status: Any, message: str, target: str, op: str, **kw: Any) -> IntegrationError:
        message = redact(message, self.secrets)
        ctx = dict(integration=self.integration, operation=redact(op, self.secrets),
                   target=redact(target, self.secrets), **kw)
        if isinstance(cls_or_status, int):
            return http_error(cls_or_status, message, **ctx)
        return cls_or_status(message, **ctx)

    def _once(self, method: str, url: str, params: Mapping[str, Any] | None, json_body: Any, op: str) -> Any:
        target = strip_query(url)
        started = time.monotonic()
        try:
            resp = self.session.request(method, url, params=params, json=json_body, headers=self.headers,
                                        auth=self.auth, verify=self.verify, stream=True,
                                        timeout=(self.timeout_s, self.timeout_s))
        except requests.exceptions.Timeout as exc:
            raise self._err(Timeout, f"{self.integration} did not answer within {self.timeout_s:g}s "
                                     f"({type(exc).__name__})", target, op) from None
        except requests.exceptions.SSLError as exc:
            raise self._err(SourceDown, f"TLS failure talking to {self.integration}: {exc}", target, op) from None
        except requests.exceptions.ConnectionError as exc:
            raise self._err(SourceDown, f"cannot connect to {self.integration}: {_short(exc)}", target, op) from None
        except requests.exceptions.RequestException as exc:
            raise self._err(SourceDown, f"request to {self.integration} failed: {_short(exc)}", target, op) from None
        try:
            raw = self._read_body(resp, started, target, op)
        finally:
            resp.close()
        status = resp.status_code
        if status >= 400:
            reason = vendor_reason(raw)
            extra: dict[str, Any] = {}
            if status == 429:
                retry_after = parse_retry_after(resp.headers.get("Retry-After")) \
                    or parse_retry_after(resp.headers.get("X-RateLimit-Reset"))
                extra["retry_after_s"] = retry_after
            raise self._err(status, f"{self.integration} answered HTTP {status}: {reason}", target, op, **extra)
        if not raw.strip():
            raise self._err(SourceDown, f"{self.integration} answered HTTP {status} with an empty body",
                            target, op, status=status)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            ctype = resp.headers.get("Content-Type", "?")
            kind = "truncated or invalid JSON" if ctype.startswith("application/json") or raw.lstrip()[:1] in (b"{", b"[") \
                else f"a non-JSON body ({ctype})"
            raise self._err(SourceDown, f"{self.integration} answered HTTP {status} with {kind}: {exc}; "
                                        f"body starts {body_excerpt(raw, 120)!r}", target, op, status=status) from None

    def _read_body(self, resp: requests.Response, started: float, target: str, op: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise self._err(SourceDown, f"{self.integration} answer is larger than "
                                                f"{self.max_body_bytes} bytes; narrow the query",
                                    target, op, status=resp.status_code)
                chunks.append(chunk)
                if time.monotonic() - started > self.timeout_s:
                    raise self._err(Timeout, f"{self.integration} body not complete within {self.timeout_s:g}s",
                                    target, op, status=resp.status_code)
        except requests.exceptions.RequestException as exc:
            # requests wraps a read timeout during streaming in ConnectionError(urllib3 ReadTimeoutError)
            if isinstance(exc, requests.exceptions.Timeout) or \
                    any(isinstance(a, urllib3.exceptions.TimeoutError) for a in exc.args):
                raise self._err(Timeout, f"{self.integration} stopped sending within {self.timeout_s:g}s",
                                target, op, status=resp.status_code) from None
            raise self._err(SourceDown, f"{self.integration} connection broke while reading: {_short(exc)}",
                            target, op, status=resp.status_code) from None
        return b"".join(chunks)


def _short(exc: BaseException) -> str:
    """requests' connection errors nest urllib3 reprs; keep the informative tail."""
    text = str(exc)
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return body_excerpt(text.rstrip(")'\""), 240)
