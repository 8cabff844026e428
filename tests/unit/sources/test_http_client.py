"""aisre.sources.http: timeouts, read retries with backoff, error mapping, redaction."""
from __future__ import annotations

import logging
import random

import pytest
import requests
import responses

from aisre.errors import AuthError, BadQuery, NotFound, RateLimited, SourceDown, Timeout
from aisre.sources.http import HttpClient, RetryPolicy, parse_retry_after, redact, strip_query

BASE = "http://src.test"
SECRET = "s3cr3t-token-value"


def client(sleeps: list[float] | None = None, **kw) -> HttpClient:
    kw.setdefault("integration", "testsrc")
    kw.setdefault("headers", {"Authorization": f"Bearer {SECRET}"})
    return HttpClient(kw.pop("base", BASE), sleep=(sleeps.append if sleeps is not None else (lambda s: None)),
                      rng=random.Random(1), **kw)


def test_timeouts_are_mandatory():
    with pytest.raises(ValueError):
        HttpClient(BASE, integration="x", timeout_s=0)


@responses.activate
def test_get_json_sends_params_and_headers():
    responses.get(f"{BASE}/api", json={"ok": 1})
    assert client().get_json("/api", {"q": "a b"}) == {"ok": 1}
    req = responses.calls[0].request
    assert req.url == f"{BASE}/api?q=a+b"
    assert req.headers["Authorization"] == f"Bearer {SECRET}"


@responses.activate
def test_5xx_is_retried_with_backoff_then_succeeds():
    responses.get(f"{BASE}/api", status=503, body="busy")
    responses.get(f"{BASE}/api", status=502, body="bad gateway")
    responses.get(f"{BASE}/api", json={"ok": True})
    sleeps: list[float] = []
    assert client(sleeps, retry=RetryPolicy(attempts=3, base_delay_s=1, jitter=0.5)).get_json("/api") == {"ok": True}
    assert len(responses.calls) == 3
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0   # exponential, jittered down by ≤ 50 %


@responses.activate
def test_5xx_exhausts_retries_into_source_down():
    responses.get(f"{BASE}/api", status=500, body="<html><body>Internal error</body></html>",
                  content_type="text/html")
    sleeps: list[float] = []
    with pytest.raises(SourceDown) as ei:
        client(sleeps, retry=RetryPolicy(attempts=3)).get_json("/api")
    assert len(responses.calls) == 3 and len(sleeps) == 2
    assert ei.value.status == 500 and ei.value.integration == "testsrc"
    assert "Internal error" in ei.value.message


def test_backoff_delays_are_capped_and_jittered():
    policy = RetryPolicy(base_delay_s=1, max_delay_s=4, jitter=0.25)
    rng = random.Random(7)
    delays = [policy.delay_s(n, rng) for n in range(1, 8)]
    assert all(0.75 * min(4, 2 ** (n - 1)) <= d <= min(4, 2 ** (n - 1)) for n, d in zip(range(1, 8), delays))
    assert max(delays) <= 4


@responses.activate
def test_post_is_not_retried_unless_declared_a_read():
    responses.post(f"{BASE}/write", status=503)
    with pytest.raises(SourceDown):
        client().post_json("/write", {"a": 1})
    assert len(responses.calls) == 1
    responses.post(f"{BASE}/search", status=503)
    with pytest.raises(SourceDown):
        client(retry=RetryPolicy(attempts=2)).post_json("/search", {"q": 1}, idempotent=True)
    assert len(responses.calls) == 3


@pytest.mark.parametrize("status,cls", [(401, AuthError), (403, AuthError), (400, BadQuery), (422, BadQuery),
                                        (404, NotFound)])
@responses.activate
def test_client_errors_are_typed_and_not_retried(status, cls):
    responses.get(f"{BASE}/api", status=status, json={"error": "parse error at char 7"})
    with pytest.raises(cls) as ei:
        client(retry=RetryPolicy(attempts=3)).get_json("/api")
    assert len(responses.calls) == 1
    assert ei.value.status == status
    assert "parse error at char 7" in ei.value.message


@responses.activate
def test_429_with_short_retry_after_waits_that_long_then_succeeds():
    responses.get(f"{BASE}/api", status=429, headers={"Retry-After": "3"}, json={"errors": ["slow down"]})
    responses.get(f"{BASE}/api", json={"ok": 1})
    sleeps: list[float] = []
    assert client(sleeps).get_json("/api") == {"ok": 1}
    assert sleeps == [3.0]


