"""Window-based robust detectors: robust z (rolling median / MAD) and rolling quantile band."""
from __future__ import annotations

from aisre.detect._stream import SortedWindow, StreamingDetector, positive_int, number_in, scale_floor


class _WindowDetector(StreamingDetector):
    """A detector over a sorted sliding window of the last ``window`` points; state is the window's values."""

    window: int
    _win: SortedWindow

    @property
    def _values(self) -> list[float]:
        return list(self._win.fifo)

    @_values.setter
    def _values(self, values: list[float]) -> None:
        self._win = SortedWindow(self.window, [float(v) for v in values])


class RobustZ(_WindowDetector):
    """``|x - median| / (1.4826 * MAD)`` over the last ``window`` points.

    The MAD is refreshed every ``refresh`` learned points (amortised cost); the scale never drops
    below ``max(rel_floor * |median|, abs_floor)``, so a constant series (MAD = 0) does not divide by
    zero and tiny noise on it scores near 0.

    >>> d = RobustZ(window=50, min_points=10)
    >>> for i in range(60): d.learn_one(10 + (i % 3))
    >>> d.score_one(11) < 1 < 5 < d.score_one(30)
    True
    """

    name = "robust_z"
    PARAMS = ("window", "min_points", "refresh", "rel_floor", "abs_floor")
    STATE = ("_values", "_mad", "_since")

    def __init__(self, window: int = 240, min_points: int = 30, refresh: int = 8,
                 rel_floor: float = 1e-3, abs_floor: float = 1e-9) -> None:
        self.window = positive_int("window", window, 3)
        self.min_points = positive_int("min_points", min_points, 2)
        self.refresh = positive_int("refresh", refresh)
        self.rel_floor = number_in("rel_floor", rel_floor, 0.0, 1.0)
        self.abs_floor = number_in("abs_floor", abs_floor, 0.0, 1e300)
        self._win = SortedWindow(self.window)
        self._mad = 0.0
        self._since = 0

    def _learn(self, v: float, ts: float | None) -> None:
        self._win.add(v)
        self._since += 1
        if self._since >= self.refresh or len(self._win) <= self.min_points:
            self._since = 0
            med = self._win.median()
            dev = sorted(abs(x - med) for x in self._win.sorted)
            n = len(dev)
            self._mad = dev[n // 2] if n % 2 else 0.5 * (dev[n // 2 - 1] + dev[n // 2])

    def _scale(self, med: float) -> float:
        return max(1.4826 * self._mad, scale_floor(med, self.rel_floor, self.abs_floor))

    def _score(self, v: float, ts: float | None) -> float:
        if len(self._win) < self.min_points:
            return 0.0
        med = self._win.median()
        return abs(v - med) / self._scale(med)

    def _band(self, ts: float | None, z: float = 3.0):
        if len(self._win) < self.min_points:
            return (None, None, None)
        med = self._win.median()
        s = self._scale(med)
        return (med, med - z * s, med + z * s)


class RollingQuantile(_WindowDetector):
    """Distance outside the ``[q_low, q_high]`` band of the last ``window`` points, in band widths.

    Score 0 inside the band; ``(x - q_high) / (q_high - q_low)`` above it (symmetrically below).
    """

    name = "rolling_quantile"
    PARAMS = ("window", "q", "min_points", "rel_floor", "abs_floor")
    STATE = ("_values",)

    def __init__(self, window: int = 240, q: float = 0.99, min_points: int = 30,
                 rel_floor: float = 1e-3, abs_floor: float = 1e-9) -> None:
        self.window = positive_int("window", window, 3)
        self.q = number_in("q", q, 0.5, 1.0)
        self.min_points = positive_int("min_points", min_points, 2)
        self.rel_floor = number_in("rel_floor", rel_floor, 0.0, 1.0)
        self.abs_floor = number_in("abs_floor", abs_floor, 0.0, 1e300)
        self._win = SortedWindow(self.window)

    def _learn(self, v: float, ts: float | None) -> None:
        self._win.add(v)

    def _limits(self) -> tuple[float, float, float]:
        lo, hi = self._win.quantile(1.0 - self.q), self._win.quantile(self.q)
        width = max(hi - lo, scale_floor(self._win.median(), self.rel_floor, self.abs_floor))
        return lo, hi, width

    def _score(self, v: float, ts: float | None) -> float:
        if len(self._win) < self.min_points:
            return 0.0
        lo, hi, width = self._limits()
        if v > hi:
            return (v - hi) / width
        if v < lo:
            return (lo - v) / width
        return 0.0

    def _band(self, ts: float | None):
        if len(self._win) < self.min_points:
            return (None, None, None)
        lo, hi, _ = self._limits()
        return (self._win.median(), lo, hi)

