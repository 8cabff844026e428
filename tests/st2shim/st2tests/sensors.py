from __future__ import annotations

from st2tests.mocks.sensor import MockSensorService, MockSensorWrapper
from st2tests.pack_resource import BasePackResourceTestCase


class BaseSensorTestCase(BasePackResourceTestCase):
    sensor_cls = None

    def setUp(self):
        super().setUp()
        class_name = self.sensor_cls.__name__
        self.sensor_service = MockSensorService(MockSensorWrapper(pack="tests", class_name=class_name))

    def get_sensor_instance(self, config=None, poll_interval=None):
        kwargs = {"sensor_service": self.sensor_service, "config": config}
        if poll_interval is not None:
            kwargs["poll_interval"] = poll_interval
        return self.sensor_cls(**kwargs)

    def get_dispatched_triggers(self):
        return self.sensor_service.dispatched_triggers

    def get_last_dispatched_trigger(self):
        return self.sensor_service.dispatched_triggers[-1]

    def assertTriggerDispatched(self, trigger, payload=None, trace_context=None):
        for t in self.get_dispatched_triggers():
            if t["trigger"] != trigger:
                continue
            if payload is not None and t["payload"] != payload:
                continue
            if trace_context is not None and t["trace_context"] != trace_context:
                continue
            return True
        self.fail(f"trigger {trigger} with payload {payload!r} was not dispatched; dispatched: "
                  f"{[t['trigger'] for t in self.get_dispatched_triggers()]}")
