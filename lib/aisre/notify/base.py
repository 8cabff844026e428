"""Notifier contract: ``send(Notification) -> Receipt``. Notifiers never raise into the agent loop:
a vendor failure comes back as ``Receipt(ok=False, detail=...)`` and is audited."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from aisre.models import Incident, Notification, Receipt


@runtime_checkable
class Notifier(Protocol):
    channel: str

    def send(self, notification: Notification, incident: Incident | None = None) -> Receipt: ...
