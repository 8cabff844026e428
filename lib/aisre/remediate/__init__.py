"""aisre.remediate - executors (plan -> precheck -> execute -> verify) and the one entry point, run_action.

Executors are imported lazily by :func:`build_executors` (each pulls its vendor client only when used).
"""
from aisre.remediate.base import Executor, Plan
from aisre.remediate.registry import EXECUTORS, build_executors, run_action

__all__ = ["EXECUTORS", "Executor", "Plan", "build_executors", "run_action"]
