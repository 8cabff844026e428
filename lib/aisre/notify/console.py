"""Plain-text notifier for the command line and drills: writes to a stream, never raises."""
from __future__ import annotations

import sys
from typing import TextIO

from aisre.models import Incident, Notification, Receipt
from aisre.notify.escape import clean
from aisre.notify.report import render_report

#: Kinds that print the whole report, not just the notice.
FULL_REPORT_KINDS = frozenset({"opened", "escalated", "resolved"})


class ConsoleNotifier:
    """Writes ``[kind] title`` and the text (plus the full text report for opened/escalated/resolved).

    ``stream`` defaults to ``sys.stdout`` looked up at send time (so pytest's capture works).
    A closed or broken stream comes back as ``Receipt(ok=False)``.
    """

    channel = "console"

    def __init__(self, stream: TextIO | None = None, *, environment: str = "", full_report: bool = True) -> None:
        self.stream = stream
        self.environment = environment
        self.full_report = full_report

    def format(self, notification: Notification, incident: Incident | None = None) -> str:
        lines = [f"[{clean(notification.kind, 20)}] {notification.severity.value.upper()} "
                 f"{clean(notification.title, 300)}"]
        if notification.text:
            lines += ["  " + line for line in clean(notification.text, 4000, multiline=True).splitlines()]
        for name, url in sorted(notification.links.items()):
            lines.append(f"  {clean(name, 40)}: {clean(url, 500)}")
        for path in notification.attachments:
            lines.append(f"  attachment: {clean(path, 500)}")
        if incident is not None and self.full_report and notification.kind in FULL_REPORT_KINDS:
            report = render_report(incident, "text", environment=self.environment, links=notification.links)
            lines += ["", str(report).rstrip("\n")]
        return "\n".join(lines) + "\n"

    def send(self, notification: Notification, incident: Incident | None = None) -> Receipt:
        stream = self.stream if self.stream is not None else sys.stdout
        try:
            text = self.format(notification, incident)
            stream.write(text)
            stream.flush()
        except (OSError, ValueError) as exc:  # closed or broken stream
            return Receipt(channel=self.channel, ok=False, detail=f"console write failed: {exc}")
        return Receipt(channel=self.channel, ok=True, ref=notification.incident_id,
                       detail=f"{len(text)} chars")
