"""The analyst contract: an incident plus retrieved runbooks in, a validated :class:`Diagnosis` out."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Protocol, runtime_checkable

from aisre.models import Diagnosis, Incident, Retrieval, Runbook

if TYPE_CHECKING:
    from aisre.analysis.context import IncidentContext


@runtime_checkable
class Analyst(Protocol):
    """``diagnose`` never raises for bad model output or provider trouble: it falls back.

    Guarantees on the result: ``runbook_id`` is None or one of the retrieved runbooks present in
    ``runbooks``; ``proposed_action`` is None or one of that runbook's actions.
    """
    name: str

    def diagnose(self, incident: Incident, retrieval: Retrieval, runbooks: Mapping[str, Runbook], *,
                 context: "IncidentContext | None" = None) -> Diagnosis: ...
