"""Datadog metrics (v1 query) and logs (v2 search) against Datadog's response shapes (responses)."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from aisre.errors import BadQuery, Timeout
from aisre.sources.datadog import DatadogLogSource, DatadogMetricSource, parse_scope
from aisre.sources.http import RetryPolicy

API, APP = "api-key-aaaa", "app-key-bbbb"
QUERY_URL = "https://api.datadoghq.eu/api/v1/query"
LOGS_URL = "https://api.datadoghq.com/api/v2/logs/events/search"
T0 = 1_700_000_000


def metrics_body(series):
    return {"status": "ok", "res_type": "time_series", "resp_version": 1,
            "query": "avg:system.cpu.user{env:prod} by {host}", "from_date": T0 * 1000, "to_date": (T0 + 600) * 1000,
            "series": series, "message": "", "group_by": ["host"]}


def dd_series(host, points, metric="system.cpu.user", aggr="avg"):
    return {"unit": [{"family": "percentage", "scale_factor": 1.0, "name": "percent", "short_name": "%",
                      "plural": "percent", "id": 17}, None],
            "query_index": 0, "aggr": aggr, "metric": metric, "tag_set": [f"host:{host}"],
            "expression": f"{aggr}:{metric}{{env:prod,host:{host}}}", "scope": f"env:prod,host:{host}",
            "interval": 60, "length": len(points), "start": points[0][0], "end": points[-1][0],
            "pointlist": points, "display_name": metric, "attributes": {}}


@responses.activate
def test_metric_series_from_pointlist_in_ms_with_nulls_dropped():
    responses.get(QUERY_URL, json=metrics_body([
        dd_series("web-2", [[(T0 + 60) * 1000.0, 20.0]]),
        dd_series("web-1", [[T0 * 1000.0, 12.5], [(T0 + 60) * 1000.0, None], [(T0 + 120) * 1000.0, 14.0],
                            [(T0 + 120) * 1000.0, 15.0]])]))
    src = DatadogMetricSource(API, APP, site="datadoghq.eu", retry=RetryPolicy(attempts=1))
    got = src.query_range("avg:system.cpu.user{env:prod} by {host}", T0, T0 + 600, 60)
    assert [s.labels["host"] for s in got] == ["web-1", "web-2"]
    assert got[0].key == 'system.cpu.user{aggr="avg",env="prod",host="web-1"}'
    assert got[0].points == ((T0, 12.5), (T0 + 120, 15.0)) and got[0].unit == "%"
    req = responses.calls[0].request
    assert req.headers["DD-API-KEY"] == API and req.headers["DD-APPLICATION-KEY"] == APP
    assert parse_qs(urlsplit(req.url).query) == {"from": [str(T0)], "to": [str(T0 + 600)],
                                                 "query": ["avg:system.cpu.user{env:prod} by {host}"]}


@responses.activate
def test_metric_same_scope_from_two_expressions_does_not_collide():
    responses.get(QUERY_URL, json=metrics_body([dd_series("a", [[T0 * 1000.0, 1.0]]),
                                                {**dd_series("a", [[T0 * 1000.0, 2.0]]), "query_index": 1}]))
    got = DatadogMetricSource(API, APP, site="datadoghq.eu").query_range("avg:x{*}, avg:x{*}.rollup(max)", T0,
                                                                         T0 + 60, 60)
    assert len(got) == 2 and {s.points[0][1] for s in got} == {1.0, 2.0}


@responses.activate
def test_metric_empty_and_error_bodies():
    responses.get(QUERY_URL, json={**metrics_body([]), "series": []})
    assert DatadogMetricSource(API, APP, site="datadoghq.eu").query_range("avg:nothing{*}", T0, T0 + 60, 60) == []
    responses.replace(responses.GET, QUERY_URL, status=400, json={"errors": ["Error parsing query: unexpected ')'"]})
    with pytest.raises(BadQuery) as ei:
        DatadogMetricSource(API, APP, site="datadoghq.eu").query_range("avg:x{*})", T0, T0 + 60, 60)
    assert "Error parsing query" in ei.value.message and API not in str(ei.value)


def test_parse_scope():
    assert parse_scope("host:a,env:prod,role:db:primary") == {"host": "a", "env": "prod", "role": "db:primary"}
    assert parse_scope("*") == {}


def log_event(i, ts, status="error", service="checkout", message=None):
    return {"id": f"AQAAAX{i:04d}", "type": "log",
            "attributes": {"attributes": {"http": {"status_code": 500}}, "host": "web-1",
                           "message": message or f"payment failed #{i}", "service": service, "status": status,
                           "tags": ["env:prod"], "timestamp": ts}}


def logs_page(events, after=None, status="done"):
    body = {"data": events, "meta": {"elapsed": 132, "request_id": "req", "status": status}}
    if after:
        body["meta"]["page"] = {"after": after}
        body["links"] = {"next": f"{LOGS_URL}?page[cursor]={after}"}
    return body


@responses.activate
def test_logs_follow_cursors_oldest_first():
    pages = {None: logs_page([log_event(1, "2023-11-14T22:13:21.000Z"), log_event(2, "2023-11-14T22:13:22.500Z")],
                             after="c1"),
             "c1": logs_page([log_event(3, "2023-11-14T22:13:25Z", status="warn")])}
    sent = []

    def reply(request):
        body = json.loads(request.body)
        sent.append(body)
        return 200, {}, json.dumps(pages[body["page"].get("cursor")])

    responses.add_callback(responses.POST, LOGS_URL, callback=reply)
    batch = DatadogLogSource(API, APP, page_size=2).fetch("service:checkout", T0, T0 + 600)
    assert [r.attributes["id"] for r in batch] == ["AQAAAX0001", "AQAAAX0002", "AQAAAX0003"]
    assert [r.level for r in batch] == ["error", "error", "warning"]
    assert batch[0].ts == 1700000001.0 and batch[0].service == "checkout" and batch[0].source == "datadog"
    assert batch[0].attributes["http"] == {"status_code": 500}
    assert not batch.truncated
    assert sent[0]["filter"] == {"query": "service:checkout", "from": "2023-11-14T22:13:20.000Z",
                                 "to": "2023-11-14T22:23:20.000Z"}
    assert sent[0]["sort"] == "timestamp" and sent[1]["page"] == {"limit": 2, "cursor": "c1"}


@responses.activate
def test_logs_limit_marks_truncated_and_resume_ts():
    responses.post(LOGS_URL, json=logs_page([log_event(1, "2023-11-14T22:13:21Z"),
                                             log_event(2, "2023-11-14T22:13:22Z")], after="more"))
    batch = DatadogLogSource(API, APP).fetch("", T0, T0 + 600, limit=2)
    assert len(batch) == 2 and batch.truncated and batch.resume_ts == T0 + 2
    assert json.loads(responses.calls[0].request.body)["filter"]["query"] == "*"


@responses.activate
def test_logs_server_side_timeout_raises_and_returns_nothing_partial():
    responses.post(LOGS_URL, json=logs_page([log_event(1, "2023-11-14T22:13:21Z")], after="c1"))
    responses.post(LOGS_URL, json=logs_page([], status="timeout"))
    with pytest.raises(Timeout):
        DatadogLogSource(API, APP, retry=RetryPolicy(attempts=1)).fetch("", T0, T0 + 600)


@responses.activate
def test_logs_unreadable_timestamp_is_counted_not_hidden():
    responses.post(LOGS_URL, json=logs_page([log_event(1, "not a time"), log_event(2, "2023-11-14T22:13:21Z")]))
    batch = DatadogLogSource(API, APP).fetch("", T0, T0 + 600)
    assert len(batch) == 1 and batch.skipped == 1


@responses.activate
def test_logs_empty_result():
    responses.post(LOGS_URL, json={"data": [], "meta": {"status": "done"}})
    batch = DatadogLogSource(API, APP).fetch("service:none", T0, T0 + 600)
    assert list(batch) == [] and not batch.truncated and batch.resume_ts is None
