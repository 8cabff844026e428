"""aisre.policy - what aisre may do: the action registry, guardrails and the audit log."""
from aisre.policy.actions import ACTIONS, SSM_CATALOGUE, ActionSpec, SafetyAssessment, assess, enforce, safety_of
from aisre.policy.audit import AuditLog, AuditVerification
from aisre.policy.guardrails import Guardrails, is_peak

__all__ = ["ACTIONS", "SSM_CATALOGUE", "ActionSpec", "AuditLog", "AuditVerification", "Guardrails",
           "SafetyAssessment", "assess", "enforce", "is_peak", "safety_of"]
