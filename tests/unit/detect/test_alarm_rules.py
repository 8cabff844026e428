"""Calibration and the point-indexed alarm post-rules (onset filter, squash)."""
from __future__ import annotations

import pytest

from aisre.detect.alarm import OnsetFilter, squash
from aisre.detect.calibrate import gaussian, z_for


def test_gaussian_calibration_anchors_and_bad_input():
    assert gaussian(2.5758) == pytest.approx(0.99, abs=1e-4)
    assert gaussian(0.0) == 0.0 and gaussian(-3) == 0.0
    assert gaussian(float("nan")) == 0.0 and gaussian(float("inf")) == 0.0
    assert gaussian(1e6) == 1.0
    assert z_for(0.99) == pytest.approx(2.5758, abs=1e-3)
    assert z_for(0.999) == pytest.approx(3.2905, abs=1e-3)


def test_squash():
    assert squash(2.5, 5.0) == 0.5 and squash(50, 5.0) == 1.0
    assert squash(float("nan"), 5.0) == 0.0 and squash(-1, 5.0) == 0.0


def test_onset_filter_keeps_one_detection_per_episode():
    f = OnsetFilter(fire=0.5, rest_points=3)
    out = [f.update(s) for s in [0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2, 0.4]]
    assert out == [0.1, 0.9, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]


def test_onset_filter_below_fire_passes_through_and_does_not_rest():
    f = OnsetFilter(fire=0.5, rest_points=10)
    assert [f.update(s) for s in [0.3, 0.4, 0.49]] == [0.3, 0.4, 0.49]
    assert f.update(float("nan")) == 0.0


def test_onset_filter_state_round_trip():
    f = OnsetFilter(fire=0.5, rest_points=4)
    for s in [0.1, 0.8, 0.2]:
        f.update(s)
    g = OnsetFilter.from_state(f.to_state())
    seq = [0.9, 0.9, 0.9, 0.9]
    assert [f.update(s) for s in seq] == [g.update(s) for s in seq]
    assert g.to_state() == f.to_state()