@responses.activate
def test_429_with_long_retry_after_raises_at_once_with_the_delay():
    responses.get(f"{BASE}/api", status=429, headers={"Retry-After": "120"}, body="rate limited")
    sleeps: list[float] = []
    with pytest.raises(RateLimited) as ei:
        client(sleeps).get_json("/api")
    assert ei.value.retry_after_s == 120.0 and sleeps == [] and len(responses.calls) == 1


@responses.activate
def test_429_reads_datadog_style_ratelimit_reset():
    responses.get(f"{BASE}/api", status=429, headers={"X-RateLimit-Reset": "45"}, body="{}")
    with pytest.raises(RateLimited) as ei:
        client(retry=RetryPolicy(attempts=1)).get_json("/api")
    assert ei.value.retry_after_s == 45.0


def test_parse_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("garbage") is None and parse_retry_after(None) is None


@pytest.mark.parametrize("body,ctype,expect", [
    (b'{"status":"success","data":{"resu', "application/json", "truncated or invalid JSON"),
    (b"<!DOCTYPE html><html><title>502 Bad Gateway</title></html>", "text/html", "non-JSON body (text/html"),
    (b"", "application/json", "empty body"),
])
@responses.activate
def test_garbage_bodies_are_source_down_with_a_clear_message(body, ctype, expect):
    responses.get(f"{BASE}/api", body=body, content_type=ctype)
    with pytest.raises(SourceDown) as ei:
        client(retry=RetryPolicy(attempts=1)).get_json("/api")
    assert expect in ei.value.message


@responses.activate
def test_timeout_and_connection_errors_are_typed():
    responses.get(f"{BASE}/t", body=requests.exceptions.ReadTimeout("read timed out"))
    responses.get(f"{BASE}/c", body=requests.exceptions.ConnectionError("Name or service not known"))
    with pytest.raises(Timeout):
        client(retry=RetryPolicy(attempts=1)).get_json("/t")
    with pytest.raises(SourceDown) as ei:
        client(retry=RetryPolicy(attempts=1)).get_json("/c")
    assert "cannot connect" in ei.value.message


def test_real_connection_refused_is_source_down(refused_url):
    with pytest.raises(SourceDown) as ei:
        client(base=refused_url, retry=RetryPolicy(attempts=2)).get_json("/api/v1/query")
    assert ei.value.target == f"{refused_url}/api/v1/query"


def test_real_slow_server_times_out(fake_http):
    fake_http.route("GET", "/slow", body={"ok": 1}, delay_s=2)
    with pytest.raises(Timeout) as ei:
        client(base=fake_http.url, timeout_s=0.3, retry=RetryPolicy(attempts=1)).get_json("/slow")
    assert "0.3s" in ei.value.message


def test_real_server_stalling_mid_body_times_out(fake_http):
    fake_http.route("GET", "/stall", body={"data": "x" * 1000}, stall_s=2)
    with pytest.raises(Timeout):
        client(base=fake_http.url, timeout_s=0.3, retry=RetryPolicy(attempts=1)).get_json("/stall")


def test_body_larger_than_the_cap_is_refused(fake_http):
    fake_http.route("GET", "/big", body={"data": "x" * 5000})
    with pytest.raises(SourceDown) as ei:
        client(base=fake_http.url, max_body_bytes=1000).get_json("/big")
    assert "larger than 1000 bytes" in ei.value.message


@responses.activate
def test_secrets_never_reach_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    responses.get(f"{BASE}/api", status=500, body=f"token {SECRET} rejected; key sk-abc")
    responses.get(f"{BASE}/api", status=401, body=f"bad Bearer {SECRET}")
    c = client(secrets=["sk-abc"], retry=RetryPolicy(attempts=2))
    with pytest.raises(AuthError) as ei:
        c.get_json("/api", {"api_key": SECRET})
    text = str(ei.value) + repr(ei.value.to_dict()) + caplog.text
    assert SECRET not in text and "sk-abc" not in text
    assert "***" in caplog.text and "***" in str(ei.value)


def test_redact_and_strip_query():
    assert redact("a xy b xyz", ["xy", "xyz"]) == "a *** b ***"
    assert strip_query("https://u:pw@h.example:8443/p/q?api_key=1#f") == "https://h.example:8443/p/q"
