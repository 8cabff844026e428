"""Slack Block Kit rendering of an :class:`~aisre.notify.report.IncidentReport`, within Slack's limits.

Limits enforced (https://api.slack.com/reference/block-kit/blocks): at most :data:`MAX_BLOCKS` blocks
per message, :data:`MAX_TEXT` characters per section/context text, :data:`MAX_HEADER` per header,
10 context elements. Long lists are split over several section blocks; anything cut is marked
(``… [truncated]`` in a text, a final context block saying how many blocks were left out).
Every piece of outside text goes through :func:`aisre.notify.escape.mrkdwn`.
"""
from __future__ import annotations

from typing import Any, Iterable

from aisre.notify.escape import TRUNCATION_MARK, code_mrkdwn, mrkdwn, mrkdwn_url, plain_slack, truncate
from aisre.notify.report import IncidentReport

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_HEADER = 150
MAX_FALLBACK = 3000
MAX_CONTEXT_ELEMENTS = 10

_SEVERITY_EMOJI = {"info": ":information_source:", "warning": ":warning:", "error": ":red_circle:",
                   "critical": ":rotating_light:"}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_TEXT)}}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate(t, MAX_TEXT)} for t in texts[:MAX_CONTEXT_ELEMENTS]]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": plain_slack(text, MAX_HEADER), "emoji": True}}


def _chunked(heading: str, lines: Iterable[str], *, code: bool = False) -> list[dict[str, Any]]:
    """``heading`` then ``lines`` packed into as few section blocks as fit :data:`MAX_TEXT`."""
    fence = "```" if code else ""
    head = f"*{heading}*\n"
    budget = MAX_TEXT - len(head) - 2 * len(fence) - 2
    blocks: list[dict[str, Any]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = truncate(line, budget)
        if current and size + len(line) + 1 > budget:
            blocks.append(section(head + fence + "\n".join(current) + fence))
            head = ""
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(section(head + fence + "\n".join(current) + fence))
    return blocks


def enforce_limits(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most :data:`MAX_BLOCKS` blocks; the last one says how many were left out."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return kept + [context(f"{TRUNCATION_MARK}: {len(blocks) - len(kept)} more block(s) left out; "
                           "see the full report in the ticket.")]


def _link(url: str, text: str) -> str:
    return f"<{mrkdwn_url(url)}|{mrkdwn(text)}>"


def report_blocks(r: IncidentReport) -> list[dict[str, Any]]:
    """The full report as Block Kit blocks."""
    emoji = _SEVERITY_EMOJI.get(r.severity, "")
    blocks: list[dict[str, Any]] = [header(f"{r.title}")]
    ctx = [f"{emoji} *{r.severity}* · status *{r.status}*", f"incident `{code_mrkdwn(r.incident_id)}`"]
    if r.environment:
        ctx.append(f"env *{mrkdwn(r.environment)}*")
    if r.opened:
        ctx.append(f"opened {r.opened} UTC")
    blocks.append(context(*ctx))
    blocks.append(section(f"*Summary*\n{mrkdwn(r.summary)}"))
    blocks.append(section(f"*Impact*\n{mrkdwn(r.impact)}"))
    if r.metrics:
        blocks += _chunked("Key metrics", (f"• {mrkdwn(m.service)}: {mrkdwn(m.text)}" for m in r.metrics))
    if r.chart_url:
        blocks.append({"type": "image", "image_url": r.chart_url, "alt_text": truncate(f"chart of {r.service}", 2000)})
    if r.diagnosis:
        d = r.diagnosis
        lines = [f"*Diagnosis* ({d['classification']}, confidence {d['confidence']}, {mrkdwn(d['analyst'])})",
                 mrkdwn(d["summary"])]
        if d["suspected_cause"]:
            lines.append(f"Suspected cause: {mrkdwn(d['suspected_cause'])}")
        if d["runbook"]:
            action = f" · proposed action `{code_mrkdwn(d['proposed_action'])}`" if d["proposed_action"] else ""
            lines.append(f"Runbook `{code_mrkdwn(d['runbook'])}`{action}")
        blocks.append(section("\n".join(lines)))
        if r.evidence:
            blocks += _chunked("Evidence", (f"• {mrkdwn(e)}" for e in r.evidence))
    if r.actions:
        blocks += _chunked("Actions taken", (f"• *{a.label}* {a.time} {mrkdwn(a.text)}" for a in r.actions))
    if r.changes:
        blocks += _chunked("Recent changes", (
            f"• {c.time} {mrkdwn(c.text)}" + (f" ({_link(c.url, 'diff')})" if c.url else "") for c in r.changes))
    if r.factors:
        blocks += _chunked("Correlated factors", (f"• {f.time} {mrkdwn(f.label)}: {mrkdwn(f.text)}" for f in r.factors))
    if r.timeline:
        blocks += _chunked("Timeline (UTC)", (f"`{t.time}` *{mrkdwn(t.label)}* {mrkdwn(t.text)}" for t in r.timeline))
    if r.log_lines:
        blocks += _chunked("Top log lines", (f"{code_mrkdwn(l.label)} | {code_mrkdwn(l.text)}" for l in r.log_lines),
                           code=True)
    blocks += _chunked("Next steps", (f"{i}. {mrkdwn(s)}" for i, s in enumerate(r.next_steps, 1)))
    if r.links:
        blocks.append(section("*Links*\n" + " · ".join(_link(l.url, l.label) for l in r.links)))
    if r.omitted:
        blocks.append(context("Omitted for length: " + ", ".join(f"{n} {k}" for k, n in sorted(r.omitted.items()))))
    return enforce_limits(blocks)


def fallback_text(r: IncidentReport) -> str:
    """The ``text`` argument of chat.postMessage: notifications and screen readers show it."""
    return truncate(f"{mrkdwn(r.title)}: {mrkdwn(r.summary)}", MAX_FALLBACK)
