"""Shim of st2reactor.sensor.base: the six abstract methods plus poll() for PollingSensor."""
from __future__ import annotations

import abc
import time


class BaseSensor(abc.ABC):
    def __init__(self, sensor_service, config=None):
        self._sensor_service = sensor_service
        self.sensor_service = sensor_service
        self._config = config or {}
        self.config = self._config

    @abc.abstractmethod
    def setup(self): ...

    @abc.abstractmethod
    def run(self): ...

    @abc.abstractmethod
    def cleanup(self): ...

    @abc.abstractmethod
    def add_trigger(self, trigger): ...

    @abc.abstractmethod
    def update_trigger(self, trigger): ...

    @abc.abstractmethod
    def remove_trigger(self, trigger): ...


class Sensor(BaseSensor):
    """A passive sensor: run() blocks."""


class PollingSensor(BaseSensor):
    def __init__(self, sensor_service, config=None, poll_interval=5):
        super().__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self): ...

    def run(self):
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def get_poll_interval(self):
        return self._poll_interval

    def set_poll_interval(self, poll_interval):
        self._poll_interval = poll_interval
