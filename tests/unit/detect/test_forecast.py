"""Robust slope and time-to-exhaustion forecasts."""
from __future__ import annotations

import pytest

from aisre.detect.forecast import theil_sen, time_to_exhaustion

T0 = 1_700_000_000.0


def line(slope_per_min, start=40.0, n=30, outlier_at=None):
    pts = [(T0 + 60 * i, start + slope_per_min * i) for i in range(n)]
    if outlier_at is not None:
        t, v = pts[outlier_at]
        pts[outlier_at] = (t, v + 500)
    return pts


def test_theil_sen_ignores_an_outlier():
    slope, level = theil_sen(line(0.5, outlier_at=10))
    assert slope * 60 == pytest.approx(0.5)
    assert level == pytest.approx(40 + 0.5 * 29)


def test_exhaustion_of_a_climbing_series():
    pts = line(0.5)
    eta = time_to_exhaustion(pts, 100.0)
    last_t, last_v = pts[-1]
    assert eta == pytest.approx(last_t + (100 - last_v) / 0.5 * 60)


def test_falling_series_with_direction_down():
    pts = line(-1.0, start=90)
    eta = time_to_exhaustion(pts, 10.0, direction="down")
    assert eta == pytest.approx(pts[-1][0] + (pts[-1][1] - 10) * 60)


@pytest.mark.parametrize("pts, cap", [([], 100.0), (line(0.5, n=2), 100.0), (line(0.0), 100.0),
                                      (line(-0.5), 100.0), (line(0.5), float("nan")),
                                      ([(T0, 1.0)] * 10, 100.0)])
def test_no_forecast(pts, cap):
    assert time_to_exhaustion(pts, cap) is None


def test_already_past_capacity_returns_now_and_far_future_is_none():
    pts = line(0.5, start=120)
    assert time_to_exhaustion(pts, 100.0) == pts[-1][0]
    assert time_to_exhaustion(line(1e-6), 100.0) is None          # beyond the 30-day horizon


def test_bad_points_are_dropped():
    pts = line(0.5) + [(T0 + 1e9, float("nan")), (float("inf"), 1.0), ("x",), None]
    assert time_to_exhaustion(pts, 100.0) == pytest.approx(time_to_exhaustion(line(0.5), 100.0))
