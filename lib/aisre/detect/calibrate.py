"""Calibration: raw detector scores (robust-z units) -> [0, 1].

``gaussian(z) = erf(z / sqrt(2))``: the probability that a Gaussian deviation is smaller than this
one, so a threshold of 0.99 means z = 2.58 and 0.999 means z = 3.29 for every detector (all raw
scores here are in robust-z units). Non-finite or negative input calibrates to 0.
"""
from __future__ import annotations

import math

from aisre.detect._stream import clean


def gaussian(raw: float) -> float:
    z = clean(raw)
    if z is None or z <= 0:
        return 0.0
    return math.erf(z / math.sqrt(2.0))


def z_for(threshold: float) -> float:
    """Inverse of :func:`gaussian` on (0, 1): the raw z a calibrated threshold corresponds to."""
    lo, hi = 0.0, 40.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if gaussian(mid) < threshold:
            lo = mid
        else:
            hi = mid
    return hi
