"""Learning from resolved incidents.

* :func:`record_incident` turns a closed :class:`~aisre.models.Incident` into a ``kind: incident`` entry
  (symptoms, what fixed it, outcome, when, by whom) and stores it in the incidents collection, so the next
  similar incident retrieves it ("similar past incident ... fixed by ...").
* A runbook whose fix failed gets a failure count and is flagged for review (:func:`runbook_health`).
  The incidents collection is the source of truth; with a :class:`~aisre.state.StateStore` the counters
  are also kept under ``aisre.knowledge.runbook.<id>`` for cheap lookups by the policy layer.
* :func:`unmatched_report` groups recorded incidents that matched no runbook - candidates for new runbooks.

Incident text (signal summaries, log samples) is untrusted: it is stored only as searchable description,
bounded in length, and never becomes an action or a parameter.
"""
from __future__ import annotations

import dataclasses
import re
import time
from typing import Any, Iterable, Mapping

from aisre.errors import ValidationError
from aisre.knowledge.schema import KNOWN_ACTIONS, METRIC_VOCABULARY
from aisre.knowledge.store import KnowledgeStore, entries_from, to_doc
from aisre.models import (ActionStatus, Escalation, Incident, MetricPattern, Runbook, RunbookAction, Safety,
                          Symptoms, iso, stable_hash)
from aisre.state import StateStore, get_json, set_json

OUTCOMES = ("resolved", "mitigated", "failed", "escalated")
STATS_KEY = "aisre.knowledge.runbook.{id}"
MAX_TEXT = 300


@dataclasses.dataclass(frozen=True)
class RunbookHealth:
    """How a runbook's fixes have fared in recorded incidents."""
    runbook_id: str
    successes: int = 0
    failures: int = 0
    incidents: tuple[str, ...] = ()
    last_outcome: str = ""

    @property
    def flagged_for_review(self) -> bool:
        """Any failed fix flags the runbook for review (a human clears it by fixing the runbook)."""
        return self.failures > 0

    def to_dict(self) -> dict[str, Any]:
        return {"runbook_id": self.runbook_id, "successes": self.successes, "failures": self.failures,
                "incidents": list(self.incidents), "last_outcome": self.last_outcome,
                "flagged_for_review": self.flagged_for_review}


def _clip(text: str, n: int = MAX_TEXT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _entry_id(incident_id: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", incident_id.lower()).strip("-._") or "unknown"
    return ("inc-" + slug)[:80]


def incident_entry(incident: Incident, outcome: str, *, resolved_by: str = "aisre",
                   runbooks: Mapping[str, Runbook] | None = None, now: float | None = None) -> Runbook:
    """Build the ``kind: incident`` knowledge entry for a closed incident (pure; nothing is stored)."""
    if outcome not in OUTCOMES:
        raise ValidationError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}",
                              what="incident outcome", path="outcome")
    diag = incident.diagnosis
    runbook_id = diag.runbook_id if diag and diag.runbook_id else ""
    linked = (runbooks or {}).get(runbook_id) if runbook_id else None
    metrics: list[MetricPattern] = []
    signatures: list[str] = []
    alerts: list[str] = []
    lines: list[str] = []
    for s in incident.signals[:20]:
        if s.kind == "metric" and s.name in METRIC_VOCABULARY:
            cond = f"{s.value:g} (expected {s.expected:g})" if s.value is not None and s.expected is not None else ""
            pat = MetricPattern(metric=s.name, condition=cond, anomaly_class=s.anomaly_class)
            if pat not in metrics:
                metrics.append(pat)
        if s.signature and _clip(s.signature, 200) not in signatures:
            signatures.append(_clip(s.signature, 200))
        if s.kind == "alert" and s.name and _clip(s.name, 200) not in alerts:
            alerts.append(_clip(s.name, 200))
        if s.summary:
            lines.append(_clip(s.summary))
    fixes: list[RunbookAction] = []
    done: list[str] = []
    for a in incident.actions:
        done.append(f"{a.action} {a.status.value}")
        if a.status is ActionStatus.SUCCEEDED and a.action in KNOWN_ACTIONS and not any(f.action == a.action for f in fixes):
            declared = linked.action(a.action) if linked else None
            fixes.append(RunbookAction(action=a.action, params=dict(declared.params) if declared else {},
                                       safety=declared.safety if declared and declared.safety else Safety.CAUTION,
                                       description=f"applied in incident {incident.id}"))
    when = incident.resolved_at or now or time.time()
    summary = _clip(diag.summary if diag else "", 400)
    cause = _clip(diag.suspected_cause, 400) if diag and diag.suspected_cause else ""
    fix_text = "; ".join(done) if done else "no automated action"
    names = ", ".join(sorted({s.name for s in incident.signals if s.name}))
    title = _clip(summary or (f"{incident.service}: {names}" if names else f"incident {incident.id}"), 200)
    tags = [f"outcome:{outcome}", "recorded"]
    tags.append(f"runbook:{runbook_id}" if runbook_id else "unmatched")
    body = dict(
        id=_entry_id(incident.id), title=title, kind="incident",
        description=_clip(" ".join(x for x in [summary, cause, *lines[:5]] if x), 2000),
        symptoms=Symptoms(metrics=tuple(metrics), log_signatures=tuple(signatures), alerts=tuple(alerts)),
        services=tuple(dict.fromkeys((incident.service, *incident.services))),
        tags=tuple(tags),
        diagnosis=(f"Fix ({outcome}, {iso(when)}, by {_clip(resolved_by, 80)}): {fix_text}",),
        actions=tuple(fixes),
        escalation=linked.escalation if linked else Escalation(),
        auto_remediate=False,
        source_path=f"incident:{incident.id}",
    )
    draft = Runbook(**body)
    return dataclasses.replace(draft, content_hash=stable_hash(draft.to_dict()))


