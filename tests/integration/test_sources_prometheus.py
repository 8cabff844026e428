"""PrometheusSource against a real Prometheus server with backfilled history."""
from __future__ import annotations

import math

import pytest

from aisre.errors import BadQuery, SourceDown
from aisre.sources.prometheus import PrometheusSource
from aisre.sources.http import RetryPolicy
from plugins.prometheus_server import history_end

pytestmark = pytest.mark.services


def test_range_query_returns_the_backfilled_history(prometheus_server):
    p = prometheus_server
    src = PrometheusSource(p.url)
    got = src.query_range('aisre_test_memory_pct{service="checkout"}', p.start, p.end, 60)
    assert len(got) == 1
    s = got[0]
    assert s.key == 'aisre_test_memory_pct{service="checkout"}'
    assert s.labels == {"__name__": "aisre_test_memory_pct", "service": "checkout"}
    expected = p.series['aisre_test_memory_pct{service="checkout"}']
    assert len(s.points) == len(expected) == 360
    assert s.points == tuple((float(t), v) for t, v in expected)


def test_label_matching_and_stable_keys(prometheus_server):
    p = prometheus_server
    src = PrometheusSource(p.url)
    both = src.query_range("aisre_test_cpu_ratio", p.start, p.end, 300)
    assert [s.labels["service"] for s in both] == ["checkout", "payments"]
    assert both[0].key == 'aisre_test_cpu_ratio{instance="checkout-0",service="checkout"}'
    only = src.query_range('aisre_test_cpu_ratio{service=~"pay.*"}', p.start, p.end, 300)
    assert [s.labels["service"] for s in only] == ["payments"]
    assert src.query_range('aisre_test_cpu_ratio{service="nope"}', p.start, p.end, 300) == []


def test_promql_functions_see_the_planted_spike(prometheus_server):
    p = prometheus_server
    src = PrometheusSource(p.url)
    s = src.query_range('max_over_time(aisre_test_latency_p99_seconds{service="checkout"}[10m])',
                        p.start + 600, p.end, 60)[0]
    values = [v for _, v in s.points]
    assert max(values) == pytest.approx(1.65) and min(values) == pytest.approx(0.15)
    spike_ts = [t for t, v in s.points if v > 1]
    assert min(spike_ts) == p.end - 2 * 3600


def test_instant_query(prometheus_server):
    p = prometheus_server
    src = PrometheusSource(p.url)
    got = src.query('aisre_test_memory_pct{service="checkout"}', p.end)
    assert got[0].points == ((p.end, p.series['aisre_test_memory_pct{service="checkout"}'][-1][1]),)
    scalar = src.query("scalar(count(aisre_test_cpu_ratio))", p.end)
    assert scalar[0].key == "scalar" and scalar[0].points[0][1] == 2.0


def test_bad_promql_is_bad_query_with_prometheus_reason(prometheus_server):
    src = PrometheusSource(prometheus_server.url)
    with pytest.raises(BadQuery) as ei:
        src.query_range("sum(rate(foo[5m]) by", prometheus_server.start, prometheus_server.end, 60)
    assert "parse error" in ei.value.message and ei.value.status == 400


def test_nan_samples_are_dropped(prometheus_with):
    end = history_end()
    ts = [end - 600 + 60 * i for i in range(11)]
    prom = prometheus_with({"aisre_gappy": [(t, math.nan if i % 3 == 0 else float(i)) for i, t in enumerate(ts)]},
                           labels={"service": "checkout"})
    s = PrometheusSource(prom.url).query_range("aisre_gappy", ts[0], ts[-1], 60)[0]
    assert s.labels["service"] == "checkout"
    # NaN samples come back as "NaN" strings; the lookback fills a NaN slot with... the NaN itself, so they vanish
    assert [v for _, v in s.points] == [float(i) for i in range(11) if i % 3]


def test_stopped_server_is_source_down(prometheus_with):
    end = history_end()
    prom = prometheus_with({"aisre_one": [(end, 1.0)]})
    src = PrometheusSource(prom.url, timeout_s=2, retry=RetryPolicy(attempts=2, base_delay_s=0.01))
    assert src.query("aisre_one", end)[0].points == ((end, 1.0),)
    prom.stop()
    with pytest.raises(SourceDown):
        src.query_range("aisre_one", end - 60, end, 60)
