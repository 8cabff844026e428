"""What the st2 sensors do, without StackStorm: build watchers from the config, poll, dispatch, heartbeat.

``poll()`` never raises (a sensor that raises is respawned twice, then abandoned by st2): every error is
logged and recorded in the heartbeat (``aisre.heartbeat.<sensor>``) that ``aisre.health`` reads.
"""
from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Callable, Mapping

from aisre.config import Config, load_config
from aisre.errors import ConfigError, SreError
from aisre.state import StateStore

SIGNAL_TRIGGER = "aisre.signal"
CHANGE_TRIGGER = "aisre.change"


class SensorCore:
    """Shared core of the metric and log sensors."""

    def __init__(self, kind: str, config: Mapping[str, Any] | Config, store: StateStore, *,
                 logger: logging.Logger | None = None, clock: Callable[[], float] = time.time,
                 sources: Mapping[str, Any] | None = None) -> None:
        self.kind = kind                       # "metrics" | "logs"
        self.store = store
        self.log = logger or logging.getLogger(f"aisre.sensor.{kind}")
        self.clock = clock
        self.watcher: Any = None
        self.config_error: str = ""
        try:
            self.config = config if isinstance(config, Config) else load_config(config)
            self.watcher = self._build(sources)
        except (ConfigError, SreError) as exc:
            self.config = None
            self.config_error = str(exc)
            self.log.error("aisre %s sensor is not configured correctly: %s", kind, exc)

    def _build(self, sources: Mapping[str, Any] | None) -> Any:
        from aisre.watch import LogWatchRunner, MetricWatcher
        if self.kind == "metrics":
            if sources is None:
                from aisre.sources import build_metric_sources
                sources = build_metric_sources(self.config)
            return MetricWatcher(self.config, sources, self.store, clock=self.clock)
        if sources is None:
            from aisre.sources import build_log_sources
            sources = build_log_sources(self.config, self.store)
        return LogWatchRunner(self.config, sources, self.store, clock=self.clock)

    def poll(self, dispatch: Callable[[str, dict[str, Any]], Any]) -> int:
        """One poll cycle: detect, then dispatch the outbox. Returns the number of signals dispatched."""
        from aisre.health import record_heartbeat
        now = self.clock()
        sent = 0
        try:
            if self.watcher is None:
                raise ConfigError(self.config_error or "sensor not configured")
            self.watcher.poll_once(now)
            sent = self.watcher.drain_outbox(lambda s: dispatch(SIGNAL_TRIGGER, s.to_dict()))
            stats = self.watcher.stats
            record_heartbeat(self.store, self.kind, now=now, polled=stats.polled, points=stats.points,
                             errors=stats.errors, sent=sent)
        except Exception as exc:  # the sensor must survive anything; the heartbeat tells the story
            self.log.error("aisre %s poll failed: %s\n%s", self.kind, exc, traceback.format_exc(limit=5))
            record_heartbeat(self.store, self.kind, now=now, polled=0, points=0, errors=(), sent=sent,
                             fatal=f"{type(exc).__name__}: {exc}")
        return sent
