"""PrometheusSource against Prometheus' wire format (responses)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from aisre.errors import BadQuery, SourceDown, Timeout
from aisre.sources.http import RetryPolicy
from aisre.sources.prometheus import MAX_POINTS_PER_SERIES, PrometheusSource

URL = "http://prom.test:9090"
RANGE = f"{URL}/api/v1/query_range"


def src(**kw) -> PrometheusSource:
    kw.setdefault("retry", RetryPolicy(attempts=1))
    return PrometheusSource(URL, **kw)


def matrix(*results):
    return {"status": "success", "data": {"resultType": "matrix", "result": list(results)}}


@responses.activate
def test_matrix_becomes_sorted_clean_series_with_stable_keys():
    responses.get(RANGE, json=matrix(
        {"metric": {"__name__": "up", "job": "api", "instance": "b:80"},
         "values": [[120, "1"], [60, "NaN"], [0, "0"], [180, "+Inf"], [120, "1"]]},
        {"metric": {"job": "api", "instance": "a:80", "__name__": "up"}, "values": [[0, "1"]]}))
    got = src().query_range('up{job="api"}', 0, 180, 60)
    assert [s.key for s in got] == ['up{instance="a:80",job="api"}', 'up{instance="b:80",job="api"}']
    assert got[1].points == ((0.0, 0.0), (120.0, 1.0))   # NaN and +Inf dropped, duplicate ts collapsed
    q = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert q == {"query": ['up{job="api"}'], "start": ["0"], "end": ["180"], "step": ["60"]}


@responses.activate
def test_bearer_token_is_sent():
    responses.get(RANGE, json=matrix())
    src(bearer_token="tok-123").query_range("up", 0, 60, 60)
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tok-123"


@responses.activate
def test_empty_result_is_an_empty_list():
    responses.get(RANGE, json=matrix())
    assert src().query_range("absent_metric", 0, 600, 60) == []


@responses.activate
def test_long_ranges_are_split_under_the_points_limit_and_merged():
    step = 1.0
    end = MAX_POINTS_PER_SERIES * 2.5

    def reply(request):
        q = parse_qs(urlsplit(request.url).query)
        s, e = float(q["start"][0]), float(q["end"][0])
        assert (e - s) / step + 1 <= MAX_POINTS_PER_SERIES
        import json
        return 200, {}, json.dumps(matrix({"metric": {"__name__": "m"}, "values": [[s, "1"], [e, "2"]]}))

    responses.add_callback(responses.GET, RANGE, callback=reply)
    got = src().query_range("m", 0, end, step)
    assert len(responses.calls) == 3
    assert len(got) == 1 and got[0].points[0] == (0.0, 1.0) and got[0].points[-1] == (end, 2.0)


@responses.activate
def test_bad_promql_keeps_prometheus_reason():
    responses.get(RANGE, status=400, json={"status": "error", "errorType": "bad_data",
                                           "error": '1:14: parse error: unexpected end of input'})
    with pytest.raises(BadQuery) as ei:
        src().query_range("sum(rate(x[5m]", 0, 60, 60)
    assert "unexpected end of input" in ei.value.message and "sum(rate(x[5m]" in ei.value.message


@responses.activate
def test_execution_error_in_a_200_body_is_bad_query_and_timeout_is_timeout():
    responses.get(RANGE, json={"status": "error", "errorType": "execution", "error": "many-to-many matching"})
    with pytest.raises(BadQuery):
        src().query_range("a / b", 0, 60, 60)
    responses.replace(responses.GET, RANGE, json={"status": "error", "errorType": "timeout", "error": "query timed out"})
    with pytest.raises(Timeout):
        src().query_range("a", 0, 60, 60)


@responses.activate
def test_unexpected_shapes_are_source_down():
    responses.get(RANGE, json={"status": "success"})
    with pytest.raises(SourceDown):
        src().query_range("a", 0, 60, 60)
    responses.replace(responses.GET, RANGE, json={"status": "success", "data": {"resultType": "matrix",
                                                                               "result": "oops"}})
    with pytest.raises(SourceDown):
        src().query_range("a", 0, 60, 60)


@responses.activate
def test_instant_vector_and_scalar():
    responses.get(f"{URL}/api/v1/query", json={"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "up", "job": "x"}, "value": [1700000000.5, "1"]},
        {"metric": {"__name__": "up", "job": "y"}, "value": [1700000000.5, "NaN"]}]}})
    got = src().query("up", 1700000000.5)
    assert got[0].points == ((1700000000.5, 1.0),) and got[1].points == ()
    assert parse_qs(urlsplit(responses.calls[0].request.url).query)["time"] == ["1700000000.5"]


@pytest.mark.parametrize("args", [("", 0, 60, 60), ("up", 60, 0, 60), ("up", 0, 60, 0), ("up", float("nan"), 60, 60)])
def test_invalid_arguments_are_bad_query_without_a_request(args):
    with responses.RequestsMock() as rsps:
        with pytest.raises(BadQuery):
            src().query_range(*args)
        assert len(rsps.calls) == 0
