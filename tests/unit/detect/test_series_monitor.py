"""SeriesMonitor: the alarm layer the metric sensor and the agent call."""
from __future__ import annotations

import json
import random

import pytest

from aisre.detect.monitor import SeriesMonitor
from aisre.errors import ValidationError
from aisre.models import Anomaly, AnomalyClass

T0 = 1_700_000_000.0


def memory_leak(seed=1, n=260, start=200, rate=0.7):
    rnd = random.Random(seed)
    for i in range(n):
        v = 40 + rnd.gauss(0, 0.5) + (rate * (i - start) if i >= start else 0.0)
        yield T0 + 60 * i, v


def flat_with_spike(seed=2, n=300, at=250, height=30.0):
    rnd = random.Random(seed)
    for i in range(n):
        yield T0 + 60 * i, 40 + rnd.gauss(0, 0.5) + (height if i == at else 0.0)


def feed(m, points):
    return [(t, a) for t, v in points if (a := m.observe(t, v)) is not None]


def monitor(**kw):
    base = dict(series="checkout:memory_pct", service="checkout", metric="memory_pct", capacity=100.0)
    return SeriesMonitor(**{**base, **kw})


@pytest.mark.parametrize("rate", [0.5, 0.7, 1.0])
def test_memory_leak_is_a_trend_with_exhaustion_forecast_well_before_capacity(rate):
    m = monitor()
    alarms = feed(m, memory_leak(rate=rate, n=200 + int(55 / rate)))
    trends = [a for _, a in alarms if a.anomaly_class is AnomalyClass.TREND]
    assert trends, [a.anomaly_class for _, a in alarms]
    first = trends[0]
    assert first.value < 60                            # flagged early, far from 100 %
    assert first.exhaustion_ts is not None and first.capacity == 100.0
    true_eta = T0 + 60 * (200 + 60 / rate)               # when the leak really reaches 100 %
    assert first.exhaustion_ts > first.ts
    # forecast lands within 25 % of the real remaining time (the first fit still sees some flat points)
    remaining = true_eta - first.ts
    assert abs(first.exhaustion_ts - true_eta) < 0.25 * remaining + 900
    # later forecasts are sharp
    last = trends[-1]
    assert abs(last.exhaustion_ts - true_eta) < 0.1 * (true_eta - last.ts) + 300
    assert first.onset_ts <= first.ts and first.onset_ts >= T0 + 60 * 190


def test_single_spike_does_not_alarm_with_min_consecutive():
    assert feed(monitor(), flat_with_spike()) == []


def test_single_spike_is_at_most_transient_with_min_consecutive_1():
    alarms = feed(monitor(min_consecutive=1), flat_with_spike())
    spike = [a for t, a in alarms if t == T0 + 60 * 250]
    assert spike and spike[0].anomaly_class is AnomalyClass.TRANSIENT
    assert all(a.anomaly_class is not AnomalyClass.SUSTAINED for _, a in alarms)


def test_sustained_level_shift_alarm_carries_evidence():
    rnd = random.Random(3)
    pts = [(T0 + 60 * i, 40 + rnd.gauss(0, 0.5) + (15 if i >= 150 else 0)) for i in range(200)]
    alarms = feed(monitor(capacity=None, min_consecutive=3), pts)
    assert alarms
    t, a = alarms[0]
    assert isinstance(a, Anomaly)
    assert a.anomaly_class is AnomalyClass.SUSTAINED
    assert a.onset_ts == T0 + 60 * 150 and t == T0 + 60 * 152
    assert a.expected == pytest.approx(40, abs=1) and a.lower < a.expected < a.upper < a.value
    assert a.score >= a.threshold == 0.99 and a.detector == "robust_z" and a.direction == "up"
    assert a.window[-1] == (t, a.value) and len(a.window) == 30
    assert Anomaly.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_cooldown_dedups_and_protect_keeps_baseline():
    rnd = random.Random(4)
    pts = [(T0 + 60 * i, 40 + rnd.gauss(0, 0.5) + (15 if i >= 150 else 0)) for i in range(200)]
    alarms = feed(monitor(capacity=None, cooldown_s=900), pts)
    times = [t for t, _ in alarms]
    assert len(times) == 4                             # 50 minutes of outage, one alarm per 15 minutes
    assert all(b - a >= 900 for a, b in zip(times, times[1:]))
    assert all(a.expected == pytest.approx(40, abs=1) for _, a in alarms)   # outage not learned


def test_unprotected_monitor_learns_the_outage():
    rnd = random.Random(4)
    pts = [(T0 + 60 * i, 40 + rnd.gauss(0, 0.5) + (15 if i >= 150 else 0)) for i in range(400)]
    m = monitor(capacity=None, protect=False)
    feed(m, pts)
    assert m.det.band(T0 + 60 * 400)[0] == pytest.approx(55, abs=1)


