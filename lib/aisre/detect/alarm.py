"""Point-indexed alarm post-rules for batch replays and benchmarks.

The live path (:class:`aisre.detect.monitor.SeriesMonitor`) works in seconds (``cooldown_s``);
these helpers work in points, for replaying a whole series at once (NAB, drills, backtests).

:class:`OnsetFilter` keeps only the onset of an episode: once a squashed score reaches ``fire``,
the next ``rest_points`` scores are zeroed, so one incident gives one detection (the same dedup
the monitor's cooldown gives live). ``squash(raw, scale)`` maps a robust-z-unit raw score to
[0, 1] (``min(1, raw / scale)``).
"""
from __future__ import annotations

from typing import Any

from aisre.detect._stream import clean, positive_int, number_in


def squash(raw: float, scale: float) -> float:
    r = clean(raw)
    if r is None or r <= 0:
        return 0.0
    return min(1.0, r / scale)


class OnsetFilter:
    """``update(score) -> score or 0``: pass a score through unless inside a rest period."""

    def __init__(self, fire: float = 0.5, rest_points: int = 200) -> None:
        self.fire = number_in("fire", fire, 0.0, 1.0)
        self.rest_points = positive_int("rest_points", rest_points, 0)
        self._since = rest_points          # points since the last fire

    def update(self, score: float) -> float:
        s = clean(score) or 0.0
        self._since += 1
        if self._since <= self.rest_points:
            return 0.0
        if s >= self.fire:
            self._since = 0
        return s

    def to_state(self) -> dict[str, Any]:
        return {"fire": self.fire, "rest_points": self.rest_points, "since": self._since}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> "OnsetFilter":
        obj = cls(d["fire"], d["rest_points"])
        obj._since = int(d["since"])
        return obj
