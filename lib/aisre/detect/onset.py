"""Onset pipelines: detector -> squash -> onset filter, one streaming score per point in [0, 1].

An *onset pipeline* turns a raw detector score into a sparse alarm score the way NAB and early
warning want it: high at the first point of an episode, then quiet for a rest period. Two rest
rules exist:

* ``rest_points`` (:class:`aisre.detect.alarm.OnsetFilter`): a fixed number of points;
* ``rest_s`` (:class:`TimedOnsetFilter`): a fixed span of *time*, so the rest covers the same
  wall-clock horizon whatever the sampling rate (12 h is 144 five-minute points or 12 hourly
  points). This is what the NAB pipeline uses (see ``docs/detection.md``).

Everything is streaming: the output for point ``t`` depends only on points ``<= t``, and the same
input always gives the same output (no randomness, no wall clock).

``spec`` dicts (see :data:`aisre.detect.registry.NAB_PIPELINES`)::

    {"detector": "context_novelty", "params": {}, "scale": 5.0, "fire": 0.6, "rest_s": 43200}
    {"detector": "context_novelty", "params": {}, "scale": 5.0, "fire": 0.6, "rest_points": 150}
"""
from __future__ import annotations

from typing import Any, Iterable

from aisre.detect._stream import StreamingDetector, clean, number_in
from aisre.detect.alarm import OnsetFilter, squash
from aisre.errors import ValidationError


class TimedOnsetFilter:
    """``update(score, ts) -> score or 0``: zero every score within ``rest_s`` seconds of the last fire.

    A score ``>= fire`` outside a rest period passes and starts a rest period at its ``ts``. A point
    without a finite timestamp cannot be placed in time: it outputs 0 and changes nothing. A point
    older than the last fire is inside the rest period (``ts - fire_ts < rest_s``) and outputs 0.
    """

    def __init__(self, fire: float = 0.6, rest_s: float = 43200.0) -> None:
        self.fire = number_in("fire", fire, 0.0, 1.0)
        self.rest_s = number_in("rest_s", rest_s, 0.0, 10 * 365 * 86400.0)
        self._fired_at: float | None = None

    def update(self, score: float, ts: float | None) -> float:
        t = clean(ts)
        if t is None:
            return 0.0
        if self._fired_at is not None and t - self._fired_at < self.rest_s:
            return 0.0
        s = clean(score) or 0.0
        if s >= self.fire:
            self._fired_at = t
        return s

    def to_state(self) -> dict[str, Any]:
        return {"fire": self.fire, "rest_s": self.rest_s, "fired_at": self._fired_at}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> "TimedOnsetFilter":
        obj = cls(d["fire"], d["rest_s"])
        obj._fired_at = None if d.get("fired_at") is None else float(d["fired_at"])
        return obj


class OnsetPipeline:
    """One series' detector + squash + onset filter. ``update(value, ts) -> float`` in [0, 1].

    Per point: raw = ``detector.score_one(value, ts)`` (before learning the point, so the score
    never sees the point's own influence), then ``detector.learn_one(value, ts)``, then
    ``squash(raw, scale)`` through the onset filter. ``spec`` needs ``detector``, ``scale``,
    ``fire`` and exactly one of ``rest_s`` / ``rest_points``; bad specs raise ValidationError.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        from aisre.detect.registry import make_detector   # registry imports this module's users
        if not isinstance(spec, dict) or "detector" not in spec:
            raise ValidationError("an onset pipeline spec needs a 'detector'", what="pipeline")
        if ("rest_s" in spec) == ("rest_points" in spec):
            raise ValidationError("an onset pipeline needs exactly one of rest_s / rest_points",
                                  what="pipeline")
        self.spec = dict(spec)
        self.scale = number_in("scale", spec.get("scale", 5.0), 1e-9, 1e9)
        self.detector: StreamingDetector = make_detector(spec["detector"], **dict(spec.get("params", {})))
        fire = spec.get("fire", 0.6)
        self.timed = "rest_s" in spec
        self.filter: TimedOnsetFilter | OnsetFilter = (
            TimedOnsetFilter(fire, spec["rest_s"]) if self.timed else OnsetFilter(fire, spec["rest_points"]))

    def update(self, value: float, ts: float | None = None) -> float:
        raw = self.detector.score_one(value, ts)
        self.detector.learn_one(value, ts)
        s = squash(raw, self.scale)
        return self.filter.update(s, ts) if self.timed else self.filter.update(s)

    def to_state(self) -> dict[str, Any]:
        return {"spec": self.spec, "detector": self.detector.to_state(), "filter": self.filter.to_state()}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> "OnsetPipeline":
        from aisre.detect.registry import detector_from_state
        if not isinstance(d, dict) or not {"spec", "detector", "filter"} <= set(d):
            raise ValidationError("not an onset pipeline state", what="pipeline_state")
        obj = cls(d["spec"])
        obj.detector = detector_from_state(d["detector"])
        obj.filter = (TimedOnsetFilter if obj.timed else OnsetFilter).from_state(d["filter"])
        return obj


def run_pipeline(spec: dict[str, Any], values: Iterable[float],
                 timestamps: Iterable[float] | None = None) -> list[float]:
    """Stream a whole series through a fresh :class:`OnsetPipeline`; one score per point.

    ``timestamps`` are epoch seconds (required by ``rest_s`` pipelines: without them every
    score is 0, the defined fallback for points that cannot be placed in time).
    """
    pipe = OnsetPipeline(spec)
    vals = list(values)
    stamps = [None] * len(vals) if timestamps is None else list(timestamps)
    if len(stamps) != len(vals):
        raise ValidationError(f"{len(vals)} values but {len(stamps)} timestamps", what="timestamps")
    update = pipe.update
    return [update(v, t) for v, t in zip(vals, stamps)]
