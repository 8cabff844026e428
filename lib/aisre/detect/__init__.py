"""aisre.detect — streaming metric detectors, calibration, the alarm layer and forecasts.

Public API::

    make_detector(name="default", **params) -> StreamingDetector     # learn_one / score_one / band
    detector_from_state(state) -> StreamingDetector
    SeriesMonitor(series=..., ...).observe(ts, value) -> Anomaly | None
    time_to_exhaustion(points, capacity) -> float | None
    ProphetBand / HoltWintersBand: fit(points) -> self; score(points) -> list[float]; band(points)
"""
from aisre.detect.batch import HoltWintersBand, ProphetBand
from aisre.detect.forecast import theil_sen, time_to_exhaustion
from aisre.detect.monitor import SeriesMonitor
from aisre.detect.registry import DEFAULT, NAB_PIPELINE, REGISTRY, detector_from_state, make_detector

__all__ = ["DEFAULT", "NAB_PIPELINE", "REGISTRY", "HoltWintersBand", "ProphetBand", "SeriesMonitor",
           "detector_from_state", "make_detector", "theil_sen", "time_to_exhaustion"]
