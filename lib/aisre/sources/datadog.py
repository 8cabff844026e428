"""Datadog metrics (``GET /api/v1/query``) and logs (``POST /api/v2/logs/events/search``).

Both authenticate with the ``DD-API-KEY`` and ``DD-APPLICATION-KEY`` headers against
``https://api.<site>`` (``site`` = datadoghq.com, datadoghq.eu, us3.datadoghq.com, …); the keys
are redacted from every error and log line.

Metrics: the query is Datadog's metric query syntax (``avg:system.cpu.user{env:prod} by {host}``).
Datadog chooses the interval from the time range; ``step_s`` only matters if the query carries
its own ``.rollup(avg, 60)``. Each returned series is keyed ``metric{aggr="avg",<scope tags>}``;
null points are dropped; ``pointlist`` timestamps are milliseconds.

Logs: the query is Datadog's log search syntax (``service:checkout status:error``); an empty
query means ``*``. Pages follow ``meta.page.after`` cursors oldest first. A search whose
``meta.status`` is ``timeout`` is partial: :class:`~aisre.errors.Timeout` is raised and nothing is
returned (see :class:`aisre.sources.base.LogBatch`).
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from aisre.errors import BadQuery, SourceDown, Timeout, ValidationError
from aisre.models import LogRecord, Series
from aisre.sources.base import LogBatch
from aisre.sources.http import HttpClient, RetryPolicy
from aisre.sources.normalize import as_list, as_map, iso_ms, level_of, make_series, parse_time, to_float

log = logging.getLogger(__name__)


def _client(site: str, api_key: str, app_key: str, timeout_s: float, retry: RetryPolicy, integration: str,
            **http_kw: Any) -> HttpClient:
    site = site.strip().rstrip("/")
    base = site if site.startswith(("http://", "https://")) else f"https://api.{site}"
    headers = {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key, "Accept": "application/json"}
    return HttpClient(base, integration=integration, timeout_s=timeout_s, headers=headers, retry=retry, **http_kw)


def parse_scope(scope: str) -> dict[str, str]:
    """``"host:a,env:prod"`` → ``{"host": "a", "env": "prod"}`` (a bare tag maps to ``""``)."""
    labels: dict[str, str] = {}
    for tag in (scope or "").split(","):
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        k, _, v = tag.partition(":")
        labels[k] = v
    return labels


class DatadogMetricSource:
    """Timeseries from Datadog's v1 query endpoint."""

    name = "datadog"

    def __init__(self, api_key: str, app_key: str, site: str = "datadoghq.com", timeout_s: float = 10, *,
                 retry: RetryPolicy = RetryPolicy(), http: HttpClient | None = None, **http_kw: Any) -> None:
        self.site = site
        self.http = http or _client(site, api_key, app_key, timeout_s, retry, "datadog", **http_kw)

    def query_range(self, query: str, start: float, end: float, step_s: float) -> list[Series]:
        if not query or not query.strip():
            raise BadQuery("empty Datadog metric query", integration="datadog", operation="query")
        if end < start:
            raise BadQuery(f"end ({end}) is before start ({start})", integration="datadog", operation="query")
        body = self.http.get_json("/api/v1/query", {"from": int(start), "to": int(end) if end == int(end)
                                                    else int(end) + 1, "query": query}, operation="metrics.query")
        if not isinstance(body, Mapping):
            raise SourceDown("unexpected Datadog response: not an object", integration="datadog",
                             operation="metrics.query")
        if body.get("status") == "error":
            raise BadQuery(f"Datadog rejected {query!r}: {body.get('error', '?')}", integration="datadog",
                           operation="metrics.query")
        series = body.get("series")
        if series is None:
            return []
        if not isinstance(series, list):
            raise SourceDown("unexpected Datadog response: series is not a list", integration="datadog",
                             operation="metrics.query")
        out: dict[str, Series] = {}
        for item in series:
            if not isinstance(item, Mapping):
                continue
            metric = str(item.get("metric") or item.get("expression") or query)
            labels = parse_scope(str(item.get("scope", "")))
            pts = []
            for p in as_list(item.get("pointlist")):
                ms = to_float(p[0]) if isinstance(p, (list, tuple)) and len(p) >= 2 else None
                if ms is not None and start <= ms / 1000.0 <= end:
                    pts.append((ms / 1000.0, p[1]))
            aggr = {"aggr": str(item["aggr"])} if item.get("aggr") else {}
            s = make_series(metric, {"__name__": metric, **aggr, **labels}, pts, unit=_unit(item))
            if s.key in out:   # same metric and scope from two expressions of one query
                s = make_series(metric, {**s.labels, "query_index": item.get("query_index", len(out))}, s.points,
                                unit=s.unit)
            out[s.key] = s
        return [out[k] for k in sorted(out)]


