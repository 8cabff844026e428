"""Replay metrics from a CSV file ``ts,series,value`` (drills, backtests, shadow runs on exports).

* ``ts`` is epoch seconds (or ms/µs/ns, by magnitude) or ISO-8601 (``2026-11-28T02:05:00Z``).
* ``series`` is any name; ``service:metric`` names also yield ``service`` and ``metric`` labels.
* A header row (``ts,series,value``) is optional; extra columns are ignored.
* Rows that cannot be read (bad time, missing column) are counted in :attr:`CsvReplaySource.skipped_rows`
  and logged once per read; empty and non-finite values are dropped like any NaN.

``query`` selects series: ``""`` or ``"*"`` = all, otherwise an exact name or a glob
(``checkout:*``). The file is streamed on each call (never held in memory whole) and only points
inside ``[start, end]`` are kept. The series key is the ``series`` column itself.
"""
from __future__ import annotations

import csv
import fnmatch
import logging
import os
from typing import Any

from aisre.errors import BadQuery, SourceDown, ValidationError
from aisre.models import Series
from aisre.sources.normalize import make_series, parse_time

log = logging.getLogger(__name__)


class CsvReplaySource:
    """Metric source reading a ``ts,series,value`` CSV file."""

    name = "csv"

    def __init__(self, path: str) -> None:
        self.path = path
        self.skipped_rows = 0

    def query_range(self, query: str, start: float, end: float, step_s: float = 60) -> list[Series]:
        if end < start:
            raise BadQuery(f"end ({end}) is before start ({start})", integration="csv", operation="query_range",
                           target=self.path)
        q = (query or "").strip()
        match = (lambda name: True) if q in ("", "*") else (
            (lambda name: fnmatch.fnmatchcase(name, q)) if any(c in q for c in "*?[") else (lambda name: name == q))
        points: dict[str, list[tuple[float, Any]]] = {}
        skipped = 0
        try:
            fh = open(self.path, newline="", encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise SourceDown(f"CSV replay file not found: {self.path}", integration="csv",
                             operation="query_range", target=self.path) from None
        except OSError as exc:
            raise SourceDown(f"cannot read CSV replay file: {exc}", integration="csv", operation="query_range",
                             target=self.path) from None
        with fh:
            for lineno, row in enumerate(csv.reader(fh), start=1):
                if not row or (len(row) == 1 and not row[0].strip()) or row[0].lstrip().startswith("#"):
                    continue
                if lineno == 1 and row[0].strip().lower() in ("ts", "time", "timestamp"):
                    continue
                if len(row) < 3:
                    skipped += 1
                    continue
                name = row[1].strip()
                if not match(name):
                    continue
                try:
                    ts = parse_time(row[0], what="csv ts")
                except ValidationError:
                    skipped += 1
                    continue
                if start <= ts <= end:
                    points.setdefault(name, []).append((ts, row[2].strip()))
        self.skipped_rows = skipped
        if skipped:
            log.warning("csv replay %s: %d unreadable row(s) skipped", os.path.basename(self.path), skipped)
        out = []
        for name in sorted(points):
            service, sep, metric = name.partition(":")
            labels = {"series": name, **({"service": service, "metric": metric} if sep else {})}
            out.append(make_series(name, labels, points[name], key=name))
        return out
