"""Source protocols: how telemetry comes in.

A source never raises anything but :class:`aisre.errors.IntegrationError` subclasses
(AuthError, BadQuery, RateLimited, SourceDown, Timeout); the sensor logs them and survives.
Timeouts are always on. Reads may be retried with backoff (:mod:`aisre.sources.http`); nothing else is.
"""
from __future__ import annotations

from typing import Iterable, Protocol, Sequence, runtime_checkable

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


class LogBatch(list):
    """What a log source's ``fetch`` returns: a plain list of records, oldest first, plus its extent.

    ``truncated`` is True when more records matched than ``limit`` allowed; ``resume_ts`` is then the
    timestamp of the last record returned, so a caller that advances its cursor to ``resume_ts``
    (inclusive start, skipping records it already has) loses nothing. When ``truncated`` is False the
    whole ``[start, end)`` window was read and the cursor may advance to ``end``.

    ``skipped`` counts vendor records that could not be read at all (no parseable timestamp); they
    are logged by the source, never silently dropped.

    All-or-nothing: a source that fails mid-pagination (timeout, 5xx, rate limit) raises and returns
    no partial batch, so a cursor never moves past records that were not delivered.
    """

    def __init__(self, records: Iterable[LogRecord] = (), *, truncated: bool = False, skipped: int = 0) -> None:
        super().__init__(records)
        self.truncated = truncated
        self.skipped = skipped

    @property
    def resume_ts(self) -> float | None:
        return self[-1].ts if self else None
