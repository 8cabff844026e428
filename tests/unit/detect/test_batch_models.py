"""Batch seasonal baselines (Holt-Winters, Prophet): fit on history, score by the band."""
from __future__ import annotations

import numpy as np
import pytest

from aisre.detect import HoltWintersBand, ProphetBand
from aisre.errors import ValidationError

STEP = 1800.0


def daily(days=3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(0, days * 86400, STEP) + 1_700_006_400.0
    v = 50 + 10 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 0.5, len(t))
    return t, v


def expected(t):
    return 50 + 10 * np.sin(2 * np.pi * t / 86400)


def check_model(model):
    t, v = daily()
    hist = list(zip(t, v))
    hist[5] = (hist[5][0], float("nan"))                 # dropped before fitting
    model.fit(hist)
    nt = t[-1] + STEP * np.arange(1, 9)
    normal = list(zip(nt, expected(nt)))
    scores = model.score(normal)
    assert len(scores) == 8 and max(scores) == 0.0
    # a peak-hour value at the trough of the day is anomalous although it is a "normal" level overall
    trough = nt[np.argmin(expected(nt))] if np.ptp(expected(nt)) else nt[0]
    bad = model.score([(trough, expected(np.array([trough]))[0] + 15), (trough, float("nan"))])
    assert bad[0] > 1.0 and bad[1] == 0.0
    e, lo, hi = model.band([(nt[0], 0.0)])[0]
    assert lo < e < hi and abs(e - expected(np.array([nt[0]]))[0]) < 2.0
    assert model.score([]) == []


def test_holt_winters_band():
    check_model(HoltWintersBand(step_s=1800, season_s=86400))


def test_holt_winters_needs_two_seasons_and_a_divisible_step():
    t, v = daily(days=1)
    with pytest.raises(ValidationError):
        HoltWintersBand(step_s=1800).fit(list(zip(t, v)))
    with pytest.raises(ValidationError):
        HoltWintersBand(step_s=7000)
    with pytest.raises(ValidationError):
        HoltWintersBand().band([(0.0, 1.0)])


def test_prophet_band():
    check_model(ProphetBand(interval_width=0.99))


def test_prophet_needs_enough_points():
    with pytest.raises(ValidationError):
        ProphetBand().fit([(1.0, 1.0), (2.0, float("inf"))])
    with pytest.raises(ValidationError):
        ProphetBand().score([(1.0, 1.0)])
