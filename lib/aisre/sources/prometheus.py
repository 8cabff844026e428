"""Prometheus (and Prometheus-compatible: Thanos, Mimir, VictoriaMetrics) over its HTTP API.

``query_range`` calls ``GET /api/v1/query_range``; ``query`` calls ``GET /api/v1/query``.
Series keys render the metric's labels stably (``name{a="x",b="y"}``, see
:func:`aisre.sources.normalize.series_key`). Values Prometheus sends as the strings ``"NaN"``,
``"+Inf"`` or ``"-Inf"`` are dropped. Ranges longer than Prometheus' 11,000-points-per-series
limit are split into several requests and merged.

Errors: a PromQL syntax or execution error (HTTP 400/422, ``errorType`` bad_data/execution)
→ :class:`~aisre.errors.BadQuery` with Prometheus' own message; 503 (query timeout, overloaded)
and connection failures → :class:`~aisre.errors.SourceDown`; see :mod:`aisre.sources.http`.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from aisre.errors import BadQuery, SourceDown, Timeout
from aisre.models import Series
from aisre.sources.http import HttpClient, RetryPolicy
from aisre.sources.normalize import make_series, series_key

#: Prometheus refuses range queries that would return more points per series than this.
MAX_POINTS_PER_SERIES = 11_000


class PrometheusSource:
    """Metric source for a Prometheus server.

    >>> src = PrometheusSource("http://127.0.0.1:9090")             # doctest: +SKIP
    >>> src.query_range('up{job="api"}', start, end, step_s=60)     # doctest: +SKIP
    [Series(key='up{instance="a:80",job="api"}', ...)]
    """

    name = "prometheus"

    def __init__(self, url: str, timeout_s: float = 10, bearer_token: str | None = None, *,
                 verify_ssl: bool = True, retry: RetryPolicy = RetryPolicy(), http: HttpClient | None = None,
                 **http_kw: Any) -> None:
        headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.http = http or HttpClient(self.url, integration="prometheus", timeout_s=timeout_s, headers=headers,
                                       verify=verify_ssl, retry=retry, **http_kw)

    # ------------------------------------------------------------------ MetricSource

    def query_range(self, query: str, start: float, end: float, step_s: float) -> list[Series]:
        """Every series of ``query`` in ``[start, end]`` at ``step_s`` resolution."""
        _check_range(query, start, end, step_s)
        span = MAX_POINTS_PER_SERIES * step_s
        merged: dict[str, tuple[Mapping[str, str], list[Any]]] = {}
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + span - step_s)
            data = self._call("/api/v1/query_range", {"query": query, "start": _fmt(chunk_start),
                                                       "end": _fmt(chunk_end), "step": _fmt(step_s)},
                              "query_range", query)
            if data.get("resultType") != "matrix":
                raise BadQuery(f"query_range of {query!r} returned {data.get('resultType')!r}, not a matrix",
                               integration="prometheus", operation="query_range", target=self.url)
            for item in _result_list(data, self.url):
                labels = _labels(item)
                key = series_key(labels.get("__name__", ""), labels)
                merged.setdefault(key, (labels, []))[1].extend(_values(item, "values"))
            chunk_start = chunk_end + step_s
        return [make_series(labels.get("__name__", ""), labels, pts, key=k)
                for k, (labels, pts) in sorted(merged.items())]

    def query(self, expr: str, ts: float | None = None) -> list[Series]:
        """Instant query: one point per series at ``ts`` (server time when None).

        A scalar or string result becomes one series keyed ``scalar``/``string``; a range selector
        (``foo[5m]``) returns its raw samples.
        """
        if not expr or not expr.strip():
            raise BadQuery("empty PromQL expression", integration="prometheus", operation="query")
        params = {"query": expr}
        if ts is not None:
            params["time"] = _fmt(ts)
        data = self._call("/api/v1/query", params, "query", expr)
        kind = data.get("resultType")
        result = data.get("result")
        if kind in ("scalar", "string"):
            if not isinstance(result, list) or len(result) != 2:
                raise _shape(self.url, "query", f"{kind} result is not [ts, value]")
            return [make_series(kind, {}, [result], key=kind)] if kind == "scalar" else []
        out = []
        for item in _result_list(data, self.url):
            labels = _labels(item)
            pts = _values(item, "values") if kind == "matrix" else [item.get("value")]
            out.append(make_series(labels.get("__name__", ""), labels, pts))
        return sorted(out, key=lambda s: s.key)

    # ------------------------------------------------------------------ internals

    def _call(self, path: str, params: dict[str, Any], operation: str, query: str) -> dict[str, Any]:
        try:
            body = self.http.get_json(path, params, operation=operation)
        except BadQuery as exc:  # keep Prometheus' reason and the query, drop the transport wording
            raise BadQuery(f"Prometheus rejected {query!r}: {exc.message.split(': ', 1)[-1]}",
                           integration="prometheus", operation=operation, target=self.url,
                           status=exc.status) from None
        if not isinstance(body, Mapping):
            raise _shape(self.url, operation, "body is not a JSON object")
        if body.get("status") != "success":
            err_type = body.get("errorType", "")
            msg = f"Prometheus {operation} failed ({err_type}): {body.get('error', '?')}"
            if err_type in ("bad_data", "execution"):
                raise BadQuery(msg, integration="prometheus", operation=operation, target=self.url)
            if err_type == "timeout":
                raise Timeout(msg, integration="prometheus", operation=operation, target=self.url)
            raise SourceDown(msg, integration="prometheus", operation=operation, target=self.url)
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise _shape(self.url, operation, "no data object")
        return dict(data)


def _check_range(query: str, start: float, end: float, step_s: float) -> None:
    if not query or not query.strip():
        raise BadQuery("empty PromQL expression", integration="prometheus", operation="query_range")
    for name, v in (("start", start), ("end", end), ("step_s", step_s)):
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise BadQuery(f"{name} must be a finite number, got {v!r}", integration="prometheus",
                           operation="query_range")
    if step_s <= 0:
        raise BadQuery(f"step_s must be > 0, got {step_s}", integration="prometheus", operation="query_range")
    if end < start:
        raise BadQuery(f"end ({end}) is before start ({start})", integration="prometheus", operation="query_range")


def _fmt(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".")


def _shape(url: str, operation: str, why: str) -> SourceDown:
    return SourceDown(f"unexpected Prometheus response: {why}", integration="prometheus",
                      operation=operation, target=url)


def _result_list(data: Mapping[str, Any], url: str) -> list[Mapping[str, Any]]:
    result = data.get("result")
    if result is None:
        return []
    if not isinstance(result, list) or not all(isinstance(r, Mapping) for r in result):
        raise _shape(url, "query", "result is not a list of objects")
    return result


def _labels(item: Mapping[str, Any]) -> dict[str, str]:
    metric = item.get("metric") or {}
    return {str(k): str(v) for k, v in metric.items()} if isinstance(metric, Mapping) else {}


def _values(item: Mapping[str, Any], field: str) -> list[Any]:
    vals = item.get(field)
    return vals if isinstance(vals, list) else []
