"""Source protocols: how telemetry comes in.

A source never raises anything but :class:`aisre.errors.IntegrationError` subclasses
(AuthError, BadQuery, RateLimited, SourceDown, Timeout); the sensor logs them and survives.
Timeouts are always on. Reads may be retried with backoff (:mod:`aisre.sources.http`); nothing else is.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from aisre.models import LogRecord, Series


@runtime_checkable
class MetricSource(Protocol):
    name: str

    def query_range(self, query: str, start: float, end: float, step_s: float) -> list[Series]:
        """Points of every series matching ``query`` in ``[start, end]``, sorted, NaN-free."""
        ...


@runtime_checkable
class LogSource(Protocol):
    name: str

    def fetch(self, query: str, start: float, end: float, limit: int = 1000) -> Sequence[LogRecord]:
        """Log records matching ``query`` in ``[start, end)``, oldest first, at most ``limit``."""
        ...
