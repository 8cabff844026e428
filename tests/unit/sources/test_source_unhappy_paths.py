"""Every HTTP source × every transport failure → the same typed error (the conformance table).

Cases: 5xx, 429 with Retry-After, 401, timeout, truncated JSON, an HTML error page.
"""
from __future__ import annotations

import pytest
import requests
import responses

from aisre.errors import AuthError, RateLimited, SourceDown, Timeout
from aisre.sources.datadog import DatadogLogSource, DatadogMetricSource
from aisre.sources.elasticsearch import ElasticsearchLogSource
from aisre.sources.http import RetryPolicy
from aisre.sources.loki import LokiLogSource
from aisre.sources.prometheus import PrometheusSource

KW = {"retry": RetryPolicy(attempts=2, base_delay_s=0.01), "sleep": lambda s: None}
SECRET = "dd-api-key-0123456789"

SOURCES = {
    "prometheus": ("GET", "http://prom.test/api/v1/query_range",
                   lambda: PrometheusSource("http://prom.test", bearer_token=SECRET, **KW).query_range("up", 0, 60, 60)),
    "datadog_metrics": ("GET", "https://api.datadoghq.com/api/v1/query",
                        lambda: DatadogMetricSource(SECRET, "app-key-xyz", **KW).query_range("avg:cpu{*}", 0, 60, 60)),
    "datadog_logs": ("POST", "https://api.datadoghq.com/api/v2/logs/events/search",
                     lambda: DatadogLogSource(SECRET, "app-key-xyz", **KW).fetch("service:web", 0, 60)),
    "elasticsearch": ("POST", "http://es.test:9200/logs-app/_search",
                      lambda: ElasticsearchLogSource("http://es.test:9200", "logs-app", api_key=SECRET, **KW)
                      .fetch("level:error", 0, 60)),
    "loki": ("GET", "http://loki.test/loki/api/v1/query_range",
             lambda: LokiLogSource("http://loki.test", bearer_token=SECRET, **KW).fetch('{app="web"}', 0, 60)),
}

CASES = {
    "5xx": (dict(status=503, body="upstream connect error"), SourceDown, 2),
    "429": (dict(status=429, headers={"Retry-After": "60"}, json={"errors": ["Rate limit exceeded"]}), RateLimited, 1),
    "401": (dict(status=401, json={"errors": ["Unauthorized"]}), AuthError, 1),
    "timeout": (dict(body=requests.exceptions.ReadTimeout("Read timed out.")), Timeout, 2),
    "truncated_json": (dict(body='{"status": "success", "data": {"resultType": "matr', content_type="application/json"),
                       SourceDown, 2),
    "html_page": (dict(status=200, body="<html><head><title>Sign in</title></head><body>SSO</body></html>",
                       content_type="text/html"), SourceDown, 2),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("source", list(SOURCES))
def test_failure_maps_to_typed_error(source, case):
    method, url, call = SOURCES[source]
    reply, expected, calls = CASES[case]
    with responses.RequestsMock() as rsps:
        rsps.add(method, url, **reply)
        with pytest.raises(expected) as ei:
            call()
        assert len(rsps.calls) == calls      # reads retried on 5xx/timeout/garbage; never on 401/long 429
    err = ei.value
    assert SECRET not in str(err) and SECRET not in repr(err.to_dict())
    if case == "429":
        assert err.retry_after_s == 60.0
    if case == "html_page":
        assert "non-JSON" in err.message
    if case == "truncated_json":
        assert "truncated or invalid JSON" in err.message
