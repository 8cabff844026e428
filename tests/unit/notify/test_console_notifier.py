"""ConsoleNotifier writes the notice (and the full report for key kinds) and never raises."""
from __future__ import annotations

import io

from aisre.models import Notification, Severity
from aisre.notify.console import ConsoleNotifier
from plugins.notify_samples import checkout_incident, hostile_incident


def _n(kind: str, **kw) -> Notification:
    return Notification(incident_id="inc-1", kind=kind, title=kw.pop("title", "checkout memory"),
                        text=kw.pop("text", "restarting"), severity=Severity.ERROR, **kw)


def test_acting_notice_is_short():
    buf = io.StringIO()
    r = ConsoleNotifier(buf).send(_n("acting"), checkout_incident())
    assert r.ok and r.channel == "console"
    assert buf.getvalue() == "[acting] ERROR checkout memory\n  restarting\n"


def test_escalation_prints_full_report_and_links():
    buf = io.StringIO()
    ConsoleNotifier(buf).send(_n("escalated", links={"dashboard": "https://d.example"}), checkout_incident())
    out = buf.getvalue()
    assert "dashboard: https://d.example" in out and "TIMELINE (UTC)" in out and "NEXT STEPS" in out


def test_hostile_terminal_escapes_are_stripped():
    buf = io.StringIO()
    ConsoleNotifier(buf).send(_n("escalated", title="\x1b[2J\x1b]0;pwned\x07title", text="a\x1b[31mb"),
                              hostile_incident())
    assert "\x1b" not in buf.getvalue() and "\x07" not in buf.getvalue()


def test_closed_stream_is_a_failed_receipt():
    buf = io.StringIO()
    buf.close()
    r = ConsoleNotifier(buf).send(_n("opened"))
    assert not r.ok and "console write failed" in r.detail
