"""Detector contract (after river): ``learn_one`` / ``score_one``.

* ``score_one(value, ts)`` returns a float >= 0, higher = more anomalous, and never mutates state.
* ``learn_one(value, ts)`` updates state and returns None.
* During warm-up ``score_one`` returns 0.0.
* ``to_state()`` / ``from_state()`` round-trip through JSON, so detector state survives a sensor restart.
* Every constructor argument is stored under the same attribute name (``params()`` rebuilds it).
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Detector(Protocol):
    name: str

    def learn_one(self, value: float, ts: float | None = None) -> None: ...

    def score_one(self, value: float, ts: float | None = None) -> float: ...

    def to_state(self) -> dict[str, Any]: ...