def _unit(item: Mapping[str, Any]) -> str:
    units = item.get("unit")
    if isinstance(units, list) and units and isinstance(units[0], Mapping):
        return str(units[0].get("short_name") or units[0].get("name") or "")
    return ""


class DatadogLogSource:
    """Log events from Datadog's v2 search API, oldest first, cursor-paginated."""

    name = "datadog"

    def __init__(self, api_key: str, app_key: str, site: str = "datadoghq.com", timeout_s: float = 10, *,
                 page_size: int = 1000, retry: RetryPolicy = RetryPolicy(), http: HttpClient | None = None,
                 **http_kw: Any) -> None:
        self.site = site
        self.page_size = max(1, min(5000, page_size))   # the API caps page[limit] at 5000
        self.http = http or _client(site, api_key, app_key, timeout_s, retry, "datadog", **http_kw)

    def fetch(self, query: str, start: float, end: float, limit: int = 1000) -> LogBatch:
        if end < start:
            raise BadQuery(f"end ({end}) is before start ({start})", integration="datadog", operation="logs.search")
        records: list[LogRecord] = []
        cursor: str | None = None
        truncated = False
        skipped = 0
        while True:
            page: dict[str, Any] = {"limit": min(self.page_size, max(1, limit - len(records)))}
            if cursor:
                page["cursor"] = cursor
            body = self.http.post_json("/api/v2/logs/events/search", {
                "filter": {"query": query.strip() or "*", "from": iso_ms(start), "to": iso_ms(end)},
                "sort": "timestamp", "page": page}, operation="logs.search", idempotent=True)
            if not isinstance(body, Mapping):
                raise SourceDown("unexpected Datadog logs response: not an object", integration="datadog",
                                 operation="logs.search")
            meta = as_map(body.get("meta"))
            if meta.get("status") == "timeout":
                raise Timeout("Datadog log search timed out on the server; the page is partial",
                              integration="datadog", operation="logs.search")
            data = body.get("data") or []
            if not isinstance(data, list):
                raise SourceDown("unexpected Datadog logs response: data is not a list", integration="datadog",
                                 operation="logs.search")
            for event in data:
                rec = _log_record(event)
                if rec is None:
                    skipped += 1
                elif start <= rec.ts < end:
                    records.append(rec)
            cursor = as_map(meta.get("page")).get("after")
            cursor = cursor if isinstance(cursor, str) and cursor else None
            if len(records) >= limit:
                truncated = bool(cursor) or len(records) > limit
                break
            if not cursor or not data:
                break
        records.sort(key=lambda r: r.ts)
        if skipped:
            log.warning("datadog logs: %d event(s) without a readable timestamp were skipped", skipped)
        return LogBatch(records[:limit], truncated=truncated, skipped=skipped)


def _log_record(event: Any) -> LogRecord | None:
    if not isinstance(event, Mapping):
        return None
    attrs = as_map(event.get("attributes"))
    try:
        ts = parse_time(attrs.get("timestamp"), what="datadog log timestamp")
    except ValidationError:
        return None
    message = str(attrs.get("message") or "")
    extra = as_map(attrs.get("attributes"))
    fields = {"status": attrs.get("status"), **dict(extra)}
    return LogRecord(ts=ts, message=message, service=str(attrs.get("service") or ""),
                     level=level_of(fields, message), source="datadog",
                     attributes={**{k: v for k, v in extra.items() if isinstance(k, str)},
                                 "id": str(event.get("id", "")), "host": str(attrs.get("host") or ""),
                                 "tags": [str(t) for t in as_list(attrs.get("tags"))]})
