"""seasonal_record: a seasonal deviation scores only when it beats the decayed peak of past ones."""
from __future__ import annotations

import json

import numpy as np

from aisre.detect import detector_from_state, make_detector

STEP = 300.0
DAY = 86400.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % DAY)


def daily(n_days: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ts = T0 + STEP * np.arange(int(n_days * DAY / STEP))
    v = 50 + 20 * np.sin(2 * np.pi * (ts % DAY) / DAY) + rng.normal(0, 1, len(ts))
    return ts, v


def run(det, ts, v):
    out = []
    for t, x in zip(ts.tolist(), v.tolist()):
        out.append(det.score_one(x, t))
        det.learn_one(x, t)
    return np.asarray(out)


def test_a_contextual_anomaly_scores_at_its_onset_and_repeats_do_not():
    ts, v = daily(10)
    # day 7, 02:00-04:00: the value of the daily peak at night -- a level seen every day, wrong hour
    night = (ts >= T0 + 7 * DAY + 2 * 3600) & (ts < T0 + 7 * DAY + 4 * 3600)
    v[night] = 75 + np.random.default_rng(1).normal(0, 1, night.sum())
    s = run(make_detector("seasonal_record"), ts, v)
    first = int(np.argmax(night))
    before = s[(ts >= T0 + 4 * DAY) & (ts < ts[first])]
    assert s[first] > 5.0 and s[first] > 3 * before.max(initial=0.0)
    assert (s[night] > 0).sum() < night.sum() / 2       # sparse: not every point of the episode


def test_peak_decays_with_series_time_so_an_old_record_stops_masking():
    det = make_detector("seasonal_record", half_life_s=DAY)
    ts, v = daily(30)
    spike_at = int(5 * DAY / STEP)
    v[spike_at] += 40
    same_again_soon = spike_at + int(DAY / STEP)         # one day later: masked by the first
    same_again_late = spike_at + int(20 * DAY / STEP)    # 20 half-lives later: scores again
    v[same_again_soon] += 40
    v[same_again_late] += 40
    s = run(det, ts, v)
    assert s[spike_at] > 10
    assert s[same_again_late] > 10
    assert s[same_again_soon] < s[spike_at]


def test_gain_scales_and_state_round_trip_is_exact():
    ts, v = daily(6)
    a = make_detector("seasonal_record", gain=0.5)
    b = make_detector("seasonal_record")
    sa, sb = run(a, ts[:1000], v[:1000]), run(b, ts[:1000], v[:1000])
    assert np.allclose(sa, 0.5 * sb)
    c = detector_from_state(json.loads(json.dumps(a.to_state())))
    assert np.array_equal(run(a, ts[1000:], v[1000:]), run(c, ts[1000:], v[1000:]))


def test_without_timestamps_it_scores_zero_and_learns_nothing():
    det = make_detector("seasonal_record")
    for x in range(500):
        det.learn_one(float(x))
    assert det.score_one(1e9) == 0.0
    assert det.to_state()["state"]["_peak"] == 0.0
