"""The incident report: one typed view of an :class:`~aisre.models.Incident`, rendered per channel.

:func:`build_report` turns an incident into a frozen :class:`IncidentReport` (plain, cleaned text;
every list capped so a huge incident stays readable). :func:`render_report` renders that view as

========== ============================================================== ==================
fmt        result                                                         escaping
========== ============================================================== ==================
text       console text (``str``)                                         ANSI/control stripped
markdown   GitHub-flavoured Markdown (``str``)                            HTML + markup escaped
html       an HTML fragment (``str``)                                     HTML escaped
slack      Block Kit blocks (``list[dict]``), within Slack's limits       mrkdwn ``& < >``
pagerduty  Events API v2 ``custom_details`` (``dict``)                    plain JSON strings
jira       an Atlassian Document Format document (``dict``)               ADF text nodes
========== ============================================================== ==================

Untrusted text (signal summaries, log lines, change descriptions, LLM prose) is cleaned here and
escaped by each renderer; nothing outside text contributes markup.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from typing import Any, Mapping

from aisre.errors import ValidationError
from aisre.models import Incident, Signal
from aisre.notify.escape import clean, safe_url

#: Caps that keep a report readable whatever the incident holds.
MAX_TIMELINE = 40
MAX_FACTORS = 15
MAX_CHANGES = 10
MAX_ACTIONS = 10
MAX_EVIDENCE = 10
MAX_LOG_LINES = 10
MAX_LOG_LINE_CHARS = 500
MAX_METRICS = 10
MAX_FIELD_CHARS = 1000

FORMATS = ("text", "markdown", "html", "slack", "pagerduty", "jira")
_TEMPLATES = {"text": "report.txt.j2", "markdown": "report.md.j2", "html": "report.html.j2"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricLine:
    service: str
    name: str
    value: float
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    exhaustion_ts: float | None = None

    @property
    def value_text(self) -> str:
        return _num(self.value)

    @property
    def expected_text(self) -> str:
        return _num(self.expected)

    @property
    def band_text(self) -> str:
        if self.lower is None or self.upper is None:
            return "n/a"
        return f"{_num(self.lower)}–{_num(self.upper)}"

    @property
    def text(self) -> str:
        """``memory_pct = 97.2 (expected 61.0, band 55.0–67.0)``."""
        out = f"{self.name} = {_num(self.value)}"
        extra = []
        if self.expected is not None:
            extra.append(f"expected {_num(self.expected)}")
        if self.lower is not None and self.upper is not None:
            extra.append(f"band {_num(self.lower)}–{_num(self.upper)}")
        if self.exhaustion_ts is not None:
            extra.append(f"exhausted by {_hm(self.exhaustion_ts)} UTC")
        return out + (f" ({', '.join(extra)})" if extra else "")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Row:
    """A generic line of the report: a time (may be ''), a label and text, with an optional URL."""
    time: str
    label: str
    text: str
    url: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class IncidentReport:
    """Everything a report shows, already cleaned and capped. ``omitted`` counts what the caps cut."""
    incident_id: str
    fingerprint: str
    service: str
    environment: str
    severity: str
    status: str
    title: str
    summary: str
    impact: str
    opened: str
    resolved: str
    timeline: tuple[Row, ...]
    factors: tuple[Row, ...]
    changes: tuple[Row, ...]
    actions: tuple[Row, ...]
    diagnosis: Mapping[str, Any]
    evidence: tuple[str, ...]
    next_steps: tuple[str, ...]
    links: tuple[Row, ...]
    log_lines: tuple[Row, ...]
    metrics: tuple[MetricLine, ...]
    chart_url: str = ""
    omitted: Mapping[str, int] = dataclasses.field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:,.1f}" if abs(x) >= 1 or x == 0 else f"{x:.3g}"


def _hm(ts: float | None) -> str:
    if ts is None:
        return ""
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).strftime("%H:%M")


def _time(ts: float | None) -> str:
    if ts is None:
        return ""
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _cap(items: list[Any], limit: int, key: str, omitted: dict[str, int]) -> tuple[Any, ...]:
    if len(items) > limit:
        omitted[key] = len(items) - limit
    return tuple(items[:limit])


def primary_signal(incident: Incident) -> Signal | None:
    """The signal that best describes the incident: on its service, most severe, earliest onset."""
    if not incident.signals:
        return None
    own = [s for s in incident.signals if s.service == incident.service] or list(incident.signals)
    return min(own, key=lambda s: (-s.severity.rank, s.onset_ts if s.onset_ts is not None else s.ts, s.id))


def _symptom(sig: Signal) -> str:
    name = clean(sig.name, 120)
    if sig.kind == "metric" and sig.value is not None:
        direction = "high" if sig.expected is None or sig.value >= sig.expected else "low"
        if sig.anomaly_class is not None and sig.anomaly_class.value == "trend":
            return f"a rising {name} trend ({_num(sig.value)} now)"
        exp = f", expected {_num(sig.expected)}" if sig.expected is not None else ""
        return f"abnormally {direction} {name} ({_num(sig.value)}{exp})"
    if sig.kind == "log":
        return f"errors in its logs ({name})"
    if sig.kind == "synthetic":
        return f"failing synthetic check {name}"
    return f"{name}"


def _since(incident: Incident) -> float:
    starts = [s.onset_ts if s.onset_ts is not None else s.ts for s in incident.signals if (s.onset_ts or s.ts)]
    return min(starts) if starts else incident.opened_at


def summary_line(incident: Incident) -> str:
    """``Service checkout is experiencing abnormally high memory_pct (97.2, expected 61.0) since 01:15 UTC.``"""
    sig = primary_signal(incident)
    what = _symptom(sig) if sig is not None else "an incident"
    since = _since(incident)
    when = f" since {_hm(since)} UTC" if since else ""
    service = clean(incident.service, 80)
    if incident.status.value == "resolved":
        return f"Service {service} experienced {what}{when}; resolved at {_hm(incident.resolved_at)} UTC."
    return f"Service {service} is experiencing {what}{when}."


def _impact(incident: Incident) -> str:
    if incident.diagnosis is not None and incident.diagnosis.impact:
        return clean(incident.diagnosis.impact, MAX_FIELD_CHARS)
    services = sorted({incident.service, *incident.services, *(s.service for s in incident.signals)} - {""})
    kinds = sorted({s.kind for s in incident.signals})
    user_facing = any(s.kind == "synthetic" for s in incident.signals)
    parts = [f"{len(incident.signals)} signal(s) ({', '.join(kinds) or 'none'}) on {', '.join(services)}"]
    if user_facing:
        parts.append("a user-facing synthetic check is failing")
    return clean("; ".join(parts) + ".", MAX_FIELD_CHARS)


def _default_next_steps(incident: Incident) -> tuple[str, ...]:
    status = incident.status.value
    if status == "resolved":
        return ("Confirm the service stays healthy for the next hour.", "Review the postmortem draft.")
    steps = []
    if incident.changes:
        steps.append("Check whether the most recent change caused this; roll it back if so.")
    steps.append("Look at the dashboard and the log search linked below.")
    if status == "awaiting_approval":
        steps.insert(0, "Approve or deny the proposed action.")
    if incident.actions and not any(a.ok for a in incident.actions):
        steps.append("The automatic actions failed: act by hand or escalate to the owning team.")
    return tuple(steps)


def build_report(incident: Incident, *, environment: str = "", links: Mapping[str, str] | None = None,
                 chart_url: str | None = None) -> IncidentReport:
    """The cleaned, capped view of ``incident`` that every renderer shows."""
    if not isinstance(incident, Incident):
        raise ValidationError("render_report needs an Incident", what=type(incident).__name__)
    omitted: dict[str, int] = {}
    sig = primary_signal(incident)

    entries = sorted(incident.timeline, key=lambda e: e.ts)
    if len(entries) > MAX_TIMELINE:  # keep how it started and how it is going
        omitted["timeline"] = len(entries) - MAX_TIMELINE
        head = MAX_TIMELINE // 4
        entries = entries[:head] + entries[len(entries) - (MAX_TIMELINE - head):]
    timeline = [Row(time=_time(e.ts), label=clean(e.kind, 30), text=clean(e.text, 300)) for e in entries]
    others = [s for s in incident.signals if s is not sig]
    if len(others) > MAX_FACTORS:  # the most severe, then the earliest
        omitted["factors"] = len(others) - MAX_FACTORS
        others = sorted(others, key=lambda s: (-s.severity.rank, s.onset_ts or s.ts, s.id))[:MAX_FACTORS]
    factors = [Row(time=_time(s.onset_ts if s.onset_ts is not None else s.ts),
                   label=f"{clean(s.service, 80)} · {clean(s.kind, 20)} · {s.severity.value}",
                   text=clean(s.summary or s.name, 300))
               for s in sorted(others, key=lambda s: (s.onset_ts or s.ts, s.id))]
    changes = []
    for c in sorted(incident.changes, key=lambda c: c.ts, reverse=True):
        version = f"{c.previous_version} → {c.version}" if c.previous_version and c.version else c.version
        bits = [f"{c.kind} of {c.service}", version, f"by {c.author}" if c.author else "", c.description]
        changes.append(Row(time=_time(c.ts), label=clean(c.source or c.kind, 30),
                           text=clean(" · ".join(b for b in bits if b), 400), url=safe_url(c.diff_url)))
    actions = []
    for a in incident.actions:
        verify = ""
        if a.verify is not None:
            verify = f" · verify {'ok' if a.verify.ok else 'FAILED'}: {a.verify.detail}"
        detail = a.detail or a.error
        actions.append(Row(time=_time(a.started_at or None), label=a.status.value,
                           text=clean(f"{a.action} on {a.target or a.service}"
                                      f"{' · ' + detail if detail else ''}{verify}", 400)))
    diagnosis: dict[str, Any] = {}
    evidence: list[str] = []
    next_steps: tuple[str, ...]
    d = incident.diagnosis
    if d is not None:
        diagnosis = {
            "classification": d.classification.value,
            "summary": clean(d.summary, MAX_FIELD_CHARS),
            "suspected_cause": clean(d.suspected_cause, MAX_FIELD_CHARS),
            "confidence": f"{max(0.0, min(1.0, d.confidence)) * 100:.0f}%",
            "runbook": clean(d.runbook_id or "", 120),
            "proposed_action": clean(d.proposed_action or "", 120),
            "analyst": clean(d.analyst, 80),
        }
        evidence = [clean(e, 300) for e in d.evidence]
        next_steps = tuple(clean(s, 300) for s in d.next_steps[:10]) or _default_next_steps(incident)
    else:
        next_steps = _default_next_steps(incident)
    link_rows = []
    for name, url in sorted((links or {}).items()):
        u = safe_url(url)
        if u:
            link_rows.append(Row(time="", label=clean(name, 40), text=clean(name, 40), url=u))
    raw_logs = [(s.service, line) for s in incident.signals for line in s.samples]
    if len(raw_logs) > MAX_LOG_LINES:
        omitted["log_lines"] = len(raw_logs) - MAX_LOG_LINES
    logs = [Row(time="", label=clean(svc, 80), text=clean(line, MAX_LOG_LINE_CHARS))
            for svc, line in raw_logs[:MAX_LOG_LINES]]
    metrics = [MetricLine(service=clean(s.service, 80), name=clean(s.name, 120), value=s.value,
                          expected=s.expected, lower=s.lower, upper=s.upper, exhaustion_ts=s.exhaustion_ts)
               for s in incident.signals if s.value is not None and math.isfinite(s.value)]
    env = clean(environment or incident.environment, 40)
    severity = incident.severity.value
    title = clean(f"[{severity.upper()}] {incident.service}: "
                  f"{(d.summary if d is not None and d.summary else _symptom(sig) if sig else 'incident')}", 150)
    return IncidentReport(
        incident_id=clean(incident.id, 80), fingerprint=clean(incident.fingerprint, 80),
        service=clean(incident.service, 80), environment=env, severity=severity,
        status=incident.status.value, title=title, summary=summary_line(incident), impact=_impact(incident),
        opened=_time(incident.opened_at or None), resolved=_time(incident.resolved_at),
        timeline=tuple(timeline), factors=tuple(factors),
        changes=_cap(changes, MAX_CHANGES, "changes", omitted),
        actions=_cap(actions, MAX_ACTIONS, "actions", omitted),
        diagnosis=diagnosis, evidence=_cap(evidence, MAX_EVIDENCE, "evidence", omitted),
        next_steps=next_steps, links=tuple(link_rows),
        log_lines=tuple(logs),
        metrics=_cap(metrics, MAX_METRICS, "metrics", omitted),
        chart_url=safe_url(chart_url), omitted=omitted,
    )


def render_report(incident: Incident, fmt: str, *, environment: str = "", links: Mapping[str, str] | None = None,
                  chart_url: str | None = None) -> str | list[dict[str, Any]] | dict[str, Any]:
    """Render the incident report for one channel.

    Parameters
    ----------
    incident : the incident (its timeline, signals, changes, actions and diagnosis are shown).
    fmt : one of :data:`FORMATS`.
    environment : shown in the header; defaults to ``incident.environment``.
    links : name -> URL (dashboard, logs, runbook, ...); non-http(s) URLs are dropped.
    chart_url : a public URL of the metric chart (PNG), shown as an image where the format allows.

    Returns ``str`` for text/markdown/html, a list of Block Kit blocks for slack, a dict for
    pagerduty (custom_details) and jira (ADF document). Raises :class:`ValidationError` for an
    unknown ``fmt`` or a non-Incident.
    """
    if fmt not in FORMATS:
        raise ValidationError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}", what="fmt")
    report = build_report(incident, environment=environment, links=links, chart_url=chart_url)
    if fmt in ("text", "markdown", "html"):
        from aisre.notify.templating import render_template
        return render_template(_TEMPLATES[fmt], r=report)
    if fmt == "slack":
        from aisre.notify.blocks import report_blocks
        return report_blocks(report)
    if fmt == "pagerduty":
        from aisre.notify.pd_details import custom_details
        return custom_details(report)
    from aisre.notify.adf import report_document
    return report_document(report)


__all__ = ["IncidentReport", "MetricLine", "Row", "build_report", "render_report", "summary_line",
           "primary_signal", "FORMATS"]
