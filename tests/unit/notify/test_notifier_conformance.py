"""Every notifier is registered, satisfies the Notifier protocol and turns an unreachable backend into a receipt."""
from __future__ import annotations

import importlib
import io
import pathlib

import httpx2
import pytest

from aisre.models import Notification, Receipt, Severity
from aisre.notify.base import Notifier
from aisre.notify.dispatch import NOTIFIERS
from plugins.notify_samples import checkout_incident

NOTIFY_DIR = pathlib.Path(importlib.import_module("aisre.notify").__file__).parent


def _refused(request):
    raise httpx2.ConnectError("connection refused")


UNREACHABLE = {
    "console": lambda cls: cls(_Closed()),
    "slack": lambda cls: cls("xoxb-x", "#incidents", base_url="http://127.0.0.1:9/api/", timeout_s=2),
    "pagerduty": lambda cls: cls("rk", transport=httpx2.MockTransport(_refused), sleep_timer_s=0),
    "jira": lambda cls: cls("http://127.0.0.1:9", "u", "t", timeout_s=2),
    "email": lambda cls: cls("127.0.0.1", ["a@example.com"], smtp_port=9, starttls=False, timeout_s=2),
    "webhook": lambda cls: cls("http://127.0.0.1:9/hook", timeout_s=2),
}


class _Closed(io.StringIO):
    def write(self, s):
        raise OSError("stream closed")


def _load(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def test_every_notifier_module_is_registered():
    defining = set()
    for py in NOTIFY_DIR.glob("*.py"):
        text = py.read_text(encoding="utf-8")
        if "def send(self, notification" in text and py.name != "base.py":
            defining.add(f"aisre.notify.{py.stem}")
    assert defining == {p.split(":")[0] for p in NOTIFIERS.values()}
    assert set(UNREACHABLE) == set(NOTIFIERS)


@pytest.mark.parametrize("channel", sorted(NOTIFIERS))
def test_unreachable_backend_is_a_failed_receipt(channel):
    notifier = UNREACHABLE[channel](_load(NOTIFIERS[channel]))
    assert isinstance(notifier, Notifier) and notifier.channel == channel
    inc = checkout_incident()
    n = Notification(incident_id=inc.id, kind="escalated", title="t", text="x", severity=Severity.CRITICAL,
                     fingerprint=inc.fingerprint)
    receipt = notifier.send(n, inc)
    assert isinstance(receipt, Receipt) and receipt.channel == channel and not receipt.ok and receipt.detail
