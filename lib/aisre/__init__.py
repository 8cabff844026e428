"""aisre: an autonomous SRE agent that runs on StackStorm.

The library holds all the logic (detection, correlation, knowledge, analysis, guardrails,
remediation, notification); the StackStorm pack around it is a thin adapter. Nothing here
imports StackStorm.
"""
from aisre.errors import SreError
from aisre.models import (ActionRequest, ActionResult, Anomaly, Change, Decision, Diagnosis, Incident,
                          Mode, Runbook, Safety, Severity, Signal)

__version__ = "0.1.0"

__all__ = [
    "ActionRequest", "ActionResult", "Anomaly", "Change", "Decision", "Diagnosis", "Incident",
    "Mode", "Runbook", "Safety", "Severity", "Signal", "SreError", "__version__",
]
