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
from aisre.detect.record import SeasonalRecord
from aisre.detect.seasonal import SeasonalProfile
from aisre.errors import ValidationError

REGISTRY: dict[str, type[StreamingDetector]] = {
    cls.name: cls for cls in (RobustZ, RollingQuantile, EwmaCusum, SeasonalProfile, ContextNovelty, Ensemble,
                             SeasonalRecord)
}

#: What ``make_detector("default")`` builds: a robust z over the last 240 points.
DEFAULT: dict[str, Any] = {"name": "robust_z", "params": {"window": 240, "min_points": 30}}

#: Named onset pipelines measured on NAB (``aisre.detect.onset.OnsetPipeline`` specs): detector,
#: squash scale (robust-z units -> [0, 1]), fire level and rest period (points or seconds).
NAB_PIPELINES: dict[str, dict[str, Any]] = {
    # 61.1 / 49.4 / 66.9: rest counted in points (150), the same for hourly and 5-minute series
    "novelty_onset_points": {"detector": "context_novelty", "params": {}, "scale": 5.0,
                             "fire": 0.6, "rest_points": 150},
    # rest counted in time (12 h): short for hourly series, the same ~150 points for 5-minute ones
    "novelty_onset_12h": {"detector": "context_novelty", "params": {}, "scale": 5.0,
                          "fire": 0.6, "rest_s": 43200.0},
    # max of two onset channels: level/transition novelty (scored from point 150 on, provisional
    # bins until the 300-point warm-up ends) and seasonal records (an hour-of-day deviation larger
    # than any in the last ~30 days, at half weight); one 12 h rest for both
    "novelty_seasonal_record_12h": {
        "detector": "ensemble",
        "params": {"members": [{"name": "context_novelty", "params": {"provisional": 150}},
                               {"name": "seasonal_record", "params": {"gain": 0.5}}]},
        "scale": 5.0, "fire": 0.6, "rest_s": 43200.0},
}
#: The pipeline ``bench/nab.py`` measures by default.
NAB_DEFAULT = "novelty_seasonal_record_12h"
NAB_PIPELINE: dict[str, Any] = NAB_PIPELINES[NAB_DEFAULT]


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
