"""Polling watchers shared by the st2 sensors and the standalone agent.

:class:`MetricWatcher` turns configured series into :class:`~aisre.models.Signal` s:
fetch since the cursor → per-series :class:`~aisre.detect.monitor.SeriesMonitor` → anomalies.
:class:`LogWatchRunner` does the same for logs with :class:`~aisre.detect.logwatch.LogWatcher`.

Restart safety (neither lose nor duplicate a signal): per poll, the new detector state, the
cursor and the signals found go into the state store *together* (an outbox) before anything is
dispatched; :meth:`drain_outbox` hands them out and clears the outbox only after the caller has
dispatched them. A crash after dispatch but before the clear re-dispatches the same signals on
restart — with the same ids, which the correlator ignores as duplicates.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from aisre.config import Config, MetricSpec, ServiceSpec
from aisre.errors import IntegrationError, SreError
from aisre.models import Anomaly, LogRecord, Severity, Signal, iso, stable_hash
from aisre.state import StateStore, get_json, set_json

log = logging.getLogger(__name__)

OUTBOX_KEY = "aisre.outbox.{watcher}"


def anomaly_to_signal(a: Anomaly, source: str) -> Signal:
    """The one place a detector finding becomes a Signal (id is deterministic: series + onset)."""
    pct_unit = a.metric.endswith("_pct")
    unit = "%" if pct_unit else ""
    expected = f", expected {a.expected:.4g}{unit}" if a.expected is not None else ""
    summary = f"{a.service} {a.metric} {a.anomaly_class.value} {a.direction}: {a.value:.4g}{unit}{expected}"
    if a.exhaustion_ts is not None:
        summary += f"; forecast to reach {a.capacity:g}{unit} at {iso(a.exhaustion_ts)}"
    if a.anomaly_class.value == "transient":
        severity = Severity.INFO
    elif a.exhaustion_ts is not None or a.score >= 0.999:
        severity = Severity.CRITICAL
    else:
        severity = Severity.ERROR
    return Signal(
        id="sig-" + stable_hash(a.series, round(a.onset_ts, 3), a.anomaly_class.value),
        kind="metric", source=source, service=a.service, name=a.metric, summary=summary, severity=severity,
        ts=a.ts, onset_ts=a.onset_ts, value=a.value, expected=a.expected, lower=a.lower, upper=a.upper,
        score=a.score, anomaly_class=a.anomaly_class, exhaustion_ts=a.exhaustion_ts, labels=dict(a.labels),
        evidence={"detector": a.detector, "threshold": a.threshold, "series": a.series,
                  "capacity": a.capacity, "window": [list(p) for p in a.window[-30:]]},
    )


@dataclass
class WatchStats:
    polled: int = 0
    points: int = 0
    signals: int = 0
    errors: list[str] = field(default_factory=list)
    last_ok_ts: float | None = None


class MetricWatcher:
    """Polls every configured metric of every service and runs its monitor.

    ``sources`` maps a source name (``services[].metrics[].source``) to a MetricSource.
    """

    def __init__(self, config: Config, sources: Mapping[str, Any], store: StateStore, *,
                 clock: Callable[[], float] = time.time, name: str = "metrics",
                 monitor_factory: Callable[[ServiceSpec, MetricSpec], Any] | None = None) -> None:
        self.config = config
        self.sources = dict(sources)
        self.store = store
        self.clock = clock
        self.name = name
        self.monitor_factory = monitor_factory or self._default_monitor
        self.latest: dict[tuple[str, str], tuple[float, float]] = {}
        self.history: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.stats = WatchStats()
        det = config.detection
        self.lookback_s = float(det.get("lookback_minutes", 60)) * 60
        self.step_s = float(det.get("step_s", 60))

    # -- monitors -------------------------------------------------------------------------------
    def _default_monitor(self, svc: ServiceSpec, spec: MetricSpec) -> Any:
        from aisre.detect.monitor import SeriesMonitor
        return SeriesMonitor.from_config(svc.name, spec, dict(self.config.detection))

    def _load_monitor(self, svc: ServiceSpec, spec: MetricSpec) -> Any:
        from aisre.detect.monitor import SeriesMonitor
        raw = get_json(self.store, f"aisre.detector.{svc.name}:{spec.name}")
        if raw:
            try:
                return SeriesMonitor.from_state(raw)
            except (SreError, KeyError, TypeError, ValueError) as exc:
                log.warning("detector state for %s:%s unreadable (%s); starting fresh", svc.name, spec.name, exc)
        return self.monitor_factory(svc, spec)

    # -- polling --------------------------------------------------------------------------------
    def poll_once(self, now: float | None = None) -> list[Signal]:
        """One cycle over every series. Never raises for a source error: it is recorded in ``stats``."""
        now = self.clock() if now is None else now
        found: list[Signal] = []
        self.stats = WatchStats(last_ok_ts=self.stats.last_ok_ts)
        for svc in self.config.services:
            for spec in svc.metrics:
                try:
                    found.extend(self._poll_series(svc, spec, now))
                except IntegrationError as exc:
                    self.stats.errors.append(f"{svc.name}:{spec.name}: {exc}")
                    log.warning("metric poll failed for %s:%s: %s", svc.name, spec.name, exc)
                self.stats.polled += 1
        if not self.stats.errors or self.stats.polled > len(self.stats.errors):
            self.stats.last_ok_ts = now
        self.stats.signals = len(found)
        return found

    def _poll_series(self, svc: ServiceSpec, spec: MetricSpec, now: float) -> list[Signal]:
        source = self.sources.get(spec.source)
        if source is None:
            raise IntegrationError(f"no metric source named {spec.source!r} is configured",
                                   integration=spec.source, operation="query_range", target=spec.query)
        cursor_key = f"aisre.cursor.{spec.source}.{svc.name}:{spec.name}"
        raw_cursor = self.store.get(cursor_key)
        cursor = float(raw_cursor) if raw_cursor else now - self.lookback_s
        series_list = source.query_range(spec.query, cursor + 1e-6, now, self.step_s)
        points = sorted((ts, v) for s in series_list for ts, v in s.points
                        if ts > cursor and v is not None and math.isfinite(v))
        if not points:
            return []
        monitor = self._load_monitor(svc, spec)
        out: list[Signal] = []
        hist = self.history.setdefault((svc.name, spec.name), [])
        for ts, value in points:
            anomaly = monitor.observe(ts, value)
            hist.append((ts, value))
            if anomaly is not None:
                out.append(anomaly_to_signal(anomaly, source=getattr(source, "name", spec.source)))
        del hist[:-720]
        self.latest[(svc.name, spec.name)] = points[-1]
        self.stats.points += len(points)
        # outbox, then detector state, then cursor (see the module docstring)
        if out:
            self._save_outbox(self.pending() + [s.to_dict() for s in out])
        set_json(self.store, f"aisre.detector.{svc.name}:{spec.name}", monitor.to_state())
        self.store.set(cursor_key, repr(points[-1][0]))
        return out

    # -- outbox ---------------------------------------------------------------------------------
    def _save_outbox(self, items: list[dict[str, Any]]) -> None:
        seen: dict[str, dict[str, Any]] = {}
        for item in items:
            seen[item["id"]] = item
        set_json(self.store, OUTBOX_KEY.format(watcher=self.name), list(seen.values()))

    def pending(self) -> list[dict[str, Any]]:
        return get_json(self.store, OUTBOX_KEY.format(watcher=self.name), default=[]) or []

    def drain_outbox(self, dispatch: Callable[[Signal], Any]) -> int:
        """Dispatch every pending signal, then clear the outbox. Returns how many were dispatched."""
        return drain(self.store, OUTBOX_KEY.format(watcher=self.name), dispatch)

    def latest_value(self, service: str, metric: str) -> float | None:
        item = self.latest.get((service, metric))
        return None if item is None else item[1]


class LogWatchRunner:
    """Fetches logs per service and runs a :class:`~aisre.detect.logwatch.LogWatcher` for each."""

    def __init__(self, config: Config, sources: Mapping[str, Any], store: StateStore, *,
                 clock: Callable[[], float] = time.time, name: str = "logs", limit: int = 2000) -> None:
        self.config = config
        self.sources = dict(sources)
        self.store = store
        self.clock = clock
        self.name = name
        self.limit = limit
        self.stats = WatchStats()
        self.recent: dict[str, list[LogRecord]] = {}

    def _watcher(self, service: str) -> Any:
        from aisre.detect.logwatch import LogWatcher
        raw = get_json(self.store, f"aisre.logwatch.{service}")
        if raw:
            try:
                return LogWatcher.from_state(raw)
            except (SreError, KeyError, TypeError, ValueError) as exc:
                log.warning("log watcher state for %s unreadable (%s); starting fresh", service, exc)
        return LogWatcher(service=service)

    def poll_once(self, now: float | None = None) -> list[Signal]:
        now = self.clock() if now is None else now
        found: list[Signal] = []
        self.stats = WatchStats(last_ok_ts=self.stats.last_ok_ts)
        for svc in self.config.services:
            if not svc.logs:
                continue
            source_name = svc.logs.get("source", "files")
            source = self.sources.get(source_name)
            self.stats.polled += 1
            if source is None:
                self.stats.errors.append(f"{svc.name}: no log source {source_name!r}")
                continue
            from aisre.sources.cursor import fetch_new
            try:
                res = fetch_new(source, svc.logs.get("query", ""), self.store, now=now, stream=svc.name,
                                limit=self.limit, settle_s=float(getattr(source, "settle_s", 15.0)),
                                commit_cursor=False)
            except IntegrationError as exc:
                self.stats.errors.append(f"{svc.name}: {exc}")
                log.warning("log poll failed for %s: %s", svc.name, exc)
                continue
            records = list(res.records)
            if not records:
                res.commit(self.store)
                continue
            buf = self.recent.setdefault(svc.name, [])
            buf.extend(records)
            del buf[:-200]
            watcher = self._watcher(svc.name)
            new_signals = watcher.observe(records, now)
            found.extend(new_signals)
            # outbox, then detector state, then cursor: a crash anywhere re-reads rather than loses,
            # and deterministic signal ids make the re-reads harmless downstream
            if new_signals:
                seen = {i["id"]: i for i in (get_json(self.store, OUTBOX_KEY.format(watcher=self.name), default=[]) or [])}
                seen.update({x.id: x.to_dict() for x in new_signals})
                set_json(self.store, OUTBOX_KEY.format(watcher=self.name), list(seen.values()))
            set_json(self.store, f"aisre.logwatch.{svc.name}", watcher.to_state())
            res.commit(self.store)
            self.stats.points += len(records)
        self.stats.last_ok_ts = now
        self.stats.signals = len(found)
        return found

    def drain_outbox(self, dispatch: Callable[[Signal], Any]) -> int:
        return drain(self.store, OUTBOX_KEY.format(watcher=self.name), dispatch)


SENT_KEY = "aisre.outbox.sent.{id}"
SENT_TTL_S = 24 * 3600.0


def drain(store: StateStore, outbox_key: str, dispatch: Callable[[Signal], Any]) -> int:
    """Dispatch the outbox's signals, each at most once, then clear it; returns how many were dispatched.

    Each id is marked sent right after its dispatch, so a crash later in the loop (or before the
    outbox is cleared) re-sends nothing already sent; only a crash between one dispatch and its
    mark can repeat that one signal, and the correlate step drops a repeated id.
    """
    items = get_json(store, outbox_key, default=[]) or []
    sent = 0
    for item in items:
        mark = SENT_KEY.format(id=item.get("id", ""))
        if store.get(mark) is not None:
            continue
        dispatch(Signal.from_dict(item))
        store.set(mark, "1", ttl_s=SENT_TTL_S)
        sent += 1
    if items:
        store.delete(outbox_key)
    return sent


def signal_ids(signals: Iterable[Signal]) -> list[str]:
    return [s.id for s in signals]
