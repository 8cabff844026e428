from __future__ import annotations

import logging

from st2tests.mocks.datastore import MockDatastoreService


class MockSensorWrapper:
    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name


class MockSensorService:
    """Records dispatches as {"trigger", "payload", "trace_context"} like st2tests."""

    def __init__(self, sensor_wrapper):
        self._sensor_wrapper = sensor_wrapper
        self.dispatched_triggers: list[dict] = []
        self._logger = logging.getLogger(f"SensorWrapper.{sensor_wrapper._pack}.{sensor_wrapper._class_name}")
        self.datastore_service = MockDatastoreService(pack_name=sensor_wrapper._pack,
                                                      class_name=sensor_wrapper._class_name)

    def get_logger(self, name):
        return self._logger

    def dispatch(self, trigger, payload=None, trace_tag=None):
        return self.dispatch_with_context(trigger, payload=payload, trace_context={"trace_tag": trace_tag} if trace_tag else None)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        self.dispatched_triggers.append({"trigger": trigger, "payload": payload, "trace_context": trace_context})

    def get_value(self, *a, **kw): return self.datastore_service.get_value(*a, **kw)
    def set_value(self, *a, **kw): return self.datastore_service.set_value(*a, **kw)
    def delete_value(self, *a, **kw): return self.datastore_service.delete_value(*a, **kw)
    def list_values(self, *a, **kw): return self.datastore_service.list_values(*a, **kw)
    def get_user_info(self): return self.datastore_service.get_user_info()
