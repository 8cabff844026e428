"""Group signals into incidents and attach the changes that may explain them.

Rules (in this order) for a new, not-resolved signal:

1. an open incident already holding a signal with the same fingerprint takes it (dedup: the
   newer observation replaces the older one);
2. else the open incident whose root service is the signal's service takes it;
3. else an open incident that already lists the signal's service takes it;
4. else, among open incidents updated within ``window_s`` whose services share a dependency with
   the signal's service, grouping happens once the pattern is clear - the dependency itself has
   signalled, or at least ``min_dependants`` (3) dependants have: they are folded into ONE incident
   re-rooted on the deepest shared dependency (a database problem showing in five dependants
   becomes one incident whose ``service`` is the database and whose ``services`` list all six).
   Two dependants alone stay separate (a shared database is not proof of a shared cause);
5. else a new incident opens, rooted on the signal's service.

A resolved signal marks its twin in the open incident as recovered; when every signal of an
``open`` or ``escalated`` incident has recovered, the incident resolves itself. Incidents in
``mitigating`` / ``awaiting_approval`` are left to the remediation workflow's verify step.

State lives in the :class:`~aisre.state.StateStore` under ``KEYS['incident']`` (the incident
JSON) and ``KEYS['open_incident']`` (incident fingerprint -> id) so st2 actions on different
nodes share it.

Concurrency limits (documented, tested for the deterministic parts): the store has no
compare-and-swap, so this is *last writer wins* per key. Two mitigations make two agents safe
enough: incident ids are derived from (incident fingerprint, first signal time), so two nodes
opening an incident for the same first signal write the same record; and after claiming the
open-index key the correlator re-reads it and folds its incident into the winner if another
node claimed it in between. Two nodes appending *different* signals to one incident in the
same instant can still lose one signal's attachment (it re-attaches on its next occurrence);
the pack's per-fingerprint concurrency policy serialises ``handle_incident`` to avoid that.
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Callable, Mapping, Sequence

from aisre.correlate.fingerprint import fingerprint, incident_fingerprint
from aisre.correlate.topology import Topology
from aisre.errors import StateError, ValidationError
from aisre.models import (Change, Incident, IncidentStatus, Signal, TimelineEntry, iso,
                          stable_hash)
from aisre.state import StateStore, key

_OPEN_PREFIX = key("open_incident", fingerprint="")
_ACTIVE = (IncidentStatus.OPEN, IncidentStatus.ESCALATED)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChangePolicy:
    """How changes are scored: ``weight * 0.5 ** (age / half_life_s)``; dependencies weigh less."""
    half_life_s: float = 1800.0
    horizon_s: float = 6 * 3600.0
    dependency_weight: float = 0.7
    attach_min_score: float = 0.1
    min_score: float = 0.02
    max_kept: int = 100
    clock_skew_s: float = 60.0


class Correlator:
    """Attach signals to incidents, persist them, and score recent changes.

    >>> from aisre.state import MemoryStore
    >>> c = Correlator(MemoryStore(), dependencies={"checkout": ["db"]})
    """

    def __init__(self, store: StateStore, clock: Callable[[], float] = time.time, window_s: float = 900,
                 dependencies: Mapping[str, Sequence[str]] | None = None, environment: str = "", *,
                 max_signals: int = 50, stale_s: float = 24 * 3600.0, resolved_ttl_s: float = 7 * 86400.0,
                 changes: ChangePolicy | None = None, min_dependants: int = 3) -> None:
        self.store = store
        self.clock = clock
        self.window_s = float(window_s)
        self.topology = Topology(dependencies or {})
        self.environment = environment
        self.max_signals = max_signals
        self.min_dependants = min_dependants
        self.stale_s = stale_s
        self.resolved_ttl_s = resolved_ttl_s
        self.changes = changes or ChangePolicy()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ persistence

    def get(self, incident_id: str) -> Incident | None:
        """The stored incident, or None. A corrupt record raises :class:`StateError`."""
        raw = self.store.get(key("incident", id=incident_id))
        if raw is None:
            return None
        try:
            return Incident.from_json(raw)
        except ValidationError as exc:
            raise StateError(f"stored incident is corrupt: {exc.message}", incident_id=incident_id) from None

    def save(self, incident: Incident) -> Incident:
        """Persist ``incident``; a resolved incident leaves the open index and gets a TTL."""
        with self._lock:
            ttl = self.resolved_ttl_s if incident.status == IncidentStatus.RESOLVED else None
            self.store.set(key("incident", id=incident.id), incident.to_json(), ttl_s=ttl)
            okey = key("open_incident", fingerprint=incident.fingerprint)
            if incident.status == IncidentStatus.RESOLVED:
                if self.store.get(okey) == incident.id:
                    self.store.delete(okey)
            else:
                self.store.set(okey, incident.id)
            return incident

    def open_incidents(self) -> list[Incident]:
        """Every incident the open index points at, oldest first (dangling index keys are dropped)."""
        out = []
        for k in self.store.keys(_OPEN_PREFIX):
            iid = self.store.get(k)
            inc = self.get(iid) if iid else None
            if inc is None or inc.status == IncidentStatus.RESOLVED:
                self.store.delete(k)
                continue
            out.append(inc)
        return sorted(out, key=lambda i: (i.opened_at, i.id))

    def resolve(self, incident_id: str, reason: str) -> Incident:
        """Mark the incident resolved (idempotent). Unknown ids raise :class:`StateError`."""
        with self._lock:
            inc = self.get(incident_id)
            if inc is None:
                raise StateError("no such incident", incident_id=incident_id)
            if inc.status == IncidentStatus.RESOLVED:
                return inc
            return self.save(self._resolved(inc, reason, self.clock()))

    # ------------------------------------------------------------------ signals

    def ingest(self, signal: Signal) -> tuple[Incident, bool]:
        """Attach ``signal`` to an open incident or open one; returns ``(incident, is_new)``.

        A *resolved* signal never opens an incident: it returns the incident it recovered in, or,
        when no open incident holds its fingerprint, an already-``resolved`` record of the orphan
        recovery (stored with the resolved TTL, never in the open index) so callers can always
        read ``incident.status`` and skip it.
        """
        if not signal.service or not signal.name:
            raise ValidationError("signal needs a service and a name", what="Signal", signal_id=signal.id)
        with self._lock:
            now = signal.ts or self.clock()
            open_incs = self._expire_stale(self.open_incidents(), now)
            if signal.resolved:
                found = self._ingest_resolved(signal, open_incs, now)
                return (found if found is not None else self._orphan_recovery(signal, now)), False
            target, root, fold = self._match(signal, open_incs, now)
            if target is None:
                return self._open(signal, now), True
            inc = self._attach(target, signal, now)
            for other in fold:  # several dependants' incidents become one once the pattern is clear
                inc = self._merge(inc, other, now)
                self.save(self._resolved(other, f"merged into {inc.id}", now))
            if root != inc.service:
                inc = self._reroot(inc, root, open_incs, now)
            return self.save(inc), False

    def _match(self, signal: Signal, open_incs: list[Incident], now: float
               ) -> tuple[Incident | None, str, list[Incident]]:
        """``(incident to attach to, its root service, other incidents to fold into it)``."""
        sfp = fingerprint(signal, self.environment)
        for inc in open_incs:
            if any(fingerprint(s, self.environment) == sfp for s in inc.signals):
                return inc, inc.service, []
        for inc in open_incs:
            if inc.service == signal.service:
                return inc, inc.service, []
        for inc in sorted(open_incs, key=lambda i: i.updated_at, reverse=True):
            if signal.service in inc.services:
                return inc, inc.service, []
        # dependency grouping: incidents in the window that share a dependency with this service
        groups: dict[str, list[Incident]] = {}
        for inc in sorted(open_incs, key=lambda i: (i.opened_at, i.id)):
            if now - inc.updated_at > self.window_s:
                continue
            root = self.topology.common_root([*inc.services, signal.service])
            if root is not None:
                groups.setdefault(root, []).append(inc)
        for root, members in sorted(groups.items(), key=lambda kv: kv[1][0].opened_at):
            services = {signal.service, *(x for inc in members for x in inc.services)}
            root_signalled = root == signal.service or any(s.service == root for inc in members for s in inc.signals)
            if root_signalled or len(services - {root}) >= self.min_dependants:
                return members[0], root, members[1:]
        return None, signal.service, []

    def _open(self, signal: Signal, now: float) -> Incident:
        ifp = incident_fingerprint(signal.service, self.environment)
        iid = "inc-" + stable_hash(ifp, signal.onset_ts or signal.ts or now, length=12)
        previous = self.get(iid)
        if previous is not None and previous.status == IncidentStatus.RESOLVED:
            # the same anomaly (same onset) seen again after its incident closed: a new incident,
            # never the closed one overwritten (its diagnosis, actions and timeline are the record)
            iid = "inc-" + stable_hash(ifp, signal.onset_ts or signal.ts or now, now, length=12)
        inc = Incident(id=iid, fingerprint=ifp, service=signal.service, opened_at=now, updated_at=now,
                       environment=self.environment, services=(signal.service,), signals=(signal,),
                       timeline=(TimelineEntry(ts=now, kind="detected", text=_signal_line(signal),
                                               data={"signal_id": signal.id}),))
        inc = self._attach_changes(inc, now)
        self.save(inc)
        winner = self.store.get(key("open_incident", fingerprint=ifp))
        if winner and winner != iid:  # another node claimed the fingerprint meanwhile: fold into it
            other = self.get(winner)
            if other is not None and other.status != IncidentStatus.RESOLVED:
                merged = self._merge(other, inc, now)
                self.store.delete(key("incident", id=iid))
                return self.save(merged)
        return inc

    def _attach(self, inc: Incident, signal: Signal, now: float) -> Incident:
        sfp = fingerprint(signal, self.environment)
        kept = [s for s in inc.signals if fingerprint(s, self.environment) != sfp]
        repeat = len(kept) != len(inc.signals)
        signals = (*kept, signal)[-self.max_signals:]
        services = inc.services if signal.service in inc.services else (*inc.services, signal.service)
        entry = TimelineEntry(ts=now, kind="correlated",
                              text=("repeat: " if repeat else "") + _signal_line(signal),
                              data={"signal_id": signal.id, "repeat": repeat})
        inc = dataclasses.replace(inc, signals=signals, services=services, updated_at=max(inc.updated_at, now),
                                  timeline=(*inc.timeline, entry) if not repeat else
                                  _replace_last_repeat(inc.timeline, entry, signal))
        return self._attach_changes(inc, now)

    def _reroot(self, inc: Incident, root: str, open_incs: list[Incident], now: float) -> Incident:
        old_key = key("open_incident", fingerprint=inc.fingerprint)
        new_fp = incident_fingerprint(root, self.environment)
        services = inc.services if root in inc.services else (root, *inc.services)
        entry = TimelineEntry(ts=now, kind="correlated",
                              text=f"grouped under shared dependency {root} ({', '.join(services)})",
                              data={"root": root, "previous_root": inc.service})
        rerooted = dataclasses.replace(inc, service=root, fingerprint=new_fp, services=services,
                                       timeline=(*inc.timeline, entry))
        if self.store.get(old_key) == inc.id:
            self.store.delete(old_key)
        existing = next((o for o in open_incs if o.fingerprint == new_fp and o.id != inc.id), None)
        if existing is not None:
            merged = self._merge(existing, rerooted, now)
            self.store.delete(key("incident", id=inc.id))
            return merged
        return rerooted

    def _merge(self, into: Incident, other: Incident, now: float) -> Incident:
        ids = {s.id for s in into.signals}
        signals = (*into.signals, *(s for s in other.signals if s.id not in ids))[-self.max_signals:]
        services = tuple(dict.fromkeys((*into.services, *other.services)))
        cids = {c.id for c in into.changes}
        changes = (*into.changes, *(c for c in other.changes if c.id not in cids))
        entry = TimelineEntry(ts=now, kind="correlated", text=f"merged incident {other.id} into {into.id}",
                              data={"merged": other.id})
        return dataclasses.replace(into, signals=signals, services=services, changes=changes,
                                   updated_at=max(into.updated_at, other.updated_at, now),
                                   opened_at=min(into.opened_at, other.opened_at),
                                   timeline=tuple(sorted((*into.timeline, *other.timeline, entry),
                                                         key=lambda e: e.ts)))

    def _ingest_resolved(self, signal: Signal, open_incs: list[Incident], now: float) -> Incident | None:
        sfp = fingerprint(signal, self.environment)
        for inc in open_incs:
            if not any(fingerprint(s, self.environment) == sfp for s in inc.signals):
                continue
            signals = tuple(dataclasses.replace(s, resolved=True)
                            if fingerprint(s, self.environment) == sfp else s for s in inc.signals)
            entry = TimelineEntry(ts=now, kind="correlated", text=f"recovered: {signal.service} {signal.name}",
                                  data={"signal_id": signal.id, "resolved": True})
            inc = dataclasses.replace(inc, signals=signals, updated_at=max(inc.updated_at, now),
                                      timeline=(*inc.timeline, entry))
            if inc.status in _ACTIVE and all(s.resolved for s in inc.signals):
                inc = self._resolved(inc, "every signal recovered", now)
            return self.save(inc)
        return None

    def _orphan_recovery(self, signal: Signal, now: float) -> Incident:
        ifp = incident_fingerprint(signal.service, self.environment)
        inc = Incident(id="inc-" + stable_hash(ifp, "recovery", signal.id, length=12), fingerprint=ifp,
                       service=signal.service, status=IncidentStatus.RESOLVED, opened_at=now, updated_at=now,
                       resolved_at=now, environment=self.environment, services=(signal.service,), signals=(signal,),
                       timeline=(TimelineEntry(ts=now, kind="resolved",
                                               text=f"recovery of {signal.service} {signal.name} with no open incident",
                                               data={"signal_id": signal.id}),))
        return self.save(inc)

    def _expire_stale(self, open_incs: list[Incident], now: float) -> list[Incident]:
        alive = []
        for inc in open_incs:
            if inc.status in _ACTIVE and now - inc.updated_at > self.stale_s:
                self.save(self._resolved(inc, f"stale: no signal for {int(now - inc.updated_at)} s", now))
            else:
                alive.append(inc)
        return alive

    @staticmethod
    def _resolved(inc: Incident, reason: str, now: float) -> Incident:
        return dataclasses.replace(inc, status=IncidentStatus.RESOLVED, resolved_at=now, updated_at=now,
                                   timeline=(*inc.timeline, TimelineEntry(ts=now, kind="resolved", text=reason)))

    # ------------------------------------------------------------------ changes

    def add_change(self, change: Change) -> list[Incident]:
        """Remember ``change`` for its service and attach it to that service's open incidents.

        Returns the incidents it was attached to (already saved).
        """
        if not change.service:
            raise ValidationError("change needs a service", what="Change", change_id=change.id)
        with self._lock:
            k = key("changes", service=change.service)
            kept = [c for c in self._load_changes(change.service) if c.id != change.id]
            now = self.clock()
            kept = [c for c in kept if now - c.ts <= self.changes.horizon_s]
            kept.append(change)
            kept = sorted(kept, key=lambda c: c.ts)[-self.changes.max_kept:]
            self.store.set(k, json.dumps([c.to_dict() for c in kept], sort_keys=True))
            touched = []
            for inc in self.open_incidents():
                if change.service in inc.services and all(c.id != change.id for c in inc.changes):
                    entry = TimelineEntry(ts=now, kind="correlated", text=_change_line(change),
                                          data={"change_id": change.id})
                    touched.append(self.save(dataclasses.replace(
                        inc, changes=(*inc.changes, change), timeline=(*inc.timeline, entry))))
            return touched

    def recent_changes(self, service: str, now: float | None = None) -> list[tuple[Change, float]]:
        """Changes to ``service`` or what it depends on, with a score that halves every ``half_life_s``.

        Changes later than ``now`` (beyond clock skew) are excluded: they cannot explain what
        happened at ``now``. Sorted by score, best first.
        """
        now = self.clock() if now is None else now
        pol = self.changes
        scored: list[tuple[Change, float]] = []
        for svc in sorted(self.topology.closure(service)):
            weight = 1.0 if svc == service else pol.dependency_weight
            for c in self._load_changes(svc):
                age = now - c.ts
                if age < -pol.clock_skew_s or age > pol.horizon_s:
                    continue
                score = weight * 0.5 ** (max(age, 0.0) / pol.half_life_s)
                if score >= pol.min_score:
                    scored.append((c, round(score, 4)))
        return sorted(scored, key=lambda cs: (-cs[1], cs[0].id))

    def _load_changes(self, service: str) -> list[Change]:
        raw = self.store.get(key("changes", service=service))
        if not raw:
            return []
        try:
            return [Change.from_dict(d) for d in json.loads(raw)]
        except (ValueError, ValidationError, TypeError):
            return []  # a corrupt change list only loses hints, never an incident

    def _attach_changes(self, inc: Incident, now: float) -> Incident:
        onset = min((s.onset_ts or s.ts for s in inc.signals), default=now) or now
        have = {c.id for c in inc.changes}
        new: list[Change] = []
        for svc in inc.services:
            for c, score in self.recent_changes(svc, now=onset):
                if c.id not in have and score >= self.changes.attach_min_score:
                    have.add(c.id)
                    new.append(c)
        if not new:
            return inc
        entries = tuple(TimelineEntry(ts=now, kind="correlated", text=_change_line(c), data={"change_id": c.id})
                        for c in new)
        return dataclasses.replace(inc, changes=(*inc.changes, *new), timeline=(*inc.timeline, *entries))


def _signal_line(s: Signal) -> str:
    val = "" if s.value is None else f" value {s.value:g}"
    exp = "" if s.expected is None else f" (expected {s.expected:g})"
    return f"{s.severity.value} {s.kind} {s.source}:{s.name} on {s.service}{val}{exp}"


def _change_line(c: Change) -> str:
    ver = f" {c.previous_version or '?'} -> {c.version}" if c.version else ""
    return f"change {c.kind} on {c.service}{ver} at {iso(c.ts)} ({c.source or 'unknown source'})"


def _replace_last_repeat(timeline: tuple[TimelineEntry, ...], entry: TimelineEntry,
                         signal: Signal) -> tuple[TimelineEntry, ...]:
    """Repeats of one signal keep a single, updated timeline line instead of thousands."""
    for i in range(len(timeline) - 1, -1, -1):
        t = timeline[i]
        if t.kind == "correlated" and t.data.get("repeat") and t.data.get("signal_key") == _skey(signal):
            count = int(t.data.get("count", 1)) + 1
            return (*timeline[:i], *timeline[i + 1:], dataclasses.replace(
                entry, data={**entry.data, "signal_key": _skey(signal), "count": count}))
    return (*timeline, dataclasses.replace(entry, data={**entry.data, "signal_key": _skey(signal), "count": 1}))


def _skey(s: Signal) -> str:
    return "/".join(s.fingerprint_fields())


