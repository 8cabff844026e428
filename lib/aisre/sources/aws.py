"""boto3 plumbing shared by the CloudWatch sources: client construction and error mapping.

Clients get explicit connect/read timeouts and botocore's ``standard`` retry mode (reads only:
both CloudWatch sources call read APIs). Every botocore failure becomes an :mod:`aisre.errors`
class through :func:`map_aws_error`; credentials never appear in messages.
"""
from __future__ import annotations

from typing import Any, Iterable

from aisre.errors import AuthError, BadQuery, IntegrationError, NotFound, RateLimited, SourceDown, Timeout
from aisre.sources.http import redact

_AUTH = {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId",
         "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch", "IncompleteSignature",
         "MissingAuthenticationToken", "AuthFailure", "UnauthorizedOperation", "InvalidSignatureException"}
_THROTTLE = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
             "LimitExceededException", "RequestThrottled", "SlowDown"}
_BAD = {"InvalidParameterValue", "InvalidParameterCombination", "InvalidParameterException", "MissingParameter",
        "MissingRequiredParameter", "ValidationError", "ValidationException", "InvalidNextToken",
        "InvalidParameterValueException", "MalformedQueryException", "InvalidOperationException"}
_NOT_FOUND = {"ResourceNotFoundException", "ResourceNotFound", "NoSuchEntity"}


def make_client(service: str, region: str, *, endpoint_url: str | None = None, access_key_id: str | None = None,
                secret_access_key: str | None = None, session_token: str | None = None,
                timeout_s: float = 10, max_attempts: int = 3) -> Any:
    """A boto3 client with timeouts always on. Credentials default to boto3's usual chain."""
    import boto3
    from botocore.config import Config as BotoConfig

    cfg = BotoConfig(connect_timeout=timeout_s, read_timeout=timeout_s,
                     retries={"max_attempts": max_attempts, "mode": "standard"})
    kwargs: dict[str, Any] = {"region_name": region, "config": cfg}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if access_key_id and secret_access_key:
        kwargs.update(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key)
        if session_token:
            kwargs["aws_session_token"] = session_token
    return boto3.client(service, **kwargs)


def map_aws_error(exc: BaseException, *, integration: str, operation: str, target: str | None = None,
                  secrets: Iterable[str] = ()) -> IntegrationError:
    """botocore exception → the matching :class:`~aisre.errors.IntegrationError` subclass."""
    from botocore import exceptions as bx

    ctx = {"integration": integration, "operation": operation, "target": target}
    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {}) or {}
        code = str(err.get("Code", ""))
        status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        msg = redact(f"{integration} {operation} failed: {code}: {err.get('Message', '')}", secrets)
        if code in _AUTH or status in (401, 403):
            return AuthError(msg, status=status, **ctx)
        if code in _THROTTLE or status == 429:
            return RateLimited(msg, status=status, **ctx)
        if code in _NOT_FOUND or status == 404:
            return NotFound(msg, status=status, **ctx)
        if code in _BAD or (status is not None and 400 <= status < 500):
            return BadQuery(msg, status=status, **ctx)
        return SourceDown(msg, status=status, **ctx)
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return AuthError(f"{integration}: no usable AWS credentials ({type(exc).__name__})", **ctx)
    if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return Timeout(f"{integration} {operation} timed out ({type(exc).__name__})", **ctx)
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError, bx.ConnectionError)):
        return SourceDown(redact(f"cannot reach {integration}: {exc}", secrets), **ctx)
    if isinstance(exc, bx.ParamValidationError):
        return BadQuery(redact(f"{integration} {operation}: {exc}", secrets), **ctx)
    if isinstance(exc, bx.BotoCoreError):
        return SourceDown(redact(f"{integration} {operation} failed: {exc}", secrets), **ctx)
    return SourceDown(redact(f"{integration} {operation} failed: {type(exc).__name__}: {exc}", secrets), **ctx)
