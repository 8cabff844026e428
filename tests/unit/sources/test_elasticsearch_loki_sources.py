"""Elasticsearch/OpenSearch (_search + search_after) and Loki (query_range) log sources (responses)."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from aisre.errors import BadQuery, NotFound, SourceDown, Timeout
from aisre.sources.elasticsearch import ElasticsearchLogSource
from aisre.sources.http import RetryPolicy
from aisre.sources.loki import LokiLogSource

ES = "http://es.test:9200"
SEARCH = f"{ES}/logs-app/_search"
T0 = 1_700_000_000


def hit(i, ts_ms, level="ERROR", msg=None, **extra):
    src = {"@timestamp": f"2023-11-14T22:13:{(ts_ms // 1000) % 60:02d}.{ts_ms % 1000:03d}Z",
           "message": msg or f"request {i} failed", "log": {"level": level}, "service": {"name": "checkout"}, **extra}
    return {"_index": "logs-app-2023.11.14", "_id": f"id{i}", "_score": None, "_source": src, "sort": [ts_ms, i]}


def es_body(hits, **over):
    return {"took": 3, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": None, "hits": hits}, **over}


@responses.activate
def test_es_search_after_pagination_and_record_mapping():
    all_hits = [hit(i, (T0 + i) * 1000) for i in range(5)]
    bodies = []

    def reply(request):
        body = json.loads(request.body)
        bodies.append(body)
        start = 0 if "search_after" not in body else body["search_after"][1] + 1
        return 200, {}, json.dumps(es_body(all_hits[start:start + body["size"]]))

    responses.add_callback(responses.POST, SEARCH, callback=reply)
    batch = ElasticsearchLogSource(ES, "logs-app", api_key="ZW5jb2RlZA==", page_size=2).fetch(
        "service.name:checkout", T0, T0 + 60)
    assert [r.attributes["id"] for r in batch] == ["id0", "id1", "id2", "id3", "id4"] and not batch.truncated
    r = batch[0]
    assert (r.ts, r.level, r.service, r.source, r.message) == (T0, "error", "checkout", "elasticsearch",
                                                               "request 0 failed")
    assert bodies[0]["query"]["bool"]["filter"][0]["range"]["@timestamp"] == {
        "gte": T0 * 1000, "lt": (T0 + 60) * 1000, "format": "epoch_millis"}
    assert bodies[0]["query"]["bool"]["must"] == [{"query_string": {"query": "service.name:checkout",
                                                                    "default_operator": "AND"}}]
    assert bodies[0]["sort"] == [{"@timestamp": {"order": "asc"}}, {"_doc": {"order": "asc"}}]
    assert bodies[1]["search_after"] == [(T0 + 1) * 1000, 1]
    req = responses.calls[0].request
    assert req.headers["Authorization"] == "ApiKey ZW5jb2RlZA=="
    assert parse_qs(urlsplit(req.url).query) == {"allow_partial_search_results": ["false"]}


@responses.activate
def test_es_limit_truncates_and_basic_auth_is_redacted():
    responses.post(SEARCH, json=es_body([hit(i, (T0 + i) * 1000) for i in range(4)]))
    batch = ElasticsearchLogSource(ES, "logs-app", username="elastic", password="pw-9f8e7d").fetch("", T0, T0 + 60,
                                                                                                 limit=3)
    assert len(batch) == 3 and batch.truncated and batch.resume_ts == T0 + 2
    auth = responses.calls[0].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]) == b"elastic:pw-9f8e7d"
    assert "must" in json.loads(responses.calls[0].request.body)["query"]["bool"]


@responses.activate
def test_es_query_syntax_error_is_bad_query_with_reason():
    responses.post(SEARCH, status=400, json={"error": {"root_cause": [{"type": "query_shard_exception",
                   "reason": "Failed to parse query [level:(error]", "index": "logs-app"}],
                   "type": "search_phase_execution_exception", "reason": "all shards failed"}, "status": 400})
    with pytest.raises(BadQuery) as ei:
        ElasticsearchLogSource(ES, "logs-app").fetch("level:(error", T0, T0 + 60)
    assert "Failed to parse query" in ei.value.message


@responses.activate
def test_es_missing_index_timed_out_and_shard_failures():
    responses.post(SEARCH, status=404, json={"error": {"type": "index_not_found_exception",
                                                       "reason": "no such index [logs-app]"}, "status": 404})
    with pytest.raises(NotFound):
        ElasticsearchLogSource(ES, "logs-app").fetch("", T0, T0 + 60)
    responses.replace(responses.POST, SEARCH, json=es_body([hit(1, T0 * 1000)], timed_out=True))
    with pytest.raises(Timeout):
        ElasticsearchLogSource(ES, "logs-app").fetch("", T0, T0 + 60)
    responses.replace(responses.POST, SEARCH, json=es_body([], _shards={"total": 2, "successful": 1, "failed": 1}))
    with pytest.raises(SourceDown):
        ElasticsearchLogSource(ES, "logs-app", retry=RetryPolicy(attempts=1)).fetch("", T0, T0 + 60)


@responses.activate
def test_es_timeout_mid_pagination_returns_nothing_partial():
    responses.post(SEARCH, json=es_body([hit(0, T0 * 1000), hit(1, (T0 + 1) * 1000)]))
    responses.post(SEARCH, json=es_body([hit(2, (T0 + 2) * 1000)], timed_out=True))
    with pytest.raises(Timeout):
        ElasticsearchLogSource(ES, "logs-app", page_size=2).fetch("", T0, T0 + 60)


@responses.activate
def test_es_empty_and_unreadable_hits():
    responses.post(SEARCH, json=es_body([{"_id": "x", "_source": {"message": "no time"}},
                                         hit(1, T0 * 1000, level="WARN")]))
    batch = ElasticsearchLogSource(ES, "logs-app").fetch("", T0, T0 + 60)
    assert [r.level for r in batch] == ["warning"] and batch.skipped == 1


LOKI = "http://loki.test:3100"
QR = f"{LOKI}/loki/api/v1/query_range"


def streams(*result):
    return {"status": "success", "data": {"resultType": "streams", "result": list(result),
                                          "stats": {"summary": {"totalEntriesReturned": 0}}}}


def ns(t):
    return str(int(t * 1e9))


@responses.activate
def test_loki_streams_merge_oldest_first_with_levels_and_service():
    responses.get(QR, json=streams(
        {"stream": {"app": "checkout", "level": "error"}, "values": [[ns(T0 + 2), "payment declined"]]},
        {"stream": {"app": "checkout"}, "values": [[ns(T0 + 1), '{"level":"warn","msg":"slow"}'],
                                                   [ns(T0 + 3), "INFO ok"]]}))
    batch = LokiLogSource(LOKI, tenant="team-a").fetch('{app="checkout"}', T0, T0 + 60)
    assert [r.message for r in batch] == ['{"level":"warn","msg":"slow"}', "payment declined", "INFO ok"]
    assert [r.level for r in batch] == ["warning", "error", "info"]
    assert batch[0].service == "checkout" and batch[1].attributes["labels"]["level"] == "error"
    q = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert q["direction"] == ["forward"] and q["start"] == [ns(T0)] and q["end"] == [ns(T0 + 60)]
    assert responses.calls[0].request.headers["X-Scope-OrgID"] == "team-a"


@responses.activate
def test_loki_paginates_by_time_without_duplicates_at_the_boundary():
    entries = [(T0 + i // 2, f"line {i}") for i in range(7)]    # two entries share each second

    def reply(request):
        q = parse_qs(urlsplit(request.url).query)
        start, limit = int(q["start"][0]), int(q["limit"][0])
        page = [[ns(t), line] for t, line in entries if int(t * 1e9) >= start][:limit]
        return 200, {}, json.dumps(streams({"stream": {"app": "a"}, "values": page}))

    responses.add_callback(responses.GET, QR, callback=reply)
    batch = LokiLogSource(LOKI, page_size=3).fetch('{app="a"}', T0, T0 + 60)
    assert [r.message for r in batch] == [f"line {i}" for i in range(7)] and not batch.truncated
    assert len(responses.calls) >= 2      # it did paginate


@responses.activate
def test_loki_metric_query_and_parse_error_are_bad_query():
    responses.get(QR, json={"status": "success", "data": {"resultType": "matrix", "result": []}})
    with pytest.raises(BadQuery):
        LokiLogSource(LOKI).fetch('rate({app="a"}[1m])', T0, T0 + 60)
    responses.replace(responses.GET, QR, status=400, body="parse error at line 1, col 5: syntax error",
                      content_type="text/plain")
    with pytest.raises(BadQuery) as ei:
        LokiLogSource(LOKI).fetch("{app=", T0, T0 + 60)
    assert "syntax error" in ei.value.message
    with pytest.raises(BadQuery):
        LokiLogSource(LOKI).fetch("", T0, T0 + 60)


@responses.activate
def test_loki_empty_result_and_limit():
    responses.get(QR, json=streams())
    assert list(LokiLogSource(LOKI).fetch('{app="none"}', T0, T0 + 60)) == []
    responses.replace(responses.GET, QR, json=streams({"stream": {"app": "a"},
                                                       "values": [[ns(T0 + i), f"l{i}"] for i in range(5)]}))
    batch = LokiLogSource(LOKI).fetch('{app="a"}', T0, T0 + 60, limit=3)
    assert [r.message for r in batch] == ["l0", "l1", "l2"] and batch.truncated and batch.resume_ts == T0 + 2


@responses.activate
def test_es_empty_result():
    responses.post(SEARCH, json=es_body([]))
    batch = ElasticsearchLogSource(ES, "logs-app").fetch("service.name:none", T0, T0 + 60)
    assert list(batch) == [] and not batch.truncated and batch.skipped == 0
