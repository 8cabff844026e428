"""SimMetricSource and SimLogSource honour the source protocols."""
import math

import pytest

from aisre.errors import BadQuery, IntegrationError
from aisre.models import LogRecord, Series
from aisre.sim import Fleet, SimLogSource, SimMetricSource
from aisre.sources.base import LogSource, MetricSource


@pytest.fixture
def fleet():
    f = Fleet("db-report-query", seed=5)
    f.advance(10 * 60)
    return f


def test_protocols(fleet):
    assert isinstance(SimMetricSource(fleet), MetricSource)
    assert isinstance(SimLogSource(fleet), LogSource)
    assert SimMetricSource(fleet).name == "sim"


def test_query_range_shape(fleet):
    now = fleet.clock()
    [s] = SimMetricSource(fleet).query_range("orders-db:db_cpu_pct", now - 1800, now, 30)
    assert isinstance(s, Series) and s.key == "orders-db:db_cpu_pct" and s.unit == "percent"
    assert s.labels == {"service": "orders-db", "metric": "db_cpu_pct", "source": "sim"}
    ts = [t for t, _ in s.points]
    assert ts == sorted(ts) and ts[0] >= now - 1800 and ts[-1] <= now and len(ts) == 61
    assert all(type(v) is float and math.isfinite(v) for _, v in s.points)
    assert Series.from_json(s.to_json()) == s


def test_coarser_step_resamples_and_wildcards_expand(fleet):
    src = SimMetricSource(fleet)
    now = fleet.clock()
    [s] = src.query_range("checkout:cpu_pct", now - 3600, now, 300)
    assert 12 <= len(s.points) <= 13
    every = src.query_range("*:*", now - 60, now, 30)
    assert {x.key for x in every} == {f"{svc}:{m}" for svc in fleet.services for m in fleet.metric_names(svc)}
    assert {x.key for x in src.query_range("*:db_cpu_pct", now - 60, now, 30)} == {"orders-db:db_cpu_pct"}
    assert src.query_range("checkout:db_cpu_pct", now - 60, now, 30) == []   # a metric the service lacks


def test_nothing_from_the_future(fleet):
    now = fleet.clock()
    [s] = SimMetricSource(fleet).query_range("checkout:cpu_pct", now, now + 3600, 30)
    assert all(t <= now for t, _ in s.points)
    assert SimLogSource(fleet).fetch("checkout", now + 1, now + 3600) == []


@pytest.mark.parametrize("query,args", [
    ("checkout", (0, 1, 30)), ("nope:cpu_pct", (0, 1, 30)), ("checkout:cpu", (0, 1, 30)),
    ("checkout:cpu_pct", (10, 1, 30)), ("checkout:cpu_pct", (0, 1, 0)), ("checkout:cpu_pct", (0, float("nan"), 30)),
    (None, (0, 1, 30)), ("checkout:cpu_pct; drop", (0, 1, 30)),
])
def test_bad_metric_queries_raise_bad_query(fleet, query, args):
    with pytest.raises(BadQuery) as info:
        SimMetricSource(fleet).query_range(query, *args)
    assert isinstance(info.value, IntegrationError) and info.value.integration == "sim"


def test_logs_oldest_first_half_open_and_limited(fleet):
    src = SimLogSource(fleet)
    now = fleet.clock()
    recs = src.fetch("orders-db", now - 600, now, 1000)
    assert recs and all(isinstance(r, LogRecord) for r in recs)
    assert [r.ts for r in recs] == sorted(r.ts for r in recs)
    assert all(now - 600 <= r.ts < now and r.service == "orders-db" and r.source == "sim" for r in recs)
    assert {r.level for r in recs} <= {"INFO", "WARN", "ERROR"}
    newest = src.fetch("orders-db", now - 600, now, 3)
    assert newest == recs[-3:]
    both = src.fetch("checkout,orders-db", now - 600, now, 5000)
    assert {r.service for r in both} == {"checkout", "orders-db"}
    assert [r.ts for r in both] == sorted(r.ts for r in both)
    assert len(src.fetch("*", now - 600, now, 100000)) >= len(both)
    assert LogRecord.from_json(recs[0].to_json()) == recs[0]


@pytest.mark.parametrize("query,limit", [("", 10), ("nope", 10), ("checkout", -1), (None, 10)])
def test_bad_log_queries_raise_bad_query(fleet, query, limit):
    with pytest.raises(BadQuery):
        SimLogSource(fleet).fetch(query, 0, fleet.clock(), limit)
