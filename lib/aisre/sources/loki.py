"""Grafana Loki logs through ``GET /loki/api/v1/query_range`` (direction ``forward``).

The query is LogQL selecting log lines (``{app="checkout"} |= "error"``); metric queries
(``rate(...)``) are refused with :class:`~aisre.errors.BadQuery`. Loki has no cursor: pages
advance ``start`` to the last timestamp returned (nanoseconds, inclusive) and skip the entries
already returned at that instant. Stream labels become record attributes; ``level`` /
``detected_level`` labels or JSON fields give the level, ``service_name``/``service``/``app``/
``job`` the service. ``X-Scope-OrgID`` is sent when ``tenant`` is set (multi-tenant Loki).
"""
from __future__ import annotations

import logging
import math
from typing import Any, Mapping

from aisre.errors import BadQuery, SourceDown
from aisre.models import LogRecord
from aisre.sources.base import LogBatch
from aisre.sources.http import HttpClient, RetryPolicy
from aisre.sources.normalize import as_list, as_map, json_fields, level_of, series_key, to_float

log = logging.getLogger(__name__)

_MAX_PAGE = 5000   # Loki's default max_entries_limit_per_query
_SERVICE_LABELS = ("service_name", "service", "app", "application", "job", "container")


class LokiLogSource:
    """Log source for Grafana Loki."""

    name = "loki"

    def __init__(self, url: str, *, bearer_token: str | None = None, tenant: str | None = None,
                 timeout_s: float = 10, page_size: int = 1000, retry: RetryPolicy = RetryPolicy(),
                 http: HttpClient | None = None, **http_kw: Any) -> None:
        headers: dict[str, str] = {}
        if bearer_token:
            headers["Authorization"] = f"Bearer {bearer_token}"
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        self.url = url.rstrip("/")
        self.page_size = max(1, min(_MAX_PAGE - 1, page_size))
        self.http = http or HttpClient(self.url, integration="loki", timeout_s=timeout_s, headers=headers,
                                       retry=retry, **http_kw)

    def fetch(self, query: str, start: float, end: float, limit: int = 1000) -> LogBatch:
        if not query or not query.strip():
            raise BadQuery("Loki needs a LogQL stream selector, e.g. {app=\"checkout\"}", integration="loki",
                           operation="query_range")
        if end < start:
            raise BadQuery(f"end ({end}) is before start ({start})", integration="loki", operation="query_range")
        start_ns, end_ns = int(round(start * 1e9)), int(math.ceil(end * 1e9))
        records: list[LogRecord] = []
        boundary: set[tuple[int, str, str]] = set()   # entries already returned at the current start instant
        cursor = start_ns
        while True:
            # entries at the boundary instant come back again: ask for them on top of a page
            want = min(_MAX_PAGE, len(boundary) + min(self.page_size, limit - len(records)) + 1)
            body = self.http.get_json("/loki/api/v1/query_range", {
                "query": query, "start": str(cursor), "end": str(end_ns), "limit": want, "direction": "forward"},
                operation="query_range")
            entries = [e for e in self._entries(body) if start_ns <= e[0] < end_ns or e[0] == start_ns]
            fresh = [e for e in entries if (e[0], e[1], e[2]) not in boundary]
            for ns, skey, line, labels in fresh:
                if len(records) >= limit:
                    return LogBatch(records, truncated=True)
                records.append(_record(ns, line, labels))
            if len(entries) < want:
                return LogBatch(records, truncated=False)
            if not fresh:   # over _MAX_PAGE entries at one instant: cannot page further without loss
                log.warning("loki: more than %d entries at one nanosecond; stopping (truncated)", want)
                return LogBatch(records, truncated=True)
            last_ns = entries[-1][0]
            if last_ns != cursor:
                boundary = set()
                cursor = last_ns
            boundary.update((e[0], e[1], e[2]) for e in entries if e[0] == last_ns)

    def _entries(self, body: Any) -> list[tuple[int, str, str, dict[str, str]]]:
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), Mapping):
            raise SourceDown("unexpected Loki response: no data object", integration="loki",
                             operation="query_range", target=self.url)
        if body.get("status") not in (None, "success"):
            raise SourceDown(f"Loki query failed: {body.get('error', body.get('status'))}", integration="loki",
                             operation="query_range", target=self.url)
        data = body["data"]
        if data.get("resultType") != "streams":
            raise BadQuery(f"Loki returned {data.get('resultType')!r}: use a log query, not a metric query",
                           integration="loki", operation="query_range", target=self.url)
        out: list[tuple[int, str, str, dict[str, str]]] = []
        for stream in as_list(data.get("result")):
            if not isinstance(stream, Mapping):
                continue
            labels = {str(k): str(v) for k, v in as_map(stream.get("stream")).items()}
            skey = series_key("", labels)
            for value in as_list(stream.get("values")):
                if not isinstance(value, list) or len(value) < 2:
                    continue
                ns = to_float(value[0])
                if ns is None:
                    continue
                entry_labels = labels
                if len(value) > 2 and isinstance(value[2], Mapping):   # structured metadata (Loki 3)
                    entry_labels = {**labels, **{str(k): str(v) for k, v in value[2].items()}}
                out.append((int(value[0]) if str(value[0]).isdigit() else int(ns), skey, str(value[1]),
                            entry_labels))
        out.sort(key=lambda e: (e[0], e[1]))
        return out


def _record(ns: int, line: str, labels: Mapping[str, str]) -> LogRecord:
    fields = json_fields(line)
    merged: dict[str, Any] = {**(fields or {}), **labels}
    service = next((labels[k] for k in _SERVICE_LABELS if labels.get(k)), "")
    return LogRecord(ts=ns / 1e9, message=line, service=service, level=level_of(merged, line), source="loki",
                     attributes={"labels": dict(labels), "ts_ns": ns})
