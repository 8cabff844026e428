"""Ensemble: several streaming detectors scored together (max or mean of their scores)."""
from __future__ import annotations

from typing import Any

from aisre.detect._stream import StreamingDetector
from aisre.errors import ValidationError


class Ensemble(StreamingDetector):
    """Combine member detectors; ``members`` is a list of ``{"name": ..., "params": {...}}``.

    Member scores are all in "robust z" units (distance from the baseline in scale units), so the
    max is meaningful; ``combine="mean"`` averages instead. The band is the first member's band
    that is known.
    """

    name = "ensemble"
    PARAMS = ("members", "combine")

    def __init__(self, members: list[dict[str, Any]] | None = None, combine: str = "max") -> None:
        from aisre.detect.registry import make_detector
        if members is None:
            members = [{"name": "robust_z", "params": {}}, {"name": "ewma_cusum", "params": {}}]
        if not isinstance(members, (list, tuple)) or not members:
            raise ValidationError("ensemble members must be a non-empty list", what="members")
        if combine not in ("max", "mean"):
            raise ValidationError(f"combine must be max or mean, got {combine!r}", what="combine")
        norm = []
        for m in members:
            if not isinstance(m, dict) or "name" not in m:
                raise ValidationError(f"bad ensemble member {m!r}", what="members")
            if m["name"] in ("ensemble", "default"):
                raise ValidationError("ensembles do not nest", what="members")
            norm.append({"name": str(m["name"]), "params": dict(m.get("params") or {})})
        self.members = norm
        self.combine = combine
        self._dets = [make_detector(m["name"], **m["params"]) for m in norm]

    def _learn(self, v: float, ts: float | None) -> None:
        for d in self._dets:
            d.learn_one(v, ts)

    def _score(self, v: float, ts: float | None) -> float:
        scores = [d.score_one(v, ts) for d in self._dets]
        return max(scores) if self.combine == "max" else sum(scores) / len(scores)

    def _band(self, ts: float | None):
        for d in self._dets:
            b = d.band(ts)
            if b[0] is not None:
                return b
        return (None, None, None)

    def _get_state(self) -> dict[str, Any]:
        return {"members": [d.to_state() for d in self._dets]}

    def _set_state(self, state: dict[str, Any]) -> None:
        from aisre.detect.registry import detector_from_state
        if "members" in state:
            self._dets = [detector_from_state(s) for s in state["members"]]
