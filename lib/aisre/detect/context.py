"""Context novelty: has this short sequence of value levels been seen before, and how far off is it?

Values are quantised into ``bins`` levels whose width is fixed at the end of warm-up
(``(q_high - q_low) / bins`` over the first ``warmup`` points, ``q_low``/``q_high`` the
``q_range``/``1 - q_range`` quantiles, min/max by default; levels outside that range get their
own bins). A *context* is the sequence of the last ``context`` levels; its suffixes of length
1..``context`` are looked up in the set of contexts learned so far. ``novelty`` is the fraction
that were never seen: a value level never visited, or a familiar level reached from an unfamiliar
one (``context=2``: level and transition) (the contextual anomalies a plain z-score misses). The score is ``novelty * z``, with ``z``
the robust z of the value (rolling median/MAD), so it stays in robust-z units and a novel but tiny
wiggle scores low.

Learning adds the contexts to the set, so a new regime stops scoring once it has been seen: the
detector is naturally sparse (high at the onset of something new), which is what early-warning
and NAB reward. With the monitor's ``protect`` on, anomalous points are not learned, so an outage
keeps scoring until ``relearn_after``.

``provisional=N`` (0 = off, else ``10 <= N < warmup``): from point N until the warm-up ends, score
with a provisional detector whose bins are frozen on the first N points (and which keeps learning);
at ``warmup`` the normal bins replace it, so the output after the warm-up is identical to
``provisional=0``. It lets short series be watched before a full warm-up has been seen.
"""
from __future__ import annotations

import math
from typing import Any

from aisre.detect._stream import StreamingDetector, number_in, positive_int
from aisre.detect.robust import RobustZ
from aisre.errors import ValidationError

_BIN_LIMIT = 10 ** 6


class ContextNovelty(StreamingDetector):
    name = "context_novelty"
    PARAMS = ("bins", "context", "warmup", "q_range", "window", "min_points", "max_contexts", "provisional")
    STATE = ("_warm", "_lo", "_width", "_recent", "_seen")

    def __init__(self, bins: int = 5, context: int = 2, warmup: int = 300, q_range: float = 0.0,
                 window: int = 300, min_points: int = 30, max_contexts: int = 10000,
                 provisional: int = 0) -> None:
        self.bins = positive_int("bins", bins, 2)
        self.context = positive_int("context", context, 1)
        self.warmup = positive_int("warmup", warmup, 10)
        self.q_range = number_in("q_range", q_range, 0.0, 0.49)
        self.window = positive_int("window", window, 3)
        self.min_points = positive_int("min_points", min_points, 2)
        self.max_contexts = positive_int("max_contexts", max_contexts, 10)
        self.provisional = positive_int("provisional", provisional, 0)
        if self.provisional and not 10 <= self.provisional < self.warmup:
            raise ValidationError(f"provisional must be 0 or in [10, warmup), got {provisional!r}",
                                  what="provisional")
        self._prov: ContextNovelty | None = None     # early scorer while the main warm-up runs
        self._z = RobustZ(window=self.window, min_points=self.min_points)
        self._warm: list[float] | None = []
        self._lo = 0.0
        self._width = 1.0
        self._recent: list[int] = []
        self._seen: dict[tuple[int, ...], None] = {}     # insertion-ordered: oldest evicted first

    # ------------------------------------------------------------------------------------------
    def _bin(self, v: float) -> int:
        b = (v - self._lo) / self._width
        if not b < _BIN_LIMIT:
            return _BIN_LIMIT
        if not b > -_BIN_LIMIT:
            return -_BIN_LIMIT
        return math.floor(b)

    def _freeze(self) -> None:
        warm = sorted(self._warm or ())
        n = len(warm)
        lo = warm[int(self.q_range * (n - 1))]
        hi = warm[int(round((1 - self.q_range) * (n - 1)))]
        self._lo = lo
        self._width = max((hi - lo) / self.bins, 1e-9, 1e-6 * max(abs(lo), abs(hi)))
        bins = [self._bin(x) for x in (self._warm or ())]
        for j in range(len(bins)):
            for ln in range(1, self.context + 1):
                if j - ln + 1 >= 0:
                    self._remember(tuple(bins[j - ln + 1:j + 1]))
        self._recent = bins[-self.context:]
        self._warm = None

    def _remember(self, c: tuple[int, ...]) -> None:
        """Add a context; past ``max_contexts`` the oldest is forgotten (bounded state for drifting series)."""
        if c in self._seen:
            return
        self._seen[c] = None
        if len(self._seen) > self.max_contexts:
            del self._seen[next(iter(self._seen))]

    def _novelty(self, b: int) -> tuple[float, list[tuple[int, ...]]]:
        ctx = self._recent[-(self.context - 1):] + [b] if self.context > 1 else [b]
        new = [c for c in (tuple(ctx[-ln:]) for ln in range(1, len(ctx) + 1)) if c not in self._seen]
        return len(new) / self.context, new

    def _learn(self, v: float, ts: float | None) -> None:
        z_before = self._z
        z_before.learn_one(v)
        if self._warm is not None:
            self._warm.append(v)
            if self._prov is not None:
                self._prov.learn_one(v)
            elif self.provisional and len(self._warm) == self.provisional:
                self._prov = ContextNovelty(self.bins, self.context, self.provisional, self.q_range,
                                            self.window, self.min_points, self.max_contexts)
                for x in self._warm:
                    self._prov.learn_one(x)
            if len(self._warm) >= self.warmup:
                self._freeze()
                self._prov = None
            return
        b = self._bin(v)
        _, new = self._novelty(b)
        for c in new:
            self._remember(c)
        self._recent.append(b)
        if len(self._recent) > self.context:
            del self._recent[0]

    def _score(self, v: float, ts: float | None) -> float:
        if self._warm is not None:
            return 0.0 if self._prov is None else self._prov._score(v, ts)
        novelty, _ = self._novelty(self._bin(v))
        if novelty == 0.0:
            return 0.0
        return novelty * self._z.score_one(v)

    def _band(self, ts: float | None):
        return self._z.band(ts)

    # ------------------------------------------------------------------------------------------
    def _get_state(self) -> dict[str, Any]:
        return {"_warm": None if self._warm is None else list(self._warm), "_lo": self._lo,
                "_width": self._width, "_recent": list(self._recent),
                "_seen": [list(c) for c in self._seen], "_z": self._z.to_state(),
                "_prov": None if self._prov is None else self._prov.to_state()}

    def _set_state(self, state: dict[str, Any]) -> None:
        w = state.get("_warm", [])
        self._warm = None if w is None else [float(x) for x in w]
        self._lo = float(state.get("_lo", 0.0))
        self._width = float(state.get("_width", 1.0))
        self._recent = [int(b) for b in state.get("_recent", ())]
        self._seen = {tuple(int(b) for b in c): None for c in state.get("_seen", ())}
        if "_z" in state:
            self._z = RobustZ.from_state(state["_z"])
        prov = state.get("_prov")
        self._prov = None if prov is None else ContextNovelty.from_state(prov)
