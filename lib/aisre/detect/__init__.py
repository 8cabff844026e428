"""aisre.detect — streaming metric detectors, calibration, the alarm layer and forecasts.

Public API::

    make_detector(name="default", **params) -> StreamingDetector     # learn_one / score_one / band
    detector_from_state(state) -> StreamingDetector
    SeriesMonitor(series=..., ...).observe(ts, value) -> Anomaly | None
    time_to_exhaustion(points, capacity) -> float | None
    OnsetPipeline(NAB_PIPELINES[NAB_DEFAULT]).update(value, ts) -> float in [0, 1]  # onset alarm score
    run_pipeline(spec, values, timestamps) -> list[float]
    ProphetBand / HoltWintersBand: fit(points) -> self; score(points) -> list[float]; band(points)
"""
from aisre.detect.batch import HoltWintersBand, ProphetBand
from aisre.detect.forecast import theil_sen, time_to_exhaustion
from aisre.detect.monitor import SeriesMonitor
from aisre.detect.onset import OnsetPipeline, run_pipeline
from aisre.detect.registry import (DEFAULT, NAB_DEFAULT, NAB_PIPELINE, NAB_PIPELINES, REGISTRY, detector_from_state,
                                   make_detector)

__all__ = ["DEFAULT", "NAB_DEFAULT", "NAB_PIPELINE", "NAB_PIPELINES", "REGISTRY", "HoltWintersBand", "OnsetPipeline",
           "ProphetBand", "SeriesMonitor", "detector_from_state", "make_detector", "run_pipeline", "theil_sen",
           "time_to_exhaustion"]
