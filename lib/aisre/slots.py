"""Fill a runbook action's open parameters (``"{{ flag }}"``) from the incident's own evidence.

A runbook cannot know which flag, node, zone or config key an incident is about; the incident does:
the change records attached to it and the log lines its signals sampled. :func:`fill` replaces each
open slot with a value read from that evidence, and reports the slots it could not fill — a request
with an open slot is never sent (the registry would refuse it as forbidden); a human decides instead.

Only plain identifiers are ever filled in (``[A-Za-z0-9][A-Za-z0-9_.:-]*``, at most 128 characters),
so hostile text in a log line cannot become a parameter value.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

from aisre.models import Change, Incident

_SLOT = re.compile(r"^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")
_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_ZONE = re.compile(r"\b([a-z]{2}-[a-z]+-\d[a-z])\b")
_NODE = re.compile(r"\bnode[:=\s]+\"?([a-z0-9][a-z0-9.-]{2,252})\b")
_PID = re.compile(r"\bpid[=:\s]+(\d{1,9})\b")
_FLAG_IN_LOG = re.compile(r"\bflag[:=\s]+([A-Za-z0-9][A-Za-z0-9_.:-]*?)(?:=|\s|\)|$)")
_LEAD_NAME = re.compile(r"^\s*(?:flag\s+|key\s+)?([A-Za-z0-9][A-Za-z0-9_.:-]*?)\s*(?::|=|\s->|\s)")
_NOT_NAMES = {"status", "is", "the", "on", "off", "true", "false", "none", "null"}


def slot_name(value: Any) -> str | None:
    """``"{{ flag }}"`` -> ``"flag"``; anything else -> None."""
    if not isinstance(value, str):
        return None
    m = _SLOT.match(value)
    return m.group(1) if m else None


def open_slots(params: Mapping[str, Any]) -> list[str]:
    """Parameter keys whose value is still an unfilled ``{{ slot }}`` (or any ``{{`` template text)."""
    return [k for k, v in params.items() if isinstance(v, str) and "{{" in v]


def _changes(incident: Incident, service: str, kinds: tuple[str, ...]) -> list[Change]:
    found = [c for c in incident.changes if c.kind in kinds and c.service in (service, incident.service)]
    return sorted(found, key=lambda c: c.ts, reverse=True)


def _name_from_change(c: Change) -> str | None:
    """The flag or key a change is about: ``version="name=on"`` (webhooks) or the description's lead name."""
    for text in (c.version, c.previous_version):
        if text and "=" in text:
            name = text.split("=", 1)[0].strip()
            if _IDENT.match(name):
                return name
    m = _LEAD_NAME.match(c.description or "")
    if m and m.group(1).lower() not in _NOT_NAMES:
        return m.group(1)
    return None


def _samples(incident: Incident, service: str) -> Iterable[str]:
    own = [s for s in incident.signals if s.service == service]
    rest = [s for s in incident.signals if s.service != service]
    for s in sorted(own, key=lambda s: s.ts, reverse=True) + sorted(rest, key=lambda s: s.ts, reverse=True):
        yield from (x for x in s.samples if isinstance(x, str))


def _from_evidence(incident: Incident, service: str, name: str) -> str | None:
    for s in sorted(incident.signals, key=lambda s: (s.service != service, -s.ts)):
        for bag in (s.labels, s.evidence if isinstance(s.evidence, Mapping) else {}):
            v = bag.get(name)
            if isinstance(v, (str, int)) and not isinstance(v, bool):
                return str(v)
    return None


def _first_match(rx: re.Pattern[str], texts: Iterable[str]) -> str | None:
    for t in texts:
        for m in rx.finditer(t[:2000]):
            if m.group(1).lower() not in _NOT_NAMES:
                return m.group(1)
    return None


def _flag(incident: Incident, service: str) -> str | None:
    for c in _changes(incident, service, ("feature_flag",)):
        if (name := _name_from_change(c)):
            return name
    return _first_match(_FLAG_IN_LOG, _samples(incident, service))


def _key(incident: Incident, service: str) -> str | None:
    for c in _changes(incident, service, ("config",)):
        if (name := _name_from_change(c)):
            return name
    return None


FINDERS: dict[str, Callable[[Incident, str], str | None]] = {
    "flag": _flag,
    "key": _key,
    "node": lambda inc, svc: _first_match(_NODE, _samples(inc, svc)),
    "zone": lambda inc, svc: _first_match(_ZONE, _samples(inc, svc)),
    "pid": lambda inc, svc: _first_match(_PID, _samples(inc, svc)),
}


def find(name: str, incident: Incident, service: str) -> str | None:
    """The value of slot ``name`` for ``service`` from the incident's evidence, or None."""
    value = _from_evidence(incident, service, name)
    if value is None and name in FINDERS:
        value = FINDERS[name](incident, service)
    if value is None or not _IDENT.match(value):
        return None
    return value


def fill(params: Mapping[str, Any], incident: Incident, service: str) -> tuple[dict[str, Any], list[str]]:
    """``params`` with every ``{{ slot }}`` the evidence names filled in, and the keys still open."""
    out = dict(params)
    for k, v in params.items():
        name = slot_name(v)
        if name is None:
            continue
        value = find(name, incident, service)
        if value is not None:
            out[k] = int(value) if name == "pid" else value
    return out, open_slots(out)


__all__ = ["FINDERS", "fill", "find", "open_slots", "slot_name"]
