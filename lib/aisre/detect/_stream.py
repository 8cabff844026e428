"""Shared machinery for streaming detectors: input hygiene, state round trip, a sorted window.

Every detector subclasses :class:`StreamingDetector` and implements ``_learn(v, ts)``,
``_score(v, ts)`` (pure) and ``_band(ts)``; the base class enforces the contract of
:mod:`aisre.detect.base`:

* non-finite values (NaN, inf, None, non-numbers) are never learned and score 0;
* with timestamps, a point whose ``ts`` is older than or equal to the last learned one is ignored
  (out-of-order and duplicate points);
* scores are finite, >= 0 and capped at :data:`SCORE_CAP`; 0 during warm-up;
* ``to_state()`` is plain JSON, ``from_state()`` rebuilds an object that scores identically.
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any, ClassVar

from aisre.errors import ValidationError

SCORE_CAP = 1e6


def clean(value: Any) -> float | None:
    """The value as a finite float, or None (NaN, inf, None, bools and non-numbers)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def clip_score(s: float) -> float:
    if s != s or s <= 0.0:          # NaN or negative
        return 0.0
    return s if s < SCORE_CAP else SCORE_CAP


class StreamingDetector:
    """Base class. Subclasses list their constructor args in ``PARAMS`` and their mutable state in ``STATE``."""

    name: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[str, ...]] = ()
    STATE: ClassVar[tuple[str, ...]] = ()

    _last_ts: float | None = None
    n_learned: int = 0

    # --- contract -------------------------------------------------------------------------------
    def learn_one(self, value: float, ts: float | None = None) -> None:
        v = clean(value)
        if v is None:
            return
        if ts is not None:
            t = clean(ts)
            if t is None or (self._last_ts is not None and t <= self._last_ts):
                return
            self._last_ts = t
        self.n_learned += 1
        self._learn(v, ts)

    def score_one(self, value: float, ts: float | None = None) -> float:
        v = clean(value)
        if v is None:
            return 0.0
        return clip_score(self._score(v, ts))

    def band(self, ts: float | None = None) -> tuple[float | None, float | None, float | None]:
        """(expected, lower, upper) for the next point; Nones while warming up."""
        return self._band(ts)

    # --- hooks ------------------------------------------------------------------------------------
    def _learn(self, v: float, ts: float | None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, v: float, ts: float | None) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _band(self, ts: float | None) -> tuple[float | None, float | None, float | None]:
        return (None, None, None)

    # --- parameters and state ---------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.PARAMS}

    def _get_state(self) -> dict[str, Any]:
        out = {}
        for k in self.STATE:
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, deque) else v
        return out

    def _set_state(self, state: dict[str, Any]) -> None:
        for k in self.STATE:
            if k in state:
                cur = getattr(self, k, None)
                v = state[k]
                setattr(self, k, deque(v, maxlen=cur.maxlen) if isinstance(cur, deque) else v)

    def to_state(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params(), "last_ts": self._last_ts,
                "n_learned": self.n_learned, "state": self._get_state()}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> "StreamingDetector":
        if not isinstance(d, dict) or d.get("name") != cls.name:
            raise ValidationError(f"state is not a {cls.name} detector state", what="detector_state")
        obj = cls(**d.get("params", {}))
        obj._last_ts = d.get("last_ts")
        obj.n_learned = int(d.get("n_learned", 0))
        obj._set_state(d.get("state", {}))
        return obj

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"{name} must be an integer >= {minimum}, got {value!r}", what=name)
    return value


def number_in(name: str, value: Any, lo: float, hi: float) -> float:
    v = clean(value)
    if v is None or not lo <= v <= hi:
        raise ValidationError(f"{name} must be a number in [{lo}, {hi}], got {value!r}", what=name)
    return v


class SortedWindow:
    """The last ``size`` values, kept both in arrival order and sorted (O(log n) search + memmove)."""

    __slots__ = ("size", "fifo", "sorted")

    def __init__(self, size: int, values: list[float] | None = None) -> None:
        self.size = size
        self.fifo: deque[float] = deque(values or (), maxlen=size)
        self.sorted: list[float] = sorted(self.fifo)

    def add(self, v: float) -> None:
        if len(self.fifo) == self.size:
            old = self.fifo[0]
            del self.sorted[bisect.bisect_left(self.sorted, old)]
        self.fifo.append(v)
        bisect.insort(self.sorted, v)

    def __len__(self) -> int:
        return len(self.fifo)

    def quantile(self, q: float) -> float:
        s = self.sorted
        pos = q * (len(s) - 1)
        i = int(pos)
        if i + 1 >= len(s):
            return s[-1]
        f = pos - i
        return s[i] + (s[i + 1] - s[i]) * f

    def median(self) -> float:
        s = self.sorted
        n = len(s)
        m = n // 2
        return s[m] if n % 2 else 0.5 * (s[m - 1] + s[m])


def scale_floor(center: float, rel: float, absolute: float) -> float:
    """Smallest scale a detector divides by: keeps constant series from alarming on tiny noise."""
    return max(abs(center) * rel, absolute)