def test_direction_down_ignores_rises():
    rnd = random.Random(5)
    up = [(T0 + 60 * i, 40 + rnd.gauss(0, 0.5) + (15 if i >= 150 else 0)) for i in range(200)]
    assert feed(monitor(capacity=None, direction="down"), up) == []
    down = [(t, 80 - v) for t, v in up]
    alarms = feed(monitor(capacity=None, direction="down"), down)
    assert alarms and alarms[0][1].direction == "down"


def test_state_round_trip_gives_same_future_output():
    pts = list(memory_leak(seed=6, n=280))
    a = monitor()
    feed(a, pts[:210])
    b = SeriesMonitor.from_state(json.loads(json.dumps(a.to_state())))
    out_a = [x.to_dict() for _, x in feed(a, pts[210:])]
    out_b = [x.to_dict() for _, x in feed(b, pts[210:])]
    assert out_a and out_a == out_b


def test_bad_points_are_skipped_and_never_learned():
    pts = list(flat_with_spike(seed=7, at=10_000))
    a, b = monitor(), monitor()
    feed(a, pts)
    for t, v in pts:
        assert b.observe(t, float("nan")) is None
        b.observe(t, v)
        assert b.observe(t, v + 50) is None            # duplicate ts
        assert b.observe(t - 30, v + 50) is None       # older ts
        assert b.observe(float("inf"), v) is None
        assert b.observe(t + 1, None) is None          # type: ignore[arg-type]
    assert a.det.to_state() == b.det.to_state()


def test_gap_in_data_does_not_alarm_or_crash():
    pts = list(flat_with_spike(seed=8, at=10_000))
    gap = pts[:150] + [(t + 6 * 3600, v) for t, v in pts[150:]]
    assert feed(monitor(), gap) == []


def test_constant_series_does_not_alarm_on_tiny_noise():
    pts = [(T0 + 60 * i, 50.0 + (1e-9 if i % 7 == 0 else 0.0)) for i in range(500)]
    assert feed(monitor(capacity=None), pts) == []


def test_huge_values_and_empty_input():
    m = monitor()
    assert feed(m, []) == []
    pts = list(flat_with_spike(seed=9, at=10_000))[:100]
    feed(m, pts)
    a = None
    for k in range(5):
        a = m.observe(pts[-1][0] + 60 * (k + 1), 1e300) or a
    assert a is not None and a.value == 1e300 and 0 <= a.score <= 1


@pytest.mark.parametrize("kw", [dict(series=""), dict(series="x", direction="sideways"),
                                dict(series="x", threshold=1.5), dict(series="x", min_consecutive=0),
                                dict(series="x", min_consecutive=3, of_last=2),
                                dict(series="x", detector="nope")])
def test_bad_configuration_raises_validation_error(kw):
    with pytest.raises(ValidationError):
        SeriesMonitor(**kw)


def test_from_state_rejects_garbage():
    with pytest.raises(ValidationError):
        SeriesMonitor.from_state({"kind": "other"})


def test_n_of_m_tolerates_one_gap():
    rnd = random.Random(10)
    pts = []
    for i in range(200):
        v = 40 + rnd.gauss(0, 0.5)
        if i in (150, 151, 153):                       # hit, hit, miss, hit
            v += 15
        pts.append((T0 + 60 * i, v))
    assert feed(monitor(capacity=None, min_consecutive=3), pts) == []
    alarms = feed(monitor(capacity=None, min_consecutive=3, of_last=4), pts)
    assert [t for t, _ in alarms] == [T0 + 60 * 153]


def test_from_config_uses_metric_spec_and_detection_section():
    from aisre.config import MetricSpec
    spec = MetricSpec(name="memory_pct", query="q", detector="ewma_cusum", params={"alpha": 0.1},
                      capacity=100.0, direction="up")
    m = SeriesMonitor.from_config("checkout", spec, {"threshold": 0.995, "cooldown_minutes": 5,
                                                     "min_consecutive": 2, "protect": False})
    assert (m.series, m.service, m.metric) == ("checkout:memory_pct", "checkout", "memory_pct")
    assert m.det.name == "ewma_cusum" and m.det.alpha == 0.1
    assert (m.threshold, m.cooldown_s, m.min_consecutive, m.protect, m.capacity) == (0.995, 300.0, 2, False, 100.0)
    d = SeriesMonitor.from_config("web", {"name": "latency_ms"}, {})
    assert d.det.name == "robust_z" and d.min_consecutive == 3 and d.capacity is None
