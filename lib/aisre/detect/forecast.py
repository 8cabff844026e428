"""Exhaustion forecast: when does a climbing (or falling) resource reach its capacity?

Robust slope by Theil–Sen (median of pairwise slopes), so one spike does not bend the line.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from aisre.detect._stream import clean


def _clean_points(points: Iterable[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    ts, vs, seen = [], [], set()
    for p in points:
        try:
            t, v = clean(p[0]), clean(p[1])
        except (TypeError, IndexError, KeyError):
            continue
        if t is None or v is None or t in seen:
            continue
        seen.add(t)
        ts.append(t)
        vs.append(v)
    order = np.argsort(ts)
    return np.asarray(ts, float)[order], np.asarray(vs, float)[order]


def theil_sen(points: Iterable[Sequence[float]], max_points: int = 200) -> tuple[float, float] | None:
    """(slope per second, intercept at t = 0 of the newest point) or None with < 3 usable points.

    Non-finite points and duplicate timestamps are dropped; at most ``max_points`` most recent
    points are used (pairwise slopes are O(n^2)).
    """
    t, v = _clean_points(points)
    if len(t) < 3:
        return None
    t, v = t[-max_points:], v[-max_points:]
    t0 = t[-1]
    tr = t - t0
    i, j = np.triu_indices(len(t), k=1)
    dt = tr[j] - tr[i]
    ok = dt > 0
    if not ok.any():
        return None
    slope = float(np.median((v[j] - v[i])[ok] / dt[ok]))
    intercept = float(np.median(v - slope * tr))
    if not (math.isfinite(slope) and math.isfinite(intercept)):
        return None
    return slope, intercept


def time_to_exhaustion(points: Iterable[Sequence[float]], capacity: float,
                       direction: str = "up", max_horizon_s: float = 30 * 86400) -> float | None:
    """Epoch seconds at which the robust trend line reaches ``capacity``, or None.

    None when there are too few points, the trend points away from capacity (or is flat), or the
    crossing is more than ``max_horizon_s`` after the newest point. If the line is already at or
    past capacity, the newest point's timestamp is returned. ``direction="down"`` forecasts a
    falling resource (e.g. free disk) reaching ``capacity`` from above.
    """
    pts = list(points)
    cap = clean(capacity)
    fit = theil_sen(pts)
    if cap is None or fit is None:
        return None
    slope, level = fit
    t_last = float(_clean_points(pts)[0][-1])
    sign = 1.0 if direction != "down" else -1.0
    gap = (cap - level) * sign
    if gap <= 0:
        return t_last
    rate = slope * sign
    if rate <= 0:
        return None
    dt = gap / rate
    if not math.isfinite(dt) or dt > max_horizon_s:
        return None
    return t_last + dt
