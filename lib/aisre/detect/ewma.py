"""EWMA z-score with a two-sided CUSUM for level shifts."""
from __future__ import annotations

import math

from aisre.detect._stream import StreamingDetector, number_in, positive_int, scale_floor


class EwmaCusum(StreamingDetector):
    """Exponentially weighted mean/variance; score = max(|z|, 3 * g / h).

    ``z = (x - mean) / sd``. The CUSUM ``g+ = max(0, g+ + z - k)`` (and ``g-`` for drops) grows
    while the series stays shifted, so a modest but persistent level shift scores higher and
    higher even when each point alone is unremarkable; ``g = h`` counts as a 3-sigma point. Once
    the EWMA has absorbed a new level, ``g`` decays by at least ``k`` per point.
    """

    name = "ewma_cusum"
    PARAMS = ("alpha", "k", "h", "min_points", "rel_floor", "abs_floor")
    STATE = ("_mean", "_var", "_gp", "_gn", "_n")

    def __init__(self, alpha: float = 0.05, k: float = 0.5, h: float = 8.0, min_points: int = 30,
                 rel_floor: float = 1e-3, abs_floor: float = 1e-9) -> None:
        self.alpha = number_in("alpha", alpha, 1e-6, 1.0)
        self.k = number_in("k", k, 0.0, 100.0)
        self.h = number_in("h", h, 0.1, 1e6)
        self.min_points = positive_int("min_points", min_points, 2)
        self.rel_floor = number_in("rel_floor", rel_floor, 0.0, 1.0)
        self.abs_floor = number_in("abs_floor", abs_floor, 0.0, 1e300)
        self._mean = 0.0
        self._var = 0.0
        self._gp = 0.0
        self._gn = 0.0
        self._n = 0

    def _sd(self) -> float:
        return max(math.sqrt(self._var), scale_floor(self._mean, self.rel_floor, self.abs_floor))

    def _z(self, v: float) -> float:
        z = (v - self._mean) / self._sd()
        return z if math.isfinite(z) else math.copysign(1e6, v - self._mean)

    def _learn(self, v: float, ts: float | None) -> None:
        self._n += 1
        if self._n == 1:
            self._mean, self._var = v, 0.0
            return
        if self._n > self.min_points:
            z = self._z(v)
            self._gp = min(max(0.0, self._gp + z - self.k), 1e6)
            self._gn = min(max(0.0, self._gn - z - self.k), 1e6)
        a = self.alpha if self._n > self.min_points else max(self.alpha, 1.0 / self._n)
        d = v - self._mean
        self._mean += a * d
        self._var = (1 - a) * (self._var + a * d * d)
        if not math.isfinite(self._var):
            self._var = 1e300

    def _score(self, v: float, ts: float | None) -> float:
        if self._n < self.min_points:
            return 0.0
        z = self._z(v)
        gp = max(0.0, self._gp + z - self.k)
        gn = max(0.0, self._gn - z - self.k)
        return max(abs(z), 3.0 * max(gp, gn) / self.h)

    def _band(self, ts: float | None, z: float = 3.0):
        if self._n < self.min_points:
            return (None, None, None)
        sd = self._sd()
        return (self._mean, self._mean - z * sd, self._mean + z * sd)
