"""Metric sensor: polls the configured series, runs the detectors, dispatches aisre.signal."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aisre_sensor import AisreSensor  # noqa: E402


class MetricSensor(AisreSensor):
    kind = "metrics"
