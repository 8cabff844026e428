"""E-mail notifier (smtplib): part of the independent fallback route. Never raises.

Subject and addresses are single-line and cleaned (no header injection); the body carries the
text report and an HTML alternative.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Sequence

from aisre.models import Incident, Notification, Receipt
from aisre.notify.escape import clean, truncate
from aisre.notify.report import render_report

log = logging.getLogger(__name__)


class EmailNotifier:
    channel = "email"

    def __init__(self, smtp_host: str, to: Sequence[str], *, smtp_port: int = 587, username: str | None = None,
                 password: str | None = None, sender: str = "aisre@localhost", starttls: bool | None = None,
                 timeout_s: float = 10.0, environment: str = "", kinds: Sequence[str] | None = None) -> None:
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.to = tuple(clean(t, 254) for t in to if t)
        self.username = username
        self._password = password
        self.sender = clean(sender, 254)
        self.starttls = (smtp_port == 587) if starttls is None else starttls
        self.timeout_s = timeout_s
        self.environment = environment
        self.kinds = frozenset(kinds) if kinds is not None else None

    def message(self, notification: Notification, incident: Incident | None = None) -> EmailMessage:
        msg = EmailMessage()
        env = f"[{clean(self.environment, 20)}] " if self.environment else ""
        msg["Subject"] = clean(f"[aisre] {env}[{notification.severity.value}] {notification.kind}: "
                               f"{notification.title}", 200)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain="aisre")
        body = clean(f"{notification.title}\n\n{notification.text}", 20_000, multiline=True)
        if incident is not None:
            body += "\n\n" + str(render_report(incident, "text", environment=self.environment, links=notification.links))
        msg.set_content(body)
        if incident is not None:
            msg.add_alternative(str(render_report(incident, "html", environment=self.environment,
                                                  links=notification.links)), subtype="html")
        return msg

    def send(self, notification: Notification, incident: Incident | None = None) -> Receipt:
        if self.kinds is not None and notification.kind not in self.kinds:
            return Receipt(channel=self.channel, ok=True, detail=f"not sent: {notification.kind}")
        if not self.to:
            return Receipt(channel=self.channel, ok=False, detail="no recipients configured")
        try:
            msg = self.message(notification, incident)
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and self._password:
                    smtp.login(self.username, self._password)
                refused = smtp.send_message(msg)
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            detail = f"email failed: {type(exc).__name__}: {exc}"
            if self._password:
                detail = detail.replace(self._password, "***")
            log.warning("%s", detail)
            return Receipt(channel=self.channel, ok=False, detail=truncate(detail, 500))
        delivered = len(self.to) - len(refused)
        return Receipt(channel=self.channel, ok=delivered > 0, ref=str(msg["Message-ID"]),
                       detail=f"{delivered}/{len(self.to)} recipients accepted")