def record_incident(incident: Incident, outcome: str, store: KnowledgeStore, *, state: StateStore | None = None,
                    retriever: Any = None, resolved_by: str = "aisre", now: float | None = None) -> Runbook:
    """Store a closed incident as knowledge and update its runbook's health; returns the stored entry.

    Idempotent per incident id: recording the same incident again replaces its entry and does not count
    its outcome twice. With ``retriever`` the entry is searchable immediately.
    """
    runbooks = {e.id: e for e in retriever.entries} if retriever is not None else None
    entry = incident_entry(incident, outcome, resolved_by=resolved_by, runbooks=runbooks, now=now)
    store.incidents.upsert([to_doc(entry)])
    if retriever is not None:
        retriever.add([entry])
    runbook_id = incident.diagnosis.runbook_id if incident.diagnosis else None
    if state is not None and runbook_id:
        key = STATS_KEY.format(id=runbook_id)
        stats = get_json(state, key, default={}) or {}
        seen = list(stats.get("incidents", []))
        if incident.id not in seen:
            seen = (seen + [incident.id])[-200:]
            stats["failures"] = int(stats.get("failures", 0)) + (1 if outcome == "failed" else 0)
            stats["successes"] = int(stats.get("successes", 0)) + (1 if outcome in ("resolved", "mitigated") else 0)
        stats.update(runbook_id=runbook_id, incidents=seen, last_outcome=outcome)
        stats["flagged_for_review"] = int(stats.get("failures", 0)) > 0
        set_json(state, key, stats)
    return entry


def runbook_health(store: KnowledgeStore | None = None, state: StateStore | None = None,
                   runbook_id: str | None = None) -> dict[str, RunbookHealth]:
    """Per-runbook success/failure counts: from ``state`` when given, else counted from the incidents collection."""
    out: dict[str, RunbookHealth] = {}
    if state is not None:
        prefix = STATS_KEY.format(id="")
        for k in state.keys(prefix):
            rid = k[len(prefix):]
            if runbook_id and rid != runbook_id:
                continue
            d = get_json(state, k, default={}) or {}
            out[rid] = RunbookHealth(rid, int(d.get("successes", 0)), int(d.get("failures", 0)),
                                     tuple(d.get("incidents", ())), str(d.get("last_outcome", "")))
        return out
    if store is None:
        return out
    for e in entries_from(store.incidents):
        rid = next((t.split(":", 1)[1] for t in e.tags if t.startswith("runbook:")), "")
        outcome = next((t.split(":", 1)[1] for t in e.tags if t.startswith("outcome:")), "")
        if not rid or (runbook_id and rid != runbook_id):
            continue
        h = out.get(rid, RunbookHealth(rid))
        out[rid] = RunbookHealth(rid, h.successes + (outcome in ("resolved", "mitigated")),
                                 h.failures + (outcome == "failed"), h.incidents + (e.id,), outcome)
    return out


@dataclasses.dataclass(frozen=True)
class UnmatchedGroup:
    """Recorded incidents with the same shape (service and symptom names) that no runbook matched."""
    key: str
    count: int
    incident_ids: tuple[str, ...]
    services: tuple[str, ...]
    symptoms: tuple[str, ...]
    example: str


@dataclasses.dataclass(frozen=True)
class UnmatchedReport:
    groups: tuple[UnmatchedGroup, ...] = ()

    @property
    def total(self) -> int:
        return sum(g.count for g in self.groups)

    def to_markdown(self) -> str:
        if not self.groups:
            return "No unmatched incidents recorded."
        rows = ["| incidents | services | symptoms | example |", "| --- | --- | --- | --- |"]
        for g in self.groups:
            rows.append(f"| {g.count} | {', '.join(g.services)} | {', '.join(g.symptoms) or '-'} | "
                        f"{g.example.replace('|', '/')} |")
        return "Incidents no runbook matched (candidates for new runbooks):\n\n" + "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "groups": [dataclasses.asdict(g) for g in self.groups]}


def unmatched_report(store: KnowledgeStore, *, min_count: int = 1,
                     entries: Iterable[Runbook] | None = None) -> UnmatchedReport:
    """Group recorded incidents tagged ``unmatched`` by service and symptom names, most frequent first."""
    groups: dict[str, list[Runbook]] = {}
    for e in (entries if entries is not None else entries_from(store.incidents)):
        if "unmatched" not in e.tags:
            continue
        names = sorted({m.metric for m in e.symptoms.metrics} | set(e.symptoms.alerts) | set(e.symptoms.log_signatures))
        key = stable_hash(sorted(e.services), names, length=12)
        groups.setdefault(key, []).append(e)
    out = []
    for key, members in groups.items():
        if len(members) < min_count:
            continue
        first = members[0]
        names = sorted({m.metric for m in first.symptoms.metrics} | set(first.symptoms.alerts)
                       | set(first.symptoms.log_signatures))
        out.append(UnmatchedGroup(key=key, count=len(members), incident_ids=tuple(m.id for m in members),
                                  services=tuple(sorted({s for m in members for s in m.services})),
                                  symptoms=tuple(names), example=_clip(first.title, 160)))
    out.sort(key=lambda g: (-g.count, g.key))
    return UnmatchedReport(tuple(out))

