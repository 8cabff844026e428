"""Log sensor: reads the configured log sources, mines templates, spots surges, new error patterns and fatal
signatures, dispatches aisre.signal."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aisre_sensor import AisreSensor  # noqa: E402


class LogSensor(AisreSensor):
    kind = "logs"
