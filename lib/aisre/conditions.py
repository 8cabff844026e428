"""Tiny, safe condition language used by runbook preconditions and verify checks.

``"memory_pct > 80"`` (with a metric) or ``"< 70"`` (metric given separately). Only the six comparison
operators and a number; anything else is a :class:`aisre.errors.ValidationError` — never ``eval``.
"""
from __future__ import annotations

import math
import operator
import re

from aisre.errors import ValidationError

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
_RX = re.compile(r"^\s*(?:(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)\s*)?(?P<op><=|>=|==|!=|<|>)\s*(?P<num>-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*(?P<unit>%|s|ms)?\s*$")


def parse(condition: str) -> tuple[str | None, str, float]:
    """``'memory_pct > 80'`` -> ``('memory_pct', '>', 80.0)``."""
    m = _RX.match(condition or "")
    if not m:
        raise ValidationError(f"not a condition: {condition!r} (expected e.g. 'memory_pct > 80' or '< 0.01')",
                              what="condition")
    return m.group("metric"), m.group("op"), float(m.group("num"))


def holds(value: float | None, condition: str, *, capacity: float | None = None) -> bool:
    """True when ``value`` satisfies the condition; a missing or NaN value never satisfies it.

    A ``%`` threshold on a metric with a known ``capacity`` (``thread_pool_active >= 95%`` with a pool
    of 200) compares ``value`` as a percentage of that capacity; without a capacity the number is
    compared as it is (``memory_pct > 80%`` is already a percentage).
    """
    _, op, num = parse(condition)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    m = _RX.match(condition)
    if m and m.group("unit") == "%" and capacity is not None and math.isfinite(capacity) and capacity > 0:
        value = value * 100.0 / capacity
    return bool(_OPS[op](value, num))


# --------------------------------------------------------------------------- runbook condition forms
#
# Runbook action preconditions come in four forms. Only ``metric`` is checked on live values right
# before acting (:func:`aisre.steps.preconditions_hold`); the other three are judged on the incident's
# evidence by the analyst (:func:`aisre.analysis.evidence.evaluate_precondition`), which uses the same
# grammar. Verify checks must be ``metric`` conditions (a number to reach within a deadline).

_RELATIVE = re.compile(r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op><=|>=|<|>)\s*(?P<num>\d+(?:\.\d+)?)\s*x\s*"
                       r"(?:usual|baseline|expected|normal)\s*$", re.IGNORECASE)
_CHANGE = re.compile(r"^\s*(?:deploy|rollout|release|config(?: change)?|flag(?: change)?|feature[ _]flag(?: change)?|"
                     r"change)\s+within\s+\d+(?:\.\d+)?\s*(?:m|min|minutes|h|hours?)\s*$", re.IGNORECASE)
_SIGNATURE = re.compile(r"^\s*signature\s*(?:==|:|=)?\s*(?P<sig>[\w.:-]+)\s*$", re.IGNORECASE)

#: the forms :func:`form` recognises
FORMS = ("metric", "relative", "change", "signature")


def form(condition: str) -> str:
    """Which runbook condition form ``condition`` is: ``metric`` (``memory_pct > 80``, ``>= 95%``),
    ``relative`` (``job_runtime_s > 3x usual``: against the detector's expected value), ``change``
    (``deploy within 60m``) or ``signature`` (``signature NodeNotReady``).

    Anything else raises :class:`ValidationError`, so a runbook cannot carry a condition nobody checks.
    """
    text = condition if isinstance(condition, str) else ""
    if _RX.match(text):
        return "metric"
    if _RELATIVE.match(text):
        return "relative"
    if _CHANGE.match(text):
        return "change"
    if _SIGNATURE.match(text):
        return "signature"
    raise ValidationError(f"not a runbook condition: {condition!r} (expected 'metric > N', 'metric > 3x usual', "
                          "'deploy within 60m' or 'signature NAME')", what="condition")
