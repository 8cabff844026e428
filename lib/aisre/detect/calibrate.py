"""Calibration: raw detector scores (robust-z units) -> [0, 1].

* :func:`gaussian` — ``erf(z / sqrt(2))``: the probability that a Gaussian deviation is smaller
  than this one. 0.99 <-> z = 2.58, 0.999 <-> z = 3.29. Stateless; the monitor's default.
* :class:`Likelihood` — NAB-style anomaly likelihood: the short-term mean of raw scores compared
  with their long-run distribution; emits ``lq / (lq + scale)`` with ``lq = -log10(tail)``. Adapts
  to series whose "normal" raw score is high (noisy, heavy-tailed). Streaming, JSON state.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any

from aisre.detect._stream import clean, positive_int


def gaussian(raw: float) -> float:
    z = clean(raw)
    if z is None or z <= 0:
        return 0.0
    return math.erf(z / math.sqrt(2.0))


def neg_log10_tail(z: float) -> float:
    """-log10 of the upper Gaussian tail Q(z), accurate far into the tail (no underflow)."""
    if z < 8.0:
        return -math.log10(max(0.5 * math.erfc(z / math.sqrt(2.0)), 1e-300))
    return (z * z / 2.0) / math.log(10.0) + math.log10(z * math.sqrt(2.0 * math.pi))


class Likelihood:
    """Anomaly likelihood over a stream of raw scores (after Numenta's NAB detector).

    ``update(raw) -> float`` scores the new raw value against the history *before* adding it.
    """

    PARAMS = ("short", "long", "min_history", "sd_floor", "scale", "cap")

    def __init__(self, short: int = 5, long: int = 2000, min_history: int = 100,
                 sd_floor: float = 0.05, scale: float = 10.0, cap: float = 50.0) -> None:
        self.short = positive_int("short", short)
        self.long = positive_int("long", long, 2)
        self.min_history = positive_int("min_history", min_history, 2)
        self.sd_floor = float(sd_floor)
        self.scale = float(scale)
        self.cap = float(cap)
        self._short: deque[float] = deque(maxlen=self.short)
        self._hist: deque[float] = deque(maxlen=self.long)
        self._sum = 0.0
        self._sum2 = 0.0

    def peek(self, raw: float) -> float:
        """The likelihood score ``raw`` would get, without updating anything."""
        r = min(clean(raw) or 0.0, self.cap)
        n = len(self._hist)
        if n < self.min_history:
            return 0.0
        k = len(self._short)
        if k == self.short:
            m = (sum(self._short) - self._short[0] + r) / k
        else:
            m = (sum(self._short) + r) / (k + 1)
        mu = self._sum / n
        sd = math.sqrt(max(self._sum2 / n - mu * mu, 0.0))
        z = (m - mu) / max(sd, self.sd_floor)
        if z <= 0:
            return 0.0
        lq = neg_log10_tail(z)
        return lq / (lq + self.scale)

    def update(self, raw: float) -> float:
        s = self.peek(raw)
        r = min(clean(raw) or 0.0, self.cap)
        self._short.append(r)
        m = sum(self._short) / len(self._short)
        if len(self._hist) == self.long:
            old = self._hist[0]
            self._sum -= old
            self._sum2 -= old * old
        self._hist.append(m)
        self._sum += m
        self._sum2 += m * m
        return s

    def to_state(self) -> dict[str, Any]:
        return {"params": {p: getattr(self, p) for p in self.PARAMS},
                "short": list(self._short), "hist": list(self._hist),
                "sum": self._sum, "sum2": self._sum2}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> "Likelihood":
        obj = cls(**d.get("params", {}))
        obj._short.extend(float(x) for x in d.get("short", ()))
        for m in d.get("hist", ()):
            obj._hist.append(float(m))
        obj._sum = float(d.get("sum", sum(obj._hist)))
        obj._sum2 = float(d.get("sum2", sum(m * m for m in obj._hist)))
        return obj
