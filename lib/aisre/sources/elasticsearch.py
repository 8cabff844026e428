"""Elasticsearch / OpenSearch logs through ``POST /<index>/_search``.

The query is Lucene ``query_string`` syntax (``service:checkout AND level:error``; empty = all),
AND-ed with a range filter on the time field (``@timestamp`` by default, epoch-millis bounds,
``[start, end)``). Pages are sorted by ``[time_field asc, tiebreaker asc]`` and follow
``search_after``; the default tiebreaker ``_doc`` works on Elasticsearch 7/8 and OpenSearch
without a point in time (within one index it is unique; across shards an equal timestamp and doc
id is possible but rare: set ``tiebreaker`` to a unique keyword field such as ``event.id`` if you
have one). ``allow_partial_search_results=false`` makes shard failures errors rather than silent
gaps; a ``timed_out`` answer raises :class:`~aisre.errors.Timeout` and nothing is returned.

Auth: ``api_key`` (header ``Authorization: ApiKey <key>``, the base64 ``id:key`` form) or
``username``/``password`` (basic). Both are redacted from errors and logs.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Mapping

from aisre.errors import BadQuery, SourceDown, Timeout, ValidationError
from aisre.models import LogRecord
from aisre.sources.base import LogBatch
from aisre.sources.http import HttpClient, RetryPolicy
from aisre.sources.normalize import level_of, lookup, parse_time

log = logging.getLogger(__name__)

_MESSAGE_FIELDS = ("message", "log", "msg", "event.original")
_SERVICE_FIELDS = ("service.name", "service", "kubernetes.labels.app", "app")
_MAX_ATTRS = 30


class ElasticsearchLogSource:
    """Log source for Elasticsearch and OpenSearch (``search_after`` pagination)."""

    name = "elasticsearch"

    def __init__(self, url: str, index: str = "logs-*", *, api_key: str | None = None, username: str | None = None,
                 password: str | None = None, timeout_s: float = 10, verify_ssl: bool = True,
                 time_field: str = "@timestamp", message_field: str | None = None, tiebreaker: str = "_doc",
                 page_size: int = 1000, retry: RetryPolicy = RetryPolicy(), http: HttpClient | None = None,
                 **http_kw: Any) -> None:
        if not index or any(c in index for c in "/ ?#"):
            raise ValueError(f"bad index pattern {index!r}")
        self.url = url.rstrip("/")
        self.index = index
        self.time_field = time_field
        self.message_field = message_field
        self.tiebreaker = tiebreaker
        self.page_size = max(1, min(10_000, page_size))   # index.max_result_window default
        headers = {"Authorization": f"ApiKey {api_key}"} if api_key else {}
        auth = (username, password or "") if username else None
        self.http = http or HttpClient(self.url, integration="elasticsearch", timeout_s=timeout_s, headers=headers,
                                       auth=auth, secrets=[password or ""], verify=verify_ssl, retry=retry,
                                       **http_kw)

    def _body(self, query: str, start: float, end: float, size: int, after: list[Any] | None) -> dict[str, Any]:
        must: list[dict[str, Any]] = []
        if query.strip():
            must.append({"query_string": {"query": query, "default_operator": "AND"}})
        body: dict[str, Any] = {
            "size": size,
            "query": {"bool": {"must": must, "filter": [{"range": {self.time_field: {
                "gte": int(start * 1000), "lt": math.ceil(end * 1000), "format": "epoch_millis"}}}]}},
            "sort": [{self.time_field: {"order": "asc"}}, {self.tiebreaker: {"order": "asc"}}],
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = after
        return body

    def fetch(self, query: str, start: float, end: float, limit: int = 1000) -> LogBatch:
        if end < start:
            raise BadQuery(f"end ({end}) is before start ({start})", integration="elasticsearch",
                           operation="search")
        records: list[LogRecord] = []
        after: list[Any] | None = None
        skipped = 0
        while True:
            size = min(self.page_size, max(1, limit - len(records)) + 1)   # +1 tells us whether more exist
            body = self.http.post_json(f"/{self.index}/_search", self._body(query or "", start, end, size, after),
                                       params={"allow_partial_search_results": "false"}, operation="search",
                                       idempotent=True)
            hits = self._hits(body)
            for hit in hits:
                if len(records) >= limit:
                    return LogBatch(records, truncated=True, skipped=self._log_skipped(skipped))
                rec = self._record(hit)
                if rec is None:
                    skipped += 1
                else:
                    records.append(rec)
            if len(hits) < size:
                return LogBatch(records, truncated=False, skipped=self._log_skipped(skipped))
            sort = hits[-1].get("sort")
            if not isinstance(sort, list) or sort == after:
                raise SourceDown("Elasticsearch hits carry no usable sort values for search_after",
                                 integration="elasticsearch", operation="search", target=self.url)
            after = sort

    def _hits(self, body: Any) -> list[Mapping[str, Any]]:
        if not isinstance(body, Mapping):
            raise SourceDown("unexpected Elasticsearch response: not an object", integration="elasticsearch",
                             operation="search", target=self.url)
        if body.get("timed_out"):
            raise Timeout("Elasticsearch search timed out on the server; results would be partial",
                          integration="elasticsearch", operation="search", target=self.url)
        shards = body.get("_shards") or {}
        if isinstance(shards, Mapping) and shards.get("failed"):
            raise SourceDown(f"Elasticsearch search failed on {shards.get('failed')} shard(s)",
                             integration="elasticsearch", operation="search", target=self.url)
        hits = (body.get("hits") or {}).get("hits") if isinstance(body.get("hits"), Mapping) else None
        if hits is None:
            raise SourceDown("unexpected Elasticsearch response: no hits.hits", integration="elasticsearch",
                             operation="search", target=self.url)
        if not isinstance(hits, list):
            raise SourceDown("unexpected Elasticsearch response: hits.hits is not a list",
                             integration="elasticsearch", operation="search", target=self.url)
        return [h for h in hits if isinstance(h, Mapping)]

    def _record(self, hit: Mapping[str, Any]) -> LogRecord | None:
        src = hit.get("_source") if isinstance(hit.get("_source"), Mapping) else {}
        raw_ts = lookup(src, self.time_field)
        if raw_ts is None and isinstance(hit.get("sort"), list) and hit["sort"]:
            raw_ts = hit["sort"][0]
        try:
            ts = parse_time(raw_ts, what="elasticsearch time field")
        except ValidationError:
            return None
        fields = (self.message_field,) if self.message_field else _MESSAGE_FIELDS
        message = next((str(v) for f in fields if (v := lookup(src, f)) is not None), "")
        service = next((str(v) for f in _SERVICE_FIELDS if isinstance(v := lookup(src, f), (str, int))), "")
        attrs: dict[str, Any] = {"index": hit.get("_index", ""), "id": hit.get("_id", "")}
        for k, v in src.items():
            if len(attrs) >= _MAX_ATTRS:
                break
            if k not in attrs and isinstance(v, (str, int, float, bool)) and k not in fields:
                attrs[k] = v
        return LogRecord(ts=ts, message=message, service=service, level=level_of(src, message),
                         source="elasticsearch", attributes=attrs)

    def _log_skipped(self, skipped: int) -> int:
        if skipped:
            log.warning("elasticsearch: %d hit(s) without a readable %s were skipped", skipped, self.time_field)
        return skipped
