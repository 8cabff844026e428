"""Atlassian Document Format (Jira Cloud REST v3) rendering of an :class:`IncidentReport`.

Outside text only ever lands in ADF ``text`` nodes, which Jira shows literally: wiki markup
(``{code}``, ``[x|url]``, ``h1.``), HTML and mentions are inert. Links are ``link`` marks made from
:func:`~aisre.notify.escape.safe_url` URLs only. Empty text nodes (which Jira rejects) are never
emitted. Jira caps a rich-text field at 32,767 characters: sections are added in order of importance
until :data:`MAX_DOC_CHARS` of text, then a note says what was left out.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from aisre.notify.escape import clean, safe_url
from aisre.notify.report import IncidentReport

MAX_DOC_CHARS = 30_000

Node = dict[str, Any]


def text(value: str, *, strong: bool = False, code: bool = False, href: str = "") -> Node | None:
    value = clean(value, multiline=True)
    if not value:
        return None
    node: Node = {"type": "text", "text": value}
    marks = []
    if strong:
        marks.append({"type": "strong"})
    if code:
        marks.append({"type": "code"})
    url = safe_url(href)
    if url:
        marks.append({"type": "link", "attrs": {"href": url}})
    if marks:
        node["marks"] = marks
    return node


def paragraph(*parts: Node | None) -> Node:
    content = [p for p in parts if p]
    return {"type": "paragraph", "content": content} if content else {"type": "paragraph"}


def heading(value: str, level: int = 3) -> Node:
    return {"type": "heading", "attrs": {"level": level}, "content": [text(value) or {"type": "text", "text": "-"}]}


def bullets(items: Iterable[Sequence[Node | None]], ordered: bool = False) -> Node:
    return {"type": "orderedList" if ordered else "bulletList",
            "content": [{"type": "listItem", "content": [paragraph(*parts)]} for parts in items]}


def code_block(lines: Iterable[str]) -> Node:
    body = "\n".join(clean(l) for l in lines)
    return {"type": "codeBlock", "content": [{"type": "text", "text": body}] if body else []}


def doc(content: list[Node]) -> Node:
    return {"type": "doc", "version": 1, "content": content or [paragraph()]}


def text_length(node: Any) -> int:
    """Characters of text in an ADF (sub)tree - what Jira counts against a field's limit."""
    if isinstance(node, dict):
        return len(node.get("text", "")) + sum(text_length(c) for c in node.get("content", []))
    if isinstance(node, list):
        return sum(text_length(c) for c in node)
    return 0


def _sections(r: IncidentReport) -> list[tuple[str, list[Node]]]:
    out: list[tuple[str, list[Node]]] = []
    meta = f"Incident {r.incident_id} · severity {r.severity} · status {r.status}"
    if r.environment:
        meta += f" · environment {r.environment}"
    out.append(("summary", [paragraph(text(meta, strong=True)), paragraph(text(r.summary)),
                            heading("Impact"), paragraph(text(r.impact))]))
    if r.metrics:
        out.append(("metrics", [heading("Key metrics"),
                                bullets([(text(m.service + ": ", strong=True), text(m.text)) for m in r.metrics])]))
    if r.diagnosis:
        d = r.diagnosis
        nodes = [heading("Diagnosis"),
                 paragraph(text(f"{d['classification']}, confidence {d['confidence']} ({d['analyst']}): ", strong=True),
                           text(d["summary"]))]
        if d["suspected_cause"]:
            nodes.append(paragraph(text("Suspected cause: ", strong=True), text(d["suspected_cause"])))
        if d["runbook"]:
            nodes.append(paragraph(text("Runbook: "), text(d["runbook"], code=True),
                                   text(" · proposed action: ") if d["proposed_action"] else None,
                                   text(d["proposed_action"], code=True)))
        if r.evidence:
            nodes.append(bullets([(text(e),) for e in r.evidence]))
        out.append(("diagnosis", nodes))
    if r.actions:
        out.append(("actions", [heading("Actions taken"),
                                bullets([(text(a.label, strong=True), text(f" {a.time} {a.text}")) for a in r.actions])]))
    if r.changes:
        out.append(("changes", [heading("Recent changes"), bullets(
            [(text(f"{c.time}: {c.text}"), text(" (diff)", href=c.url) if c.url else None) for c in r.changes])]))
    out.append(("next_steps", [heading("Next steps"), bullets([(text(s),) for s in r.next_steps], ordered=True)]))
    if r.links or r.chart_url:
        links = [(text(l.label, href=l.url),) for l in r.links]
        if r.chart_url:
            links.append((text("metric chart", href=r.chart_url),))
        out.append(("links", [heading("Links"), bullets(links)]))
    if r.factors:
        out.append(("factors", [heading("Correlated factors"),
                                bullets([(text(f"{f.time} "), text(f.label, strong=True), text(f": {f.text}"))
                                         for f in r.factors])]))
    if r.timeline:
        out.append(("timeline", [heading("Timeline (UTC)"),
                                 bullets([(text(t.time + " "), text(t.label, strong=True), text(" " + t.text))
                                          for t in r.timeline])]))
    if r.log_lines:
        out.append(("log_lines", [heading("Top log lines"), code_block(f"{l.label} | {l.text}" for l in r.log_lines)]))
    return out


def report_document(r: IncidentReport, max_chars: int = MAX_DOC_CHARS) -> Node:
    """The report as an ADF ``doc``; whole sections are left out past ``max_chars`` (and named)."""
    content: list[Node] = []
    used = 0
    left_out: list[str] = []
    for name, nodes in _sections(r):
        size = text_length(nodes)
        if used + size > max_chars and content:
            left_out.append(name)
            continue
        content.extend(nodes)
        used += size
    omitted = [f"{n} {k}" for k, n in sorted(r.omitted.items())] + [f"section {s}" for s in left_out]
    if omitted:
        content.append(paragraph(text("Omitted for length: " + ", ".join(omitted) + ".")))
    return doc(content)


def plain_document(value: str) -> Node:
    """A short ADF doc of paragraphs (comments): one paragraph per line of ``value``."""
    lines = [l for l in clean(value, 30_000, multiline=True).splitlines() if l.strip()]
    return doc([paragraph(text(l)) for l in lines])
