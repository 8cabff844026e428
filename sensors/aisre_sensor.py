"""Shared base of the aisre sensors: a PollingSensor around aisre.sensing.SensorCore (poll never raises).

st2 adds <pack>/sensors to a sensor's path, so this module imports by bare name; <pack>/lib is added here
from __file__ so the sensors work with or without [packs] enable_common_libs.
"""
import os
import sys

_PACK_LIB = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
if _PACK_LIB not in sys.path:
    sys.path.insert(0, _PACK_LIB)

from st2reactor.sensor.base import PollingSensor  # noqa: E402

from aisre.sensing import SensorCore  # noqa: E402
from aisre.state import DatastoreStore  # noqa: E402


class AisreSensor(PollingSensor):
    kind = ""   # "metrics" | "logs"

    def setup(self):
        self._core = SensorCore(self.kind, dict(self.config or {}), DatastoreStore(self.sensor_service),
                                logger=self.sensor_service.get_logger(type(self).__name__))

    def poll(self):
        self._core.poll(lambda trigger, payload: self.sensor_service.dispatch(trigger=trigger, payload=payload))

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
