"""Detector registry: name -> class, ``make_detector(name, **params)``, ``detector_from_state``.

``"default"`` is the configuration the benchmarks measure and the monitor uses when a metric has
no ``detector`` set (see :data:`DEFAULT`).
"""
from __future__ import annotations

from typing import Any

from aisre.detect._stream import StreamingDetector
from aisre.detect.context import ContextNovelty
from aisre.detect.ensemble import Ensemble
from aisre.detect.ewma import EwmaCusum
from aisre.detect.robust import RobustZ, RollingQuantile
from aisre.detect.seasonal import SeasonalProfile
from aisre.errors import ValidationError

REGISTRY: dict[str, type[StreamingDetector]] = {
    cls.name: cls for cls in (RobustZ, RollingQuantile, EwmaCusum, SeasonalProfile, ContextNovelty, Ensemble)
}

#: What ``make_detector("default")`` builds: a robust z over the last 240 points.
DEFAULT: dict[str, Any] = {"name": "robust_z", "params": {"window": 240, "min_points": 30}}

#: The NAB-measured pipeline: detector, squash scale (robust-z units -> [0, 1]) and onset filter.
NAB_PIPELINE: dict[str, Any] = {"detector": "context_novelty", "params": {}, "scale": 5.0,
                                "fire": 0.6, "rest_points": 150}


def make_detector(name: str = "default", **params: Any) -> StreamingDetector:
    """Build a registered streaming detector; unknown names or bad params raise ValidationError."""
    if name == "default":
        merged = {**DEFAULT["params"], **params}
        return make_detector(DEFAULT["name"], **merged)
    cls = REGISTRY.get(name)
    if cls is None:
        raise ValidationError(f"unknown detector {name!r}; known: {sorted(REGISTRY) + ['default']}",
                              what="detector")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValidationError(f"bad parameters for detector {name!r}: {exc}", what="params") from None


def detector_from_state(state: dict[str, Any]) -> StreamingDetector:
    """Rebuild any registered detector from its ``to_state()`` dict."""
    if not isinstance(state, dict) or state.get("name") not in REGISTRY:
        raise ValidationError("not a detector state", what="detector_state")
    return REGISTRY[state["name"]].from_state(state)
