"""Deterministic incidents for the notify tests and golden files (no clock, no randomness).

``checkout_incident()`` - a memory leak on checkout, restarted once, then escalated.
``hostile_incident()`` - the same with attacker-controlled text everywhere it can come from outside.
``huge_incident()`` - 100 signals with 10 KB log lines, for Slack/Jira limits.
"""
from __future__ import annotations

import dataclasses

import pytest

from aisre.models import (ActionResult, ActionStatus, AnomalyClass, AuditRecord, Change, Check, Classification,
                          Diagnosis, Incident, IncidentStatus, Severity, Signal, TimelineEntry)

T0 = 1795828500.0  # 2026-11-28T01:15:00Z
LINKS = {"dashboard": "https://grafana.example.com/d/checkout", "logs": "https://logs.example.com/q?svc=checkout",
         "runbook": "https://wiki.example.com/runbooks/memory-leak"}


def checkout_incident(status: IncidentStatus = IncidentStatus.ESCALATED) -> Incident:
    mem = Signal(id="sig-mem", kind="metric", source="prometheus", service="checkout", name="memory_pct",
                 summary="memory_pct 97.2 above band 55.0-67.0", severity=Severity.CRITICAL, ts=T0 + 240,
                 onset_ts=T0, value=97.2, expected=61.0, lower=55.0, upper=67.0, score=0.998,
                 anomaly_class=AnomalyClass.TREND, exhaustion_ts=T0 + 1500)
    oom = Signal(id="sig-oom", kind="log", source="files", service="checkout", name="OutOfMemoryError",
                 summary="java.lang.OutOfMemoryError: Java heap space (12 in 5 min)", severity=Severity.ERROR,
                 ts=T0 + 300, onset_ts=T0 + 280, signature="oom",
                 samples=("2026-11-28T01:19:40Z ERROR [http-nio-8080-exec-7] java.lang.OutOfMemoryError: Java heap space",
                          "2026-11-28T01:19:41Z ERROR [http-nio-8080-exec-2] c.e.checkout.CartService - request failed"))
    lat = Signal(id="sig-lat", kind="metric", source="prometheus", service="frontend", name="p95_latency_ms",
                 summary="frontend p95 latency 930 ms, expected 410 ms", severity=Severity.WARNING, ts=T0 + 320,
                 onset_ts=T0 + 200, value=930.0, expected=410.0, lower=350.0, upper=480.0, score=0.97)
    deploy = Change(id="chg-1", service="checkout", kind="deploy", source="argocd", ts=T0 - 3600, version="v2.14.0",
                    previous_version="v2.13.2", commit="4f2a9c1", author="dana",
                    diff_url="https://github.com/example/checkout/compare/v2.13.2...v2.14.0",
                    description="cart cache moved in-process")
    diag = Diagnosis(classification=Classification.KNOWN, severity=Severity.CRITICAL,
                     summary="Memory leak in checkout after the v2.14.0 deploy",
                     suspected_cause="The in-process cart cache added in v2.14.0 grows without bound.",
                     evidence=("memory_pct rose linearly from 58 to 97 since 01:15",
                               "OutOfMemoryError x12 in the last 5 minutes",
                               "deploy v2.14.0 one hour before onset"),
                     runbook_id="memory-leak-restart", proposed_action="restart_deployment", confidence=0.82,
                     next_steps=("Roll back checkout to v2.13.2.", "Open a bug for the cart cache."),
                     analyst="offline", impact="Checkout requests fail for about 8% of users; frontend p95 latency up.")
    restart = ActionResult(action="restart_deployment", service="checkout", status=ActionStatus.SUCCEEDED,
                           target="deployment/checkout (shop)", started_at=T0 + 360, finished_at=T0 + 420,
                           detail="rollout restarted, 3/3 pods ready",
                           verify=Check(ok=False, detail="memory_pct back to 93 after 5 minutes"))
    timeline = (
        TimelineEntry(ts=T0 + 240, kind="detected", text="memory_pct trend on checkout (score 0.998)"),
        TimelineEntry(ts=T0 + 300, kind="correlated", text="OutOfMemoryError logs and frontend latency joined"),
        TimelineEntry(ts=T0 + 330, kind="diagnosed", text="known: memory-leak-restart (confidence 0.82)"),
        TimelineEntry(ts=T0 + 360, kind="acted", text="restart_deployment checkout"),
        TimelineEntry(ts=T0 + 720, kind="verified", text="verify failed: memory_pct 93"),
        TimelineEntry(ts=T0 + 780, kind="escalated", text="paged on-call after 1 failed attempt"),
    )
    resolved_at = T0 + 2400 if status == IncidentStatus.RESOLVED else None
    if resolved_at:
        timeline += (TimelineEntry(ts=T0 + 1800, kind="human", text="dana rolled back to v2.13.2"),
                     TimelineEntry(ts=resolved_at, kind="resolved", text="memory_pct 58, OOM errors stopped"))
    return Incident(id="inc-20261128-0115-checkout", fingerprint="3f9c2a7b1d4e6f80", service="checkout",
                    status=status, opened_at=T0 + 240, updated_at=T0 + 780, resolved_at=resolved_at,
                    environment="production", services=("checkout", "frontend"), signals=(mem, oom, lat),
                    changes=(deploy,), diagnosis=diag, actions=(restart,), attempts=1, timeline=timeline,
                    escalated_at=T0 + 780)


