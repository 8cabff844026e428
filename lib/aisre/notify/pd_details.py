"""PagerDuty Events API v2 ``payload.custom_details`` built from an :class:`IncidentReport`.

Plain JSON strings (PagerDuty shows them as text). The Events API rejects payloads over 512 KB;
the report caps keep this far below, and :data:`MAX_DETAILS_CHARS` is a final guard that drops the
longest lists first and says so in ``omitted``.
"""
from __future__ import annotations

import json
from typing import Any

from aisre.notify.report import IncidentReport

MAX_DETAILS_CHARS = 100_000
_DROP_ORDER = ("log_lines", "timeline", "correlated", "evidence", "changes")


def custom_details(r: IncidentReport) -> dict[str, Any]:
    details: dict[str, Any] = {
        "incident_id": r.incident_id,
        "environment": r.environment,
        "service": r.service,
        "severity": r.severity,
        "status": r.status,
        "summary": r.summary,
        "impact": r.impact,
        "key_metrics": [f"{m.service}: {m.text}" for m in r.metrics],
        "diagnosis": dict(r.diagnosis),
        "evidence": list(r.evidence),
        "actions": [f"[{a.label}] {a.time} {a.text}".strip() for a in r.actions],
        "changes": [f"{c.time} {c.text}" + (f" ({c.url})" if c.url else "") for c in r.changes],
        "correlated": [f"{f.time} {f.label}: {f.text}" for f in r.factors],
        "timeline": [f"{t.time} {t.label}: {t.text}" for t in r.timeline],
        "log_lines": [f"{l.label} | {l.text}" for l in r.log_lines],
        "next_steps": list(r.next_steps),
        "links": {l.label: l.url for l in r.links},
        "opened": r.opened,
    }
    if r.chart_url:
        details["chart"] = r.chart_url
    omitted = dict(r.omitted)
    for key in _DROP_ORDER:
        if len(json.dumps(details, ensure_ascii=False)) <= MAX_DETAILS_CHARS:
            break
        omitted[key] = omitted.get(key, 0) + len(details[key])
        details[key] = []
    if omitted:
        details["omitted"] = omitted
    return details
