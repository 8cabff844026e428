"""Synthetic HTTP checks: the user-facing signal, as two series per check.

Each :class:`HttpCheck` probes one URL. A probe yields ``uptime`` (1 when the answer came within
the timeout with the expected status, else 0) and ``latency_ms`` (time to the full response;
absent when no response came at all: refused, DNS failure, timeout). A failing target is data,
not an error: probes never raise.

``query_range(query, start, end, step_s)`` probes every selected check whose last probe is older
than ``step_s`` (so a sensor polling every minute gets one probe per minute) and returns the
probes kept in memory (``history`` per check, default 1,440) that fall in ``[start, end]``.
``query`` selects checks: ``""`` or ``"*"`` = all, else a check name or a service name.
Series keys: ``http_check_uptime{check="home",service="web"}`` and ``http_check_latency_ms{…}``.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Any, Callable, Deque, Iterable, Mapping

import requests

from aisre.errors import BadQuery
from aisre.models import Series
from aisre.sources.http import strip_query
from aisre.sources.normalize import make_series


@dataclasses.dataclass(frozen=True)
class HttpCheck:
    """One synthetic check (mirrors ``sources.http_checks[]`` in the pack config)."""
    name: str
    url: str
    service: str
    method: str = "GET"
    expect_status: int = 200
    timeout_s: float = 5.0

    @classmethod
    def from_config(cls, d: Mapping[str, Any]) -> "HttpCheck":
        return cls(name=d["name"], url=d["url"], service=d["service"], method=str(d.get("method", "GET")).upper(),
                   expect_status=int(d.get("expect_status", 200)), timeout_s=float(d.get("timeout_s", 5)))


@dataclasses.dataclass(frozen=True)
class Probe:
    """One probe's outcome, with its evidence (status, error) for reports."""
    check: str
    ts: float
    up: bool
    latency_ms: float | None
    status: int | None = None
    error: str = ""


class HttpCheckSource:
    """Metric source running synthetic HTTP checks."""

    name = "http"

    def __init__(self, checks: Iterable[HttpCheck | Mapping[str, Any]], *, history: int = 1440,
                 session: requests.Session | None = None, clock: Callable[[], float] = time.time,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        self.checks = {c.name: c for c in (x if isinstance(x, HttpCheck) else HttpCheck.from_config(x)
                                           for x in checks)}
        self.session = session or requests.Session()
        self.clock = clock
        self.timer = timer
        self._history: dict[str, Deque[Probe]] = {n: collections.deque(maxlen=history) for n in self.checks}
        self._lock = threading.Lock()

    def select(self, query: str) -> list[HttpCheck]:
        q = (query or "").strip()
        if q in ("", "*"):
            return list(self.checks.values())
        found = [c for c in self.checks.values() if q in (c.name, c.service)]
        if not found:
            raise BadQuery(f"no HTTP check named {q!r} (known: {', '.join(sorted(self.checks)) or 'none'})",
                           integration="http", operation="query_range")
        return found

    def probe(self, check: HttpCheck) -> Probe:
        """Run one check now, record and return the outcome. Never raises for target failures."""
        t0 = self.timer()
        now = self.clock()
        status: int | None = None
        try:
            resp = self.session.request(check.method, check.url, timeout=(check.timeout_s, check.timeout_s),
                                        allow_redirects=True, stream=True)
            try:
                for _ in resp.iter_content(65536):   # latency to the full body, bounded by the timeout
                    if self.timer() - t0 > check.timeout_s:
                        raise requests.exceptions.ReadTimeout("body not complete within timeout")
            finally:
                resp.close()
            status = resp.status_code
            latency = (self.timer() - t0) * 1000.0
            up = status == check.expect_status
            error = "" if up else f"HTTP {status}, expected {check.expect_status}"
        except requests.exceptions.Timeout:
            latency, up, error = None, False, f"no answer within {check.timeout_s:g}s"
        except requests.exceptions.RequestException as exc:
            latency, up, error = None, False, f"{type(exc).__name__}: unreachable"
        result = Probe(check=check.name, ts=now, up=up, latency_ms=latency, status=status, error=error)
        with self._lock:
            self._history[check.name].append(result)
        return result

    def history(self, name: str) -> list[Probe]:
        with self._lock:
            return list(self._history.get(name, ()))

    def query_range(self, query: str, start: float, end: float, step_s: float) -> list[Series]:
        out: list[Series] = []
        now = self.clock()
        for check in self.select(query):
            past = self.history(check.name)
            if start <= now <= end + step_s and (not past or now - past[-1].ts >= step_s):
                self.probe(check)
                past = self.history(check.name)
            kept = [p for p in past if start <= p.ts <= end + step_s]
            labels = {"check": check.name, "service": check.service, "url": strip_query(check.url)}
            out.append(make_series("http_check_uptime", labels, [(p.ts, 1.0 if p.up else 0.0) for p in kept]))
            out.append(make_series("http_check_latency_ms", labels,
                                   [(p.ts, p.latency_ms) for p in kept if p.latency_ms is not None], unit="ms"))
        return out