HOSTILE = ("<!channel> @here @everyone <script>alert(1)</script> <https://evil.example|click> "
           "{code}x{code} [phish|https://evil.example] *bold* _it_ ![img](https://evil.example/x.png) "
           "\x1b[31mRED\x1b[0m \x07 | table | `tick`")


def hostile_incident() -> Incident:
    inc = checkout_incident()
    sigs = tuple(dataclasses.replace(s, summary=HOSTILE, name=s.name + " " + HOSTILE[:40],
                                     samples=tuple(HOSTILE for _ in s.samples) or (HOSTILE,))
                 for s in inc.signals)
    diag = dataclasses.replace(inc.diagnosis, summary=HOSTILE, suspected_cause=HOSTILE, evidence=(HOSTILE,),
                               next_steps=(HOSTILE,), impact=HOSTILE)
    change = dataclasses.replace(inc.changes[0], description=HOSTILE, diff_url="javascript:alert(1)")
    return dataclasses.replace(inc, signals=sigs, diagnosis=diag, changes=(change,),
                               timeline=inc.timeline + (TimelineEntry(ts=T0 + 900, kind="human", text=HOSTILE),))


def huge_incident() -> Incident:
    inc = checkout_incident()
    line = "ERROR " + "x" * 10_000
    sigs = tuple(Signal(id=f"sig-{i:03d}", kind="log" if i % 2 else "metric", source="files", service=f"svc-{i % 7}",
                        name=f"signal-{i}", summary=f"summary {i} " + "y" * 3000, severity=Severity.ERROR,
                        ts=T0 + i, onset_ts=T0 + i, value=float(i), expected=1.0, lower=0.0, upper=2.0,
                        samples=(line, line)) for i in range(100))
    timeline = tuple(TimelineEntry(ts=T0 + i, kind="correlated", text="z" * 2000) for i in range(100))
    return dataclasses.replace(inc, signals=sigs, timeline=timeline,
                               diagnosis=dataclasses.replace(inc.diagnosis, evidence=tuple("e" * 5000 for _ in range(30))))


def checkout_audit() -> tuple[AuditRecord, ...]:
    inc = "inc-20261128-0115-checkout"
    return (
        AuditRecord(seq=1, ts=T0 + 330, kind="decision", incident_id=inc,
                    data={"verdict": "act", "action": "restart_deployment", "reasons": ["known runbook, safe action"]}),
        AuditRecord(seq=2, ts=T0 + 420, kind="action", incident_id=inc,
                    data={"action": "restart_deployment", "status": "succeeded", "target": "deployment/checkout"}),
        AuditRecord(seq=3, ts=T0 + 780, kind="decision", incident_id=inc,
                    data={"verdict": "escalate", "reasons": ["verify failed after 1 attempt"]}),
        AuditRecord(seq=4, ts=T0 + 790, kind="notification", incident_id=inc,
                    data={"channel": "pagerduty", "kind": "escalated", "ok": True}),
        AuditRecord(seq=5, ts=T0 + 1800, kind="approval", incident_id=inc, actor="chat:dana",
                    data={"action": "rollback_deployment", "approved": True}),
        AuditRecord(seq=6, ts=T0 + 1900, kind="action", incident_id=inc, actor="chat:dana",
                    data={"action": "rollback_deployment", "status": "succeeded", "target": "checkout v2.13.2"}),
    )


@pytest.fixture
def notify_incident() -> Incident:
    return checkout_incident()


def golden_outputs() -> dict[str, str]:
    """File name -> content of every golden file under tests/golden/notify/ (see regen.py there)."""
    import json

    from aisre.notify.postmortem import draft_postmortem
    from aisre.notify.report import render_report
    from aisre.notify.weekly import weekly_report

    chart = "https://charts.example.com/checkout-memory.png"
    inc = checkout_incident()
    out: dict[str, str] = {
        "report.txt": render_report(inc, "text", links=LINKS, chart_url=chart),
        "report.md": render_report(inc, "markdown", links=LINKS, chart_url=chart),
        "report.html": render_report(inc, "html", links=LINKS, chart_url=chart),
        "report_hostile.md": render_report(hostile_incident(), "markdown", links=LINKS),
    }
    for fmt in ("slack", "pagerduty", "jira"):
        out[f"report.{fmt}.json"] = json.dumps(render_report(inc, fmt, links=LINKS, chart_url=chart),
                                               indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    out["report_hostile.slack.json"] = json.dumps(render_report(hostile_incident(), "slack", links=LINKS),
                                                  indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    resolved = checkout_incident(IncidentStatus.RESOLVED)
    out["postmortem.md"] = draft_postmortem(resolved, checkout_audit(), links=LINKS)
    week = [dataclasses.replace(resolved, id=f"inc-day{d}", opened_at=resolved.opened_at + d * 86400,
                                resolved_at=resolved.resolved_at + d * 86400,
                                escalated_at=resolved.escalated_at if d == 0 else None) for d in range(4)]
    out["weekly.md"] = weekly_report(week, checkout_audit(), now=T0 + 5 * 86400).to_markdown()
    return out
