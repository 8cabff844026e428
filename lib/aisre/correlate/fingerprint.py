"""Fingerprints: stable hashes over declared fields, never over free or LLM text.

A *signal fingerprint* identifies "the same observation again" (service, kind, name and the
environment). An *incident fingerprint* identifies "the same problem" (the root service of the
group and the environment); the store keeps one open incident per incident fingerprint.
Summaries, samples, values and anything a model wrote are deliberately left out, so a
re-worded alert or a changed number never opens a second incident.
"""
from __future__ import annotations

from aisre.models import Signal, stable_hash

#: The Signal fields a fingerprint is made from (documented so reviews can check it).
SIGNAL_FINGERPRINT_FIELDS = ("service", "kind", "name")


def fingerprint(signal: Signal, environment: str = "") -> str:
    """Fingerprint of one signal: ``stable_hash`` over environment + service, kind, name."""
    return stable_hash("signal", environment, *signal.fingerprint_fields())


def incident_fingerprint(root_service: str, environment: str = "") -> str:
    """Fingerprint of the incident grouped under ``root_service``."""
    return stable_hash("incident", environment, root_service)
