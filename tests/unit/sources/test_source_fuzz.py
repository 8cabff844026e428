"""Hostile or malformed vendor bodies never crash a source: they parse or raise IntegrationError."""
from __future__ import annotations

import json
import os

import responses
from hypothesis import HealthCheck, given, settings, strategies as st

from aisre.errors import IntegrationError
from aisre.models import LogRecord, Series
from aisre.sources.datadog import DatadogLogSource, DatadogMetricSource
from aisre.sources.elasticsearch import ElasticsearchLogSource
from aisre.sources.http import RetryPolicy
from aisre.sources.loki import LokiLogSource
from aisre.sources.prometheus import PrometheusSource

ONE = {"retry": RetryPolicy(attempts=1)}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["NaN", "+Inf", "success", "matrix", "streams", "1e400"]))
keys = st.sampled_from(["status", "data", "result", "resultType", "metric", "values", "value", "series",
                        "pointlist", "scope", "metric", "hits", "_source", "sort", "@timestamp", "message",
                        "stream", "attributes", "timestamp", "meta", "page", "after", "timed_out", "_shards"])
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


def shaped(kind: str):
    """Bodies close to the real shape, with arbitrary pieces inside."""
    if kind == "prometheus":
        return st.fixed_dictionaries({"status": st.just("success"), "data": st.fixed_dictionaries({
            "resultType": st.just("matrix"), "result": st.lists(st.fixed_dictionaries({
                "metric": json_values, "values": json_values}), max_size=3)})})
    if kind == "datadog":
        return st.fixed_dictionaries({"status": st.just("ok"), "series": st.lists(st.fixed_dictionaries({
            "metric": json_values, "scope": json_values, "pointlist": json_values}), max_size=3)})
    if kind == "datadog_logs":
        return st.fixed_dictionaries({"data": st.lists(json_values, max_size=3), "meta": json_values})
    if kind == "es":
        return st.fixed_dictionaries({"hits": st.fixed_dictionaries({"hits": st.lists(st.fixed_dictionaries({
            "_source": json_values, "sort": json_values}), max_size=3)})})
    return st.fixed_dictionaries({"status": st.just("success"), "data": st.fixed_dictionaries({
        "resultType": st.just("streams"), "result": st.lists(st.fixed_dictionaries({
            "stream": json_values, "values": json_values}), max_size=3)})})


CALLS = {
    "prometheus": ("GET", "http://p.test/api/v1/query_range",
                   lambda: PrometheusSource("http://p.test", **ONE).query_range("up", 0, 600, 60)),
    "datadog": ("GET", "https://api.datadoghq.com/api/v1/query",
                lambda: DatadogMetricSource("k", "a", **ONE).query_range("avg:x{*}", 0, 600, 60)),
    "datadog_logs": ("POST", "https://api.datadoghq.com/api/v2/logs/events/search",
                     lambda: DatadogLogSource("k", "a", **ONE).fetch("", 0, 600, limit=5)),
    "es": ("POST", "http://es.test/logs/_search",
           lambda: ElasticsearchLogSource("http://es.test", "logs", **ONE).fetch("", 0, 600, limit=5)),
    "loki": ("GET", "http://l.test/loki/api/v1/query_range",
             lambda: LokiLogSource("http://l.test", **ONE).fetch('{a="b"}', 0, 600, limit=5)),
}


def run(kind: str, body) -> None:
    method, url, call = CALLS[kind]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(method, url, body=json.dumps(body))
        try:
            out = call()
        except IntegrationError:
            return
    for item in out:
        assert isinstance(item, (Series, LogRecord))
        json.dumps(item.to_dict())          # every result stays serialisable (trigger payloads)


FUZZ = settings(max_examples=int(os.environ.get("AISRE_FUZZ_EXAMPLES", "30")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.sampled_from(list(CALLS)), json_values)
def test_arbitrary_json_never_crashes(kind, body):
    run(kind, body)


@FUZZ
@given(st.data())
def test_near_valid_shapes_never_crash(data):
    kind = data.draw(st.sampled_from(list(CALLS)))
    run(kind, data.draw(shaped(kind)))
