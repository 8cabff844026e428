"""Vendor values → our models, once, at the edge: points, series keys, times, log levels.

* :func:`clean_points` is the only way a source turns raw ``(ts, value)`` pairs into
  :attr:`aisre.models.Series.points`: non-numeric, NaN and ±inf values are dropped, points are
  sorted by time and duplicate timestamps collapse to the last value seen.
* :func:`series_key` renders ``name{a="x",b="y"}`` with sorted labels: stable across polls and
  across sources, so detector state keyed by it survives restarts.
* :func:`parse_time` reads epoch seconds/milliseconds/nanoseconds or ISO-8601.
* :func:`level_of` reads a log level from vendor fields or, failing that, from the line.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
from typing import Any, Iterable, Mapping

from aisre.errors import ValidationError
from aisre.models import Series


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else ``[]`` (vendor bodies are untrusted)."""
    return value if isinstance(value, list) else []


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else ``{}`` (vendor bodies are untrusted)."""
    return value if isinstance(value, Mapping) else {}


def to_float(value: Any) -> float | None:
    """A finite float, or None for NaN, ±inf, None, booleans and anything unparseable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def clean_points(points: Iterable[Any]) -> tuple[tuple[float, float], ...]:
    """Sorted, finite, one value per timestamp (the last one given wins)."""
    by_ts: dict[float, float] = {}
    for item in points:
        try:
            ts_raw, val_raw = item[0], item[1]
        except (TypeError, IndexError, KeyError):
            continue
        ts, val = to_float(ts_raw), to_float(val_raw)
        if ts is None or val is None:
            continue
        by_ts[ts] = val
    return tuple(sorted(by_ts.items()))


def series_key(name: str, labels: Mapping[str, Any]) -> str:
    """``name{a="x",b="y"}`` with labels sorted by name; just ``name`` without labels."""
    body = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()) if k != "__name__")
    if not body:
        return name or "{}"
    return f"{name}{{{body}}}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def make_series(name: str, labels: Mapping[str, Any], points: Iterable[Any], unit: str = "",
                key: str | None = None) -> Series:
    """A :class:`Series` with cleaned points and string labels (``__name__`` kept as a label)."""
    str_labels = {str(k): str(v) for k, v in labels.items()}
    return Series(key=key or series_key(name, str_labels), labels=str_labels,
                  points=clean_points(points), unit=unit)


_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


def parse_time(value: Any, *, what: str = "timestamp") -> float:
    """Epoch seconds from epoch s/ms/µs/ns (by magnitude) or an ISO-8601 string.

    Raises :class:`aisre.errors.ValidationError` when the value is not a time.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _scale_epoch(float(value), what)
    if isinstance(value, str):
        text = value.strip()
        if _NUMERIC.match(text):
            return _scale_epoch(float(text), what)
        try:
            dt = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValidationError(f"not a time: {value[:60]!r}", what=what) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=_dt.timezone.utc)
        return dt.timestamp()
    raise ValidationError(f"not a time: {value!r}", what=what)


def _scale_epoch(v: float, what: str) -> float:
    if not math.isfinite(v):
        raise ValidationError(f"not a time: {v!r}", what=what)
    a = abs(v)
    if a >= 1e17:
        return v / 1e9       # nanoseconds
    if a >= 1e14:
        return v / 1e6       # microseconds
    if a >= 1e11:
        return v / 1e3       # milliseconds
    return v


def iso_ms(ts: float) -> str:
    """``2026-11-28T02:05:00.123Z`` (millisecond precision), for vendor query bodies."""
    dt = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- logs

_LEVELS = {
    "trace": "debug", "debug": "debug", "dbg": "debug",
    "info": "info", "information": "info", "informational": "info", "notice": "info", "ok": "info",
    "warn": "warning", "warning": "warning",
    "err": "error", "error": "error", "severe": "error",
    "crit": "critical", "critical": "critical", "fatal": "critical", "emerg": "critical",
    "emergency": "critical", "alert": "critical", "panic": "critical",
}
_LEVEL_FIELDS = ("level", "log.level", "severity", "status", "levelname", "loglevel", "lvl",
                 "detected_level", "severity_text")
_LEVEL_WORDS = "TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|ERR|CRITICAL|CRIT|FATAL|PANIC|EMERG"
# upper, lower and Title case spelled out: much faster than re.IGNORECASE on every log line
_LINE_LEVEL = re.compile(r"\b(%s|%s|%s)\b" % (_LEVEL_WORDS, _LEVEL_WORDS.lower(), _LEVEL_WORDS.title()))


def normalise_level(value: Any) -> str:
    """``WARN`` → ``warning``; syslog numbers 0-7 too; ``''`` when unknown."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 7:
        return ["critical", "critical", "critical", "error", "warning", "info", "info", "debug"][value]
    return _LEVELS.get(str(value).strip().lower(), "")


def lookup(doc: Mapping[str, Any], dotted: str) -> Any:
    """``doc['a']['b']`` for ``'a.b'``, also accepting a flat ``doc['a.b']`` key."""
    if dotted in doc:
        return doc[dotted]
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def level_of(fields: Mapping[str, Any] | None = None, line: str = "") -> str:
    """The level a record's fields declare (level/status/severity…), else a level word early in the line."""
    for name in _LEVEL_FIELDS:
        if fields:
            found = normalise_level(lookup(fields, name))
            if found:
                return found
    m = _LINE_LEVEL.search(line[:160])
    return normalise_level(m.group(1)) if m else ""


def json_fields(line: str) -> dict[str, Any] | None:
    """The object if ``line`` is a JSON object (structured logging), else None."""
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None
