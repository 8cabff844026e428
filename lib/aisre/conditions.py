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


def holds(value: float | None, condition: str) -> bool:
    """True when ``value`` satisfies the condition; a missing or NaN value never satisfies it."""
    _, op, num = parse(condition)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(_OPS[op](value, num))
