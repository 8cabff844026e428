"""Normalisers (points, keys, times, levels) and the config-driven source registry."""
from __future__ import annotations

import importlib
import math

import pytest
from hypothesis import given, strategies as st

from aisre.config import load_config
from aisre.errors import ConfigError, ValidationError
from aisre.models import Series
from aisre.sources.base import LogSource, MetricSource
from aisre.sources.normalize import (clean_points, level_of, make_series, normalise_level, parse_time, series_key)
from aisre.sources.registry import LOG_SOURCES, METRIC_SOURCES, build_log_sources, build_metric_sources
from aisre.state import MemoryStore

values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["NaN", "+Inf", "-Inf", "1.5",
                                                                                     "x", None, True]))


@given(st.lists(st.tuples(st.integers(0, 50), values), max_size=40))
def test_clean_points_sorted_finite_unique(raw):
    pts = clean_points(raw)
    ts = [t for t, _ in pts]
    assert ts == sorted(set(ts))
    assert all(math.isfinite(v) for _, v in pts)
    # the last finite value given for a timestamp wins
    for t, v in pts:
        finite = [float(x) for tt, x in raw if tt == t and x is not None and not isinstance(x, bool)
                  and _finite(x)]
        assert v == finite[-1]


def _finite(x):
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def test_series_key_is_stable_and_escaped():
    a = series_key("up", {"job": "api", "instance": 'a"b'})
    assert a == series_key("up", {"instance": 'a"b', "job": "api"}) == 'up{instance="a\\"b",job="api"}'
    assert series_key("up", {"__name__": "up"}) == "up"
    s = make_series("m", {"__name__": "m", "n": 1}, [(2, "3"), (1, 1)])
    assert isinstance(s, Series) and s.labels == {"__name__": "m", "n": "1"} and s.points == ((1.0, 1.0), (2.0, 3.0))
    assert Series.from_dict(s.to_dict()) == s


@pytest.mark.parametrize("raw,expected", [
    (1_700_000_000, 1_700_000_000.0), ("1700000000.5", 1_700_000_000.5), (1_700_000_000_123, 1_700_000_000.123),
    (1_700_000_000_000_000_000, 1_700_000_000.0), ("2023-11-14T22:13:20Z", 1_700_000_000.0),
    ("2023-11-14T23:13:20+01:00", 1_700_000_000.0), ("2023-11-14 22:13:20", 1_700_000_000.0)])
def test_parse_time(raw, expected):
    assert parse_time(raw) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["yesterday", None, float("nan"), [], "2023-13-45T00:00:00Z"])
def test_parse_time_rejects_non_times(bad):
    with pytest.raises(ValidationError):
        parse_time(bad)


def test_levels():
    assert level_of({"log": {"level": "WARN"}}) == "warning"
    assert level_of({"status": "emerg"}) == "critical"
    assert level_of({"severity": 3}) == "error"
    assert level_of({}, "2023-11-14 12:00:00 [ERROR] db down") == "error"
    assert level_of(None, "all good here") == ""
    assert normalise_level("Information") == "info" and normalise_level("bogus") == ""


def test_registries_point_at_real_classes_implementing_the_protocols():
    for table, proto in ((METRIC_SOURCES, MetricSource), (LOG_SOURCES, LogSource)):
        for name, ref in table.items():
            module, _, cls = ref.partition(":")
            klass = getattr(importlib.import_module(module), cls)
            assert klass.name == name
            assert callable(getattr(klass, "query_range" if proto is MetricSource else "fetch"))


CONFIG = {
    "sources": {
        "prometheus": {"url": "http://prom:9090", "bearer_token": "ptok"},
        "datadog": {"api_key": "a", "app_key": "b", "site": "datadoghq.eu"},
        "cloudwatch": {"region": "eu-west-1", "access_key_id": "AKIA", "secret_access_key": "s",
                       "log_groups": ["/app/x"]},
        "elasticsearch": {"url": "http://es:9200", "index": "logs-*", "api_key": "k"},
        "loki": {"url": "http://loki:3100", "tenant": "t1"},
        "files": {"metrics_csv": "replay.csv", "log_paths": ["app.log"], "start_at": "beginning"},
        "http_checks": [{"name": "home", "url": "http://web/health", "service": "web"}],
    }
}


def test_build_sources_from_validated_config():
    cfg = load_config(CONFIG)
    metrics = build_metric_sources(cfg)
    logs = build_log_sources(cfg, MemoryStore())
    assert sorted(metrics) == ["cloudwatch", "csv", "datadog", "http", "prometheus"]
    assert sorted(logs) == ["cloudwatch", "datadog", "elasticsearch", "files", "loki"]
    assert all(isinstance(s, MetricSource) for s in metrics.values())
    assert all(isinstance(s, LogSource) for s in logs.values())
    assert metrics["prometheus"].http.headers["Authorization"] == "Bearer ptok"
    assert metrics["datadog"].http.base_url == "https://api.datadoghq.eu"
    assert logs["cloudwatch"].log_groups == ("/app/x",)
    assert logs["files"].start_at == "beginning"
    assert logs["loki"].http.headers["X-Scope-OrgID"] == "t1"


def test_empty_config_builds_nothing_and_bad_values_are_config_errors():
    assert build_metric_sources(load_config({})) == {} and build_log_sources(load_config({})) == {}
    with pytest.raises(ConfigError) as ei:
        build_metric_sources({"prometheus": {"url": "http://p", "timeout_s": 0}})
    assert ei.value.path == "sources.prometheus"


def test_public_api_is_exactly_all():
    import aisre.sources as pkg

    assert sorted(pkg.__all__) == sorted(set(pkg.__all__))
    assert all(hasattr(pkg, name) for name in pkg.__all__)
