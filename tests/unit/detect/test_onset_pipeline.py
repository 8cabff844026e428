"""Onset pipelines (aisre.detect.onset): streaming, deterministic, time-based rest, state round trip."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aisre.detect.onset import OnsetPipeline, TimedOnsetFilter, run_pipeline
from aisre.detect.registry import NAB_DEFAULT, NAB_PIPELINES
from aisre.errors import ValidationError

STEP = 300.0
T0 = 1_700_000_000.0


def noisy_series(seed: int, n: int = 900):
    rng = np.random.default_rng(seed)
    v = 50 + 3 * np.sin(np.arange(n) / 20) + rng.normal(0, 1, n)
    v[700:720] += 25                                     # an episode after the warm-up
    return (T0 + STEP * np.arange(n)).tolist(), v.tolist()


@pytest.mark.parametrize("name", sorted(NAB_PIPELINES))
def test_pipeline_is_streaming_future_points_do_not_change_past_scores(name):
    ts, v = noisy_series(0)
    base = run_pipeline(NAB_PIPELINES[name], v, ts)
    cut = 710
    rng = np.random.default_rng(1)
    other = v[:cut] + (np.asarray(v[cut:]) * 3 + rng.normal(0, 50, len(v) - cut)).tolist()
    changed = run_pipeline(NAB_PIPELINES[name], other, ts)
    assert changed[:cut] == base[:cut]
    assert changed[cut:] != base[cut:]                   # the perturbation does reach the scores
    assert max(base[700:720]) >= NAB_PIPELINES[name]["fire"]   # the episode onset fires


@pytest.mark.parametrize("name", sorted(NAB_PIPELINES))
def test_pipeline_is_deterministic_and_bounded(name):
    ts, v = noisy_series(2)
    a = run_pipeline(NAB_PIPELINES[name], v, ts)
    b = run_pipeline(NAB_PIPELINES[name], v, ts)
    assert a == b
    assert all(0.0 <= s <= 1.0 for s in a)


def test_state_round_trip_mid_stream_gives_the_same_future_scores():
    ts, v = noisy_series(3)
    spec = NAB_PIPELINES[NAB_DEFAULT]
    full = run_pipeline(spec, v, ts)
    p = OnsetPipeline(spec)
    first = [p.update(x, t) for x, t in zip(v[:705], ts[:705])]
    q = OnsetPipeline.from_state(json.loads(json.dumps(p.to_state())))
    rest = [q.update(x, t) for x, t in zip(v[705:], ts[705:])]
    assert first + rest == full


def test_timed_filter_rests_for_a_span_of_time_not_of_points():
    f = TimedOnsetFilter(fire=0.5, rest_s=3600)
    assert f.update(0.9, 0.0) == 0.9                     # fires
    assert f.update(0.9, 60.0) == 0.0                    # inside the hour
    assert f.update(0.9, 3599.0) == 0.0
    assert f.update(0.3, 3600.0) == 0.3                  # rest over; below fire: no new rest
    assert f.update(0.8, 3660.0) == 0.8                  # fires again
    assert f.update(0.8, 3700.0) == 0.0
    # hourly points: one point later is already past a 1 h rest
    g = TimedOnsetFilter(fire=0.5, rest_s=3600)
    assert [g.update(0.9, h * 3600.0) for h in range(3)] == [0.9, 0.9, 0.9]


def test_timed_filter_bad_timestamps_output_zero_and_change_nothing():
    f = TimedOnsetFilter(fire=0.5, rest_s=100)
    assert f.update(0.9, None) == 0.0
    assert f.update(0.9, float("nan")) == 0.0
    assert f.update(float("nan"), 10.0) == 0.0           # NaN score: passes as 0, no fire
    assert f.update(0.9, 20.0) == 0.9
    assert f.update(0.9, 5.0) == 0.0                     # older than the fire: still resting
    g = TimedOnsetFilter.from_state(json.loads(json.dumps(f.to_state())))
    assert g.update(0.9, 119.0) == 0.0 and g.update(0.9, 120.0) == 0.9


def test_bad_specs_raise_validation_error():
    with pytest.raises(ValidationError):
        OnsetPipeline({"detector": "context_novelty", "scale": 5.0, "fire": 0.6})          # no rest
    with pytest.raises(ValidationError):
        OnsetPipeline({"detector": "context_novelty", "scale": 5.0, "fire": 0.6, "rest_s": 1, "rest_points": 1})
    with pytest.raises(ValidationError):
        OnsetPipeline({"detector": "nope", "scale": 5.0, "fire": 0.6, "rest_s": 1.0})
    with pytest.raises(ValidationError):
        TimedOnsetFilter(fire=2.0, rest_s=10)
    with pytest.raises(ValidationError):
        run_pipeline(NAB_PIPELINES[NAB_DEFAULT], [1.0, 2.0], [1.0])
