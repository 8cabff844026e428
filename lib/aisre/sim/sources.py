"""The fleet as telemetry sources, implementing :mod:`aisre.sources.base`'s protocols.

Metric queries are ``"<service>:<metric>"``; either side may be ``*`` (``"checkout:*"``,
``"*:error_rate"``, ``"*:*"``). Log queries are a service name, a comma-separated list of names,
or ``*``. Only what the simulated clock has reached is returned; a bad query raises
:class:`aisre.errors.BadQuery`, as a real source would.
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from aisre.errors import BadQuery
from aisre.models import LogRecord, Series
from aisre.sim.scenario import METRICS, UNITS

if TYPE_CHECKING:   # pragma: no cover
    from aisre.sim.fleet import Fleet

_QUERY = re.compile(r"^\s*([A-Za-z0-9_.*-]+)\s*:\s*([a-z0-9_*]+)\s*$")


class SimMetricSource:
    """``query_range("<service>:<metric>", start, end, step_s) -> list[Series]`` over a :class:`Fleet`."""

    def __init__(self, fleet: "Fleet", name: str = "sim") -> None:
        self.fleet = fleet
        self.name = name

    def _bad(self, query: str, why: str) -> BadQuery:
        return BadQuery(f"bad sim metric query {query!r}: {why}", integration="sim", operation="query_range",
                        target=query)

    def query_range(self, query: str, start: float, end: float, step_s: float) -> list[Series]:
        """Points of every matching series in ``[start, end]``, at most one per ``step_s`` (the last of each bucket)."""
        if not isinstance(query, str):
            raise self._bad(str(query), "expected text '<service>:<metric>'")
        m = _QUERY.match(query)
        if not m:
            raise self._bad(query, "expected '<service>:<metric>' (either side may be '*')")
        for v, what in ((start, "start"), (end, "end"), (step_s, "step_s")):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise self._bad(query, f"{what} must be a finite number, got {v!r}")
        if step_s <= 0:
            raise self._bad(query, f"step_s must be positive, got {step_s!r}")
        if end < start:
            raise self._bad(query, f"end {end} is before start {start}")
        svc_q, metric_q = m.groups()
        services = self.fleet.services if svc_q == "*" else (svc_q,)
        if svc_q != "*" and svc_q not in self.fleet.services:
            raise self._bad(query, f"no service {svc_q!r} (services: {', '.join(self.fleet.services)})")
        if metric_q != "*" and metric_q not in METRICS:
            raise self._bad(query, f"no metric {metric_q!r} (metrics: {', '.join(METRICS)})")
        out: list[Series] = []
        for svc in services:
            names = self.fleet.metric_names(svc)
            for metric in names if metric_q == "*" else [metric_q] if metric_q in names else []:
                points = _resample(self.fleet.series(svc, metric, start, end), start, step_s, self.fleet.step_s)
                out.append(Series(key=f"{svc}:{metric}", labels={"service": svc, "metric": metric, "source": "sim"},
                                  points=tuple(points), unit=UNITS.get(metric, "")))
        return out


def _resample(points: list[tuple[float, float]], start: float, step_s: float,
              native_step_s: float) -> list[tuple[float, float]]:
    if step_s <= native_step_s or not points:
        return points
    out: list[tuple[float, float]] = []
    bucket = None
    for ts, v in points:
        b = math.floor((ts - start) / step_s)
        if b == bucket:
            out[-1] = (ts, v)
        else:
            out.append((ts, v))
            bucket = b
    return out


class SimLogSource:
    """``fetch(service, start, end, limit) -> list[LogRecord]`` over a :class:`Fleet` (oldest first)."""

    def __init__(self, fleet: "Fleet", name: str = "sim") -> None:
        self.fleet = fleet
        self.name = name

    def fetch(self, query: str, start: float, end: float, limit: int = 1000) -> list[LogRecord]:
        """Records of the named service(s) in ``[start, end)``; when more than ``limit`` match, the newest ``limit``."""
        if not isinstance(query, str) or not query.strip():
            raise BadQuery("sim log query must name a service, a comma-separated list, or '*'", integration="sim",
                           operation="fetch", target=str(query))
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise BadQuery(f"limit must be a non-negative integer, got {limit!r}", integration="sim",
                           operation="fetch", target=query)
        names = [q.strip() for q in query.split(",") if q.strip()]
        services = list(self.fleet.services) if "*" in names else names
        unknown = [s for s in services if s not in self.fleet.services]
        if unknown:
            raise BadQuery(f"no service(s) {', '.join(unknown)} (services: {', '.join(self.fleet.services)})",
                           integration="sim", operation="fetch", target=query)
        records: list[LogRecord] = []
        for svc in services:
            records.extend(self.fleet.logs(svc, start, end))
        if len(services) > 1:
            records.sort(key=lambda r: r.ts)
        return records[-limit:] if limit else []
